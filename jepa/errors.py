"""The one exception type for bad user input (paths, config values): the CLI prints its message, no traceback."""


class InputError(ValueError):
    """Bad input from the user: a missing path, an empty dataset, an unknown name or an invalid value."""
