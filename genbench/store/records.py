"""The record: one number a metric gave one run, with everything needed to trust and reproduce it.

A run folder's ``results.json`` holds ``{"run": <run metadata>, "records": [<Record>, ...]}``; it is
written by ``RunFolder.write_results`` and read by ``RunFolder.read_results`` (genbench.store.runfolder), the
only two places that touch the file. ``load_records`` gathers every run folder's records under a
results folder into one tidy DataFrame (one row per record, the config flattened into ``config.*``
columns), which is what the tables, the report and ``genbench compare`` read.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genbench.api import VALUED, Status, has_value  # noqa: F401 - the record's status type, re-exported
from genbench.io import json_hash, printable

if TYPE_CHECKING:
    import pandas as pd

    from genbench.store.runconfig import RunMeta

REQUIRED_KEYS = ("dataset", "model", "preset", "seed", "metric", "status")
_NUMBER, _TEXT = (int, float), (str,)
# what each field read from a file may hold (None is allowed where the field's default is None)
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": _TEXT, "model": _TEXT, "preset": _TEXT, "seed": (int,), "metric": _TEXT, "status": _TEXT,
    "value": _NUMBER, "metric_plugin": _TEXT, "step": (int,), "note": _TEXT, "higher_is_better": (bool,),
    "extra": (dict,), "protocol_id": _TEXT, "protocol": (dict,), "eval_seconds": _NUMBER, "time": _TEXT,
    "config": (dict,), "versions": (dict,), "git_commit": _TEXT, "device": _TEXT}
_OPTIONAL = {"value", "step", "higher_is_better"}


def valued(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` (a records DataFrame) whose status carries a value, in their order."""
    return frame[frame["status"].isin(VALUED)]


def direction(frame: pd.DataFrame) -> bool | None:
    """A metric's better direction, as its records (a records DataFrame) say: the first recorded
    ``higher_is_better``; None where none says one (a descriptive metric: no best mark, no Δ, no arrow)."""
    said = frame["higher_is_better"].dropna()
    return bool(said.iloc[0]) if len(said) else None


def arrow(higher_is_better: bool | None, before: str = "") -> str:
    """A direction's arrow, '↑' (higher is better) or '↓', after ``before`` (e.g. ' ': 'swd' + arrow(False, ' ')
    reads 'swd ↓'); '' for a descriptive metric."""
    if higher_is_better is None:
        return ""
    return before + ("↑" if higher_is_better else "↓")


@dataclass
class Record:
    """One tidy record. ``value`` is None unless ``status`` has a value, 'ok' or 'warn' (a 'warn' value is shown
    with † in tables: computed under a weaker protocol than the paper's, e.g. too few samples)."""

    dataset: str
    model: str
    preset: str
    seed: int
    metric: str
    status: str  # a Status (ok | warn | n/a | unavailable | error | failed) or its string
    value: float | None = None
    metric_plugin: str = ""
    step: int | None = None
    note: str = ""
    higher_is_better: bool | None = False  # None: descriptive (no best mark, no Δ)
    extra: dict[str, Any] = field(default_factory=dict)
    protocol_id: str = ""
    protocol: dict[str, Any] = field(default_factory=dict)
    eval_seconds: float = 0.0
    time: str = ""
    config: dict[str, Any] = field(default_factory=dict)  # the run's config, flattened ('model.lr': ...)
    versions: dict[str, str] = field(default_factory=dict)
    git_commit: str = ""
    device: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> Record:
        """A record read from a file: the required keys must be there and every known field of its type;
        keys genbench does not know are dropped (a newer genbench may add some), so a damaged or foreign
        file is a ValueError."""
        if not isinstance(d, dict) or not all(k in d for k in REQUIRED_KEYS):
            raise ValueError("a record lacks the keys " + ", ".join(REQUIRED_KEYS))
        kept = {k: v for k, v in d.items() if k in FIELD_TYPES}
        for k, v in kept.items():
            if not _fits(k, v):
                raise ValueError(f"a record's {k} is {type(v).__name__} {str(v)[:40]!r}")
        problem = _value_problem(kept)
        if problem:
            raise ValueError(f"a record of {kept.get('metric')!r} {problem}")
        return cls(**kept)

    @property
    def good(self) -> bool:
        return has_value(self.status)


def _value_problem(d: dict[str, Any]) -> str | None:
    """Why a record read from a file cannot be shown or compared: a status that carries a value with a value
    that is not a finite number, or an interval (``extra['ci']``, ``extra['boot']``) that is not finite numbers."""
    value, extra = d.get("value"), d.get("extra") or {}
    if has_value(d["status"]) and not finite(value):
        return f"has status {d['status']} but the value {value!r}, not a finite number"
    ci, boot = extra.get("ci"), extra.get("boot")
    if ci is not None and not (isinstance(ci, list) and len(ci) == 2 and all(map(finite, ci))):
        return "has an interval (extra.ci) that is not two finite numbers"
    if boot is not None and not (isinstance(boot, list) and all(map(finite, boot))):
        return "has bootstrap replicates (extra.boot) that are not finite numbers"
    return None


def finite(x: Any) -> bool:
    """Whether ``x`` is a finite number (a Python or NumPy int or float; True/False are not numbers here)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _fits(key: str, value: Any) -> bool:
    """Whether ``value`` read from a file may stand in field ``key`` (True/False only where a bool is meant)."""
    if value is None:
        return key in _OPTIONAL
    types = FIELD_TYPES[key]
    return isinstance(value, types) and isinstance(value, bool) == (types == (bool,))


@dataclass
class RunResults:
    """What a run folder's results.json holds: the run's metadata and its records."""

    run: RunMeta | None = None  # None: no metadata (written as {})
    records: list[Record] = field(default_factory=list)


def protocol_id(metric: str, version: int, protocol: dict[str, Any]) -> str:
    """Hash of everything that determines a metric's number (network, weights, n, split, seed...)."""
    return json_hash({"metric": metric, "version": version, **protocol}, 12)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# -- provenance: what every record says it ran with ----------------------------------------------
@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    import numpy
    import pandas
    import torch

    import genbench

    return {"genbench": genbench.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "pandas": pandas.__version__, "python": platform.python_version()}


@lru_cache(maxsize=1)
def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def device_name(device) -> str:
    """'cpu', or 'cuda:0 (NVIDIA H100 80GB HBM3)': what a record says it ran on."""
    import torch

    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def records_frame(records: list[Record]):
    """Records as one tidy DataFrame: config flattened into ``config.*`` columns, the protocol as a
    JSON string, versions dropped."""
    import pandas as pd

    rows = []
    for rec in records:
        row = {k: v for k, v in rec.to_dict().items() if k not in ("config", "protocol", "versions")}
        row.update(flatten(rec.config, "config."))
        row = {k: printable(v) if isinstance(v, str) else v for k, v in row.items()}  # text from files: inert
        row["protocol"] = json.dumps(rec.protocol, sort_keys=True)
        rows.append(row)
    return pd.DataFrame(rows)
