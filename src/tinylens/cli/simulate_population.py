"""Placeholder: the `simulate_population` command is being written."""


def register(app) -> None:
    """Registers nothing yet."""
