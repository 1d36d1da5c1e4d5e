"""Exceptions whose message is meant for the person at the keyboard (in Chinese)."""


class UserError(Exception):
    """A problem with what the user asked for or handed in; the CLI prints it and exits 2."""


class TemplateError(Exception):
    """A template that cannot be used; the message (one line per problem) is for the person who edited it."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)
