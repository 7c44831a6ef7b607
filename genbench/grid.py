"""Grids of runs: ``genbench run --datasets a,b --models m,n --seeds 0,1,2`` is one run per
(dataset, model, seed). Runs already complete are skipped, and ``--shard i/n`` keeps only slice i of
n, so n machines (e.g. a SLURM job array: ``--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``)
fill one results folder without two of them ever working on the same run folder.

The slices are deterministic: the grid's runs are sorted by (dataset, model, seed) and dealt round
robin, run k going to shard k mod n. Every machine must therefore be given the same models, datasets,
seeds and preset (their order does not matter); the slices then cover the grid exactly once and
differ in size by at most one run.

A run is complete when its folder holds the same configuration, a model trained to the configured
steps and a record at that step for every metric asked for (a record of a failed metric does not
count; nor, when metrics are named with ``--metrics``, does one that was unavailable, so naming FID
once its weights are in place scores it). ``--fresh`` redoes complete runs too.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genbench import distributed, registry
from genbench.config import RunSettings, resolve
from genbench.errors import GenbenchError
from genbench.io import read_json
from genbench.results import read_run, run_dir
from genbench.runner import RunOutcome, run_benchmark, run_config
from genbench.trainer import CONFIG, pick_device


@dataclass(frozen=True, order=True)
class Cell:
    """One run of a grid."""

    dataset: str
    model: str
    seed: int


@dataclass
class Grid:
    models: list[str]
    datasets: list[str]
    seeds: list[int]
    preset: str
    shard: tuple[int, int] = (0, 1)

    def cells(self) -> list[Cell]:
        """Every run of the grid, in the canonical (sorted) order that shards are dealt from."""
        return sorted({Cell(d, m, s) for d in self.datasets for m in self.models for s in self.seeds})

    def mine(self) -> list[Cell]:
        """This shard's runs."""
        i, n = self.shard
        return [c for k, c in enumerate(self.cells()) if k % n == i]


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """'0,1,2' -> [0, 1, 2] (duplicates dropped, order kept); ``option`` names the flag in errors."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        seeds = [int(t) for t in items]
    except ValueError:
        raise GenbenchError(f"{option} '{text}' is not a comma-separated list of integers; write e.g. "
                            f"{option} 0,1,2.") from None
    if not seeds:
        raise GenbenchError(f"{option} is empty; write e.g. {option} 0,1,2.")
    return list(dict.fromkeys(seeds))


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' with 0 <= i < n -> (i, n)."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise GenbenchError(f"--shard '{text}' is not i/n; write e.g. --shard 0/4 for the first of 4 "
                            f"slices (i counts from 0).") from None
    if n < 1 or not 0 <= i < n:
        raise GenbenchError(f"--shard {text}: i must be in 0..n-1 and n at least 1; write e.g. --shard 0/{max(n, 1)}.")
    return i, n


def is_complete(rdir: Path, config: dict[str, Any], steps: int, metrics: list[str], explicit: bool) -> bool:
    """Whether the run folder holds this configuration trained to ``steps`` with every metric scored."""
    cfg_file = Path(rdir) / CONFIG
    if not cfg_file.exists():
        return False
    try:
        saved = read_json(cfg_file)
        data = read_run(rdir)
    except (OSError, ValueError):
        return False
    if saved != json.loads(json.dumps(config, default=str)):
        return False
    meta = data.get("run", {})
    if meta.get("status") != "finished" or meta.get("step") != steps:
        return False
    bad = {"error", "unavailable"} if explicit else {"error"}
    done = {r.get("metric_plugin") for r in data.get("records", [])
            if r.get("step") == steps and r.get("status") not in bad}
    return set(metrics) <= done


def run_grid(grid: Grid, results: Path | str, metrics: list[str] | None = None,
             sets: dict[str, Any] | None = None, file_values: dict[str, Any] | None = None,
             device: str = "auto", fresh: bool = False, data_options: dict[str, Any] | None = None,
             echo=print, **options: Any) -> list[RunOutcome]:
    """Run this shard's part of the grid, dataset by dataset and seed by seed, skipping complete runs
    unless ``fresh``. ``options`` go to ``run_benchmark`` (progress, eval_options, accel)."""
    results = Path(results)
    group = distributed.init(pick_device(device))
    say = echo if group is None or group.is_main else (lambda *a, **k: None)
    classes = {m: registry.get_model(m) for m in grid.models}
    run, configs = resolve(grid.preset, grid.models, classes, file_values, sets)
    metric_names = metrics if metrics is not None else registry.names("metrics")
    mine = set(grid.mine())
    if grid.shard[1] > 1:
        say(f"shard {grid.shard[0]}/{grid.shard[1]}: {len(mine)} of {len(grid.cells())} runs")
    outcomes: list[RunOutcome] = []
    for dataset in dict.fromkeys(grid.datasets):
        for seed in dict.fromkeys(grid.seeds):
            todo = [m for m in dict.fromkeys(grid.models) if Cell(dataset, m, seed) in mine]
            if not fresh:
                done = []
                for m in todo:
                    config = run_config(dataset, grid.preset, seed, m, run, configs[m], dict(data_options or {}),
                                        options.get("accel"))
                    if is_complete(run_dir(results, dataset, m, grid.preset, seed), config, configs[m].steps,
                                   metric_names, metrics is not None):
                        done.append(m)
                done = distributed.decide(done)  # rank 0 decides for every rank
                for m in done:
                    say(f"{m}: already trained to step {configs[m].steps} and scored in "
                        f"{run_dir(results, dataset, m, grid.preset, seed)}; skipped (--fresh redoes it)")
                todo = [m for m in todo if m not in done]
            if todo:
                outcomes += run_benchmark(todo, dataset, grid.preset, seed, results, metrics,
                                          _sets_for(todo, classes, sets), file_values, device, fresh,
                                          data_options=data_options, echo=echo, **options)
    return outcomes


def _sets_for(models: list[str], classes: dict[str, type], sets: dict[str, Any] | None) -> dict[str, Any]:
    """The --set values that concern these models (the grid's resolve has checked them all), so that a
    shard or a skip leaving a model out does not make its settings unknown."""
    known = {f.name for f in dataclasses.fields(RunSettings)}
    known |= {f.name for m in models for f in dataclasses.fields(classes[m].Config)}
    return {k: v for k, v in (sets or {}).items()
            if (k.split(".", 1)[0] in models if "." in k else k in known)}
