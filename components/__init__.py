"""Custom TFX components of the MovieLens ranking pipeline."""
