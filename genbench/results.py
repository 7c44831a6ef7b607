"""The results store: one JSON file per run (``results.json`` in the run folder), holding one tidy
record per (run, metric), written atomically; ``load_records`` reads them all into a DataFrame."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
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
        except (OSError, ValueError):
            continue  # a foreign or damaged file is not ours to interpret
        for rec in data.get("records", []):
            row = {k: v for k, v in rec.items() if k not in ("config", "protocol", "versions")}
            row.update(flatten(rec.get("config", {}), "config."))
            row["protocol"] = json.dumps(rec.get("protocol", {}), sort_keys=True)
            rows.append(row)
    return pd.DataFrame(rows)
