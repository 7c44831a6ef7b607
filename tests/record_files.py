"""Writing hand-made records into run folders, as `genbench run` would, for the table tests."""

from __future__ import annotations

from pathlib import Path

from genbench.store.records import Record, RunResults
from genbench.store.runconfig import RunMeta
from genbench.store.runfolder import RunFolder, load_records  # noqa: F401 - re-exported for the tests


def write_run(path: Path, run: dict, records: list[dict]) -> None:
    """``run`` is the metadata as results.json holds it ({}: none)."""
    meta = RunMeta.from_json(run) if run else None
    RunFolder(Path(path)).write_results(RunResults(meta, [Record.from_dict(r) for r in records]))
