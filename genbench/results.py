"""The results store: one JSON file per run (``results.json`` in the run folder), holding one tidy
record per (run, metric), written atomically; ``load_records`` reads them all into a DataFrame."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import warnings
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from genbench.io import read_json, write_json

RESULTS_FILE = "results.json"
DEFAULT_RESULTS = Path("results")


def run_dir(results: Path, dataset: str, model: str, preset: str, seed: int) -> Path:
    return Path(results) / dataset / model / f"{preset}-seed{seed}"


def protocol_id(metric: str, version: int, protocol: dict[str, Any]) -> str:
    """Hash of everything that determines a metric's number (network, weights, n, split, seed...)."""
    blob = json.dumps({"metric": metric, "version": version, **protocol}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    import numpy
    import torch

    import genbench

    return {"genbench": genbench.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "pandas": pd.__version__, "python": platform.python_version()}


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


def failed_records(base: dict[str, Any], metric_names: list[str], previous: list[dict[str, Any]], message: str,
                   stamp: str) -> list[dict[str, Any]]:
    """Records with status 'failed' (value None) for a run that did not finish (NaN/inf): one per requested
    metric and per metric the run recorded before, so its table cells read "failed", never a stale number."""
    from genbench.registry import discover

    metrics = discover("metrics")
    names = {n: n for n in metric_names}
    names.update({r["metric"]: r.get("metric_plugin", r["metric"]) for r in previous if "metric" in r})
    out = []
    for metric, plugin in names.items():
        entry = metrics.get(plugin)
        hib = entry.obj.higher_is_better if entry is not None and entry.ok else None
        out.append({**base, "metric": metric, "metric_plugin": plugin, "value": None, "status": "failed",
                    "note": message, "higher_is_better": hib, "extra": {}, "protocol_id": "", "protocol": {},
                    "eval_seconds": 0.0, "time": stamp})
    return out


REQUIRED_KEYS = ("dataset", "model", "preset", "seed", "metric", "status")


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


def read_run(path: Path) -> dict[str, Any]:
    f = Path(path) / RESULTS_FILE
    return read_json(f) if f.exists() else {"run": {}, "records": []}


def write_run(path: Path, run: dict[str, Any], records: list[dict[str, Any]]) -> None:
    write_json(Path(path) / RESULTS_FILE, {"run": run, "records": records})


def load_records(results: Path | str = DEFAULT_RESULTS) -> pd.DataFrame:
    """Every record under ``results`` as one DataFrame (config flattened into ``config.*`` columns)."""
    rows = []
    for f in sorted(Path(results).rglob(RESULTS_FILE)):
        try:
            data = read_json(f)
            recs = data["records"]
            if not (isinstance(recs, list) and all(isinstance(r, dict) and all(k in r for k in REQUIRED_KEYS)
                                                   for r in recs)):
                raise ValueError("records are not genbench records")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = "cannot be read" if isinstance(exc, OSError) else "is damaged or not genbench's"
            warnings.warn(f"skipped {f}: it {why} ({type(exc).__name__}); delete it, or rerun that run with "
                          f"--fresh", RuntimeWarning, stacklevel=2)
            continue
        for rec in recs:
            row = {k: v for k, v in rec.items() if k not in ("config", "protocol", "versions")}
            row.update(flatten(rec.get("config", {}), "config."))
            row["protocol"] = json.dumps(rec.get("protocol", {}), sort_keys=True)
            rows.append(row)
    return pd.DataFrame(rows)
