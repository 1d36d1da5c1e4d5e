"""Exceptions whose message is meant for the person at the keyboard (in Chinese)."""


class UserError(Exception):
    """A problem with what the user asked for or handed in; the CLI prints it and exits 2."""


class TemplateError(Exception):
    """A template that cannot be used; the message (one line per problem) is for the person who edited it."""

    SHOWN = 30  # problems printed; a template pasted wrong can have thousands, the first ones say what to fix

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)

    def shown(self) -> list[str]:
        """The problems as printed: the first SHOWN of them, then how many more."""
        more = len(self.problems) - self.SHOWN
        return [*self.problems[: self.SHOWN], *([f"……另有 {more} 个问题"] if more > 0 else [])]
