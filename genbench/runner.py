"""``genbench.runner``, the path earlier versions documented for the run flow: it lives in ``genbench.run.runner``."""

from genbench.run.runner import RunOutcome, run, run_cell, run_plan  # noqa: F401
