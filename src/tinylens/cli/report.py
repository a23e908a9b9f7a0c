"""Placeholder: the `report` command is being written."""


def register(app) -> None:
    """Registers nothing yet."""
