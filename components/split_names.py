"""The splits MovieLensExampleGen writes: their names, and how much of the
data a carved split may take. Light (no TensorFlow), so the CLI and the
pipeline's settings check against the same bound the component does."""

TRAIN_SPLIT = 'train'
# Carved out of train by a second hash: the Trainer validates on it.
VALIDATION_SPLIT = 'validation'
EVAL_SPLIT = 'eval'  # the Evaluator's
# Every rating of the newest users by sign-up (components/new_users.py),
# taken out of the other splits: the Evaluator serves them as new users.
NEW_USERS_SPLIT = 'new_users'

DEFAULT_VALIDATION_PERCENT = 10  # of the train split
# The most of train carved for validation, and of the users set apart as
# new users: either split beyond half would leave too little to train on.
MAX_CARVED_PERCENT = 50


def check_percent(name: str, percent: int, minimum: int = 0) -> None:
  """Refuses a carved split's percent outside minimum..MAX_CARVED_PERCENT
  (0 carves nothing)."""
  if not minimum <= percent <= MAX_CARVED_PERCENT:
    raise ValueError(f'{name} must be between {minimum} and '
                     f'{MAX_CARVED_PERCENT}, not {percent}')
