"""``genbench.plan``, the path earlier versions documented for the run plan: it lives in ``genbench.run.plan``."""

from genbench.run.plan import Cell, Grid, RunOptions, RunPlan, make_plan  # noqa: F401
