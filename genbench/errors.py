"""The one exception type the CLI turns into a one-sentence message and a non-zero exit."""

import difflib
from collections.abc import Iterable


class GenbenchError(Exception):
    """A problem the user can fix: the message says what is wrong and how to fix it.

    ``exit_code`` 2 means bad input (unknown name, missing file); 1 means the run itself failed.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """" (did you mean 'x'?)" for the nearest of ``choices``, or "" when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
