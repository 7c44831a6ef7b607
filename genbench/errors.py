"""The one exception type the CLI turns into a one-sentence message and a non-zero exit."""


class GenbenchError(Exception):
    """A problem the user can fix: the message says what is wrong and how to fix it.

    ``exit_code`` 2 means bad input (unknown name, missing file); 1 means the run itself failed.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
