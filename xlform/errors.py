"""Exceptions whose message is meant for the person at the keyboard (in Chinese)."""


class UserError(Exception):
    """A problem with what the user asked for or handed in; the CLI prints it and exits 2."""
