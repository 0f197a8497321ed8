"""User code run by the Transform and Trainer components (the "module file")."""
