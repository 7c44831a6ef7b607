"""The run plan: what ``genbench run`` will do, resolved and checked once before anything trains.

``RunOptions`` is the command line, one field per option, typed; ``make_plan`` turns it into a
``RunPlan``: the model classes and their resolved configs, the run settings, the metric list, the
device, the acceleration and the evaluation options, every name and value checked (bad input is one
sentence and exit code 2 here, before any data loads). The runner then does one ``Cell`` at a time.

Grids: ``--datasets a,b --models m,n --seeds 0,1,2`` is one cell per (dataset, model, seed). The cells
are sorted by (dataset, model, seed) and dealt round robin for ``--shard i/n`` (cell k goes to shard
k mod n), so n machines given the same models, datasets, seeds and preset (in any order) cover the
grid once, the slices differing in size by at most one cell.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genbench import registry
from genbench.api import INCEPTION, EvalSettings, GenerativeModel, Metric, ModelConfig, Weights
from genbench.errors import GenbenchError, did_you_mean
from genbench.metrics.core import inception
from genbench.metrics.core import weights as lookup
from genbench.metrics.core.weights import WeightsPolicy, offline_from_env
from genbench.run import distributed
from genbench.run.accel import Acceleration
from genbench.run.config import RunSettings, load_toml, resolve
from genbench.run.runlog import DEFAULT_KINDS, KINDS
from genbench.run.trainer import Schedule
from genbench.run.validate import check_results_folder, check_weights
from genbench.store.runconfig import RunConfig
from genbench.store.runfolder import CACHE, ERROR_LOG, RunFolder

DEFAULT_RESULTS = Path("results")
SEED_LIMIT = 2**32  # NumPy seeds 0..2**32-1: a larger seed would repeat a smaller one's random numbers


@dataclass(frozen=True, order=True)
class Cell:
    """One run of a grid."""

    dataset: str
    model: str
    seed: int


@dataclass
class RunOptions:
    """``genbench run``'s options, typed (the CLI maps each option onto one field)."""

    models: list[str] | None  # None: nothing to train (genbench eval, stats)
    dataset: str = "shapes"
    datasets: list[str] | None = None  # replaces dataset
    preset: str = "small"
    seed: int = 0
    seeds: list[int] | None = None  # replaces seed
    results: Path = DEFAULT_RESULTS
    steps: int | None = None
    limit: int | None = None  # the first N training images
    metrics: list[str] | None = None  # None: every registered metric
    sets: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None
    device: str = "auto"
    data_root: Path | None = None
    inception_weights: Path | None = None  # = weights["inception"]
    allow_unverified_weights: bool = False
    features: list[str] | None = None  # feature spaces; None: those available without a download (FEATURES doc)
    weights: dict[str, Path] = field(default_factory=dict)  # --weights SPACE=FILE
    offline: bool = False  # never download (also $GENBENCH_OFFLINE)
    fresh: bool = False
    progress: bool = True
    shard: tuple[int, int] = (0, 1)
    amp: str = "none"
    compile: bool = False
    log: list[str] = field(default_factory=lambda: list(DEFAULT_KINDS))  # watch logs (runlog.KINDS), or ["none"]


@dataclass(frozen=True)
class Grid:
    models: list[str]
    datasets: list[str]
    seeds: list[int]
    preset: str
    shard: tuple[int, int] = (0, 1)

    def cells(self) -> list[Cell]:
        """Every cell of the grid, in the canonical (sorted) order that shards are dealt from."""
        return sorted({Cell(d, m, s) for d in self.datasets for m in self.models for s in self.seeds})

    def mine(self) -> list[Cell]:
        """This shard's cells (sorted)."""
        i, n = self.shard
        return [c for k, c in enumerate(self.cells()) if k % n == i]

    def in_order(self) -> list[Cell]:
        """This shard's cells in the order they run: dataset by dataset, seed by seed, model by model, as
        the options listed them."""
        mine = set(self.mine())
        return [Cell(d, m, s) for d in dict.fromkeys(self.datasets) for s in dict.fromkeys(self.seeds)
                for m in dict.fromkeys(self.models) if Cell(d, m, s) in mine]


@dataclass
class RunPlan:
    grid: Grid
    results: Path
    settings: RunSettings
    classes: dict[str, type[GenerativeModel]]
    configs: dict[str, ModelConfig]
    metrics: tuple[type[Metric], ...]  # the metric plugins themselves, resolved once (their ``name`` is set)
    metrics_named: bool  # metrics were named: one that is unavailable is then an error
    device: torch.device
    accel: Acceleration = field(default_factory=Acceleration)
    data_options: dict[str, str] = field(default_factory=dict)
    networks: tuple[Weights, ...] = ()  # the pretrained networks' weights, resolved once
    fresh: bool = False
    progress: bool = True
    logs: tuple[str, ...] = DEFAULT_KINDS  # the watch logs each run writes (genbench.run.runlog)

    @property
    def preset(self) -> str:
        return self.grid.preset

    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def folder(self, cell: Cell) -> RunFolder:
        return RunFolder.of(self.results, cell.dataset, cell.model, self.preset, cell.seed)

    def eval_settings(self, cell: Cell | None = None) -> EvalSettings:
        """The evaluation's settings: samples per metric, the results folder's cache, the cell's error log."""
        s = self.settings
        return EvalSettings(s.n_eval, s.n_fid, self.results / CACHE,
                            self.folder(cell).file(ERROR_LOG) if cell is not None else None, self.networks)

    def run_config(self, cell: Cell) -> RunConfig:
        """The resolved configuration of one cell, as saved in its config.json (what resume compares)."""
        return RunConfig(cell.dataset, self.preset, cell.seed, cell.model, self.settings,
                         self.configs[cell.model].to_dict(), self.data_options, self.accel.config() or None)

    def schedule(self, cell: Cell) -> Schedule:
        """When the cell's training checkpoints, samples and logs (it trains to its model config's steps)."""
        s = self.settings
        return Schedule(cell.seed, s.ckpt_every, s.sample_every, s.log_every, self.logs, s.watch_every,
                        s.quick_every)


def make_plan(options: RunOptions) -> RunPlan:
    """Resolve and check everything ``options`` ask for; the one place settings are resolved."""
    o = options
    _check_lists(o)
    logs = check_logs(o.log)
    models = list(dict.fromkeys(o.models or []))  # None: a plan that trains nothing (eval, stats)
    for name in models:
        registry.get_model(name)
    datasets = list(dict.fromkeys(o.datasets or [o.dataset]))
    for name in datasets:
        registry.get_dataset(name)
    for name in [*(o.features or []), *o.weights]:
        registry.get_space(name)
    policy = weights_policy(o)
    networks = resolve_spaces(policy)
    metrics = choose_metrics(o, networks)
    classes = {m: registry.get_model(m) for m in models}
    overrides: dict[str, Any] = dict(o.sets)
    if o.steps is not None:
        overrides["steps"] = o.steps
    if o.limit is not None:
        overrides["n_train"] = o.limit
    settings, configs = resolve(o.preset, models, classes, load_toml(o.config_file) if o.config_file else None,
                                overrides)
    check_weights(metrics, networks, policy.download)
    check_results_folder(Path(o.results))
    device, progress = pick_device(o.device), o.progress
    group = distributed.init(device)  # None unless started by torchrun with several processes
    if group is not None:
        device, progress = group.device, progress and group.is_main
    grid = Grid(models, datasets, list(dict.fromkeys(o.seeds or [o.seed])), o.preset, o.shard)
    return RunPlan(grid, Path(o.results), settings, classes, configs, metrics, o.metrics is not None, device,
                   Acceleration(o.amp, o.compile), {"data_root": str(o.data_root)} if o.data_root else {},
                   tuple(networks.values()), o.fresh, progress, logs)


# Feature spaces (docs/README "Feature spaces"). By default a command computes every space-taking metric in
# every space whose weights are already here (installed, cached, named with --weights), and in Inception
# whatever its state, so that FID's column says how to get its weights; nothing is downloaded unless a space is
# asked for by name (--features, or a metric named in it) and --offline is not set.
ALWAYS = (INCEPTION,)


def weights_policy(o: RunOptions) -> WeightsPolicy:
    explicit = {name: Path(path) for name, path in o.weights.items()}
    named_by = {}
    if INCEPTION not in explicit and o.inception_weights:
        explicit[INCEPTION], named_by[INCEPTION] = Path(o.inception_weights), "--inception-weights"
    elif INCEPTION not in explicit and os.environ.get(inception.ENV_VAR):
        explicit[INCEPTION], named_by[INCEPTION] = Path(os.environ[inception.ENV_VAR]), f"${inception.ENV_VAR}"
    named = set(o.features or [])
    for name in o.metrics or []:
        space = registry.get_metric(name).space
        if space:
            named.add(space)
    return WeightsPolicy(explicit, named_by, o.offline or offline_from_env(), o.allow_unverified_weights,
                         frozenset(named))


def resolve_spaces(policy: WeightsPolicy, echo=print) -> dict[str, Weights]:
    """Every installed space's weights, resolved once per command (downloads only for spaces asked for)."""
    return {name: lookup.resolve(registry.get_space(name)(), policy, echo) for name in registry.names("spaces")}


def choose_metrics(o: RunOptions, networks: dict[str, Weights]) -> tuple[type[Metric], ...]:
    """The metrics named, else every registered one whose space is chosen (``--features``, else the default
    spaces: available here, or always shown)."""
    if o.metrics is not None:
        return tuple(registry.get_metric(name) for name in o.metrics)
    spaces = set(o.features) if o.features else {n for n, w in networks.items() if w.available} | set(ALWAYS)
    metrics = (registry.get_metric(name) for name in registry.names("metrics"))
    return tuple(m for m in metrics if m.space_used() is None or m.space_used() in spaces)


def _check_lists(o: RunOptions) -> None:
    """Lists given are not empty (an empty one is refused, never replaced by the default) and seeds are in
    NumPy's range."""
    for option, value, example in (("--models", o.models, "vae,wgan"), ("--datasets", o.datasets, "shapes,lfw"),
                                   ("--seeds", o.seeds, "0,1,2"), ("--metrics", o.metrics, "swd,mse")):
        if value is not None and not list(value):
            raise GenbenchError(f"{option} is empty; name at least one, e.g. {option} {example}.")
    for seed in o.seeds or [o.seed]:
        check_seed(seed, "--seeds" if o.seeds else "--seed")


def check_logs(kinds: list[str]) -> tuple[str, ...]:
    """``--log``'s kinds, each known (``none`` alone: no watch log); TensorBoard's package present if asked for."""
    kinds = list(dict.fromkeys(k.strip() for k in kinds if k.strip()))
    if kinds == ["none"]:
        return ()
    if not kinds:
        raise GenbenchError(f"--log is empty; name at least one of {', '.join(KINDS)} (or none), e.g. --log jsonl.")
    for k in kinds:
        if k not in KINDS:
            raise GenbenchError(f"--log {k}: not a kind of log; choose from {', '.join(KINDS)} (comma-separated), "
                                f"or none{did_you_mean(k, KINDS)}.")
    if "tensorboard" in kinds and importlib.util.find_spec("tensorboard") is None:
        raise GenbenchError("--log tensorboard needs the tensorboard package; install it (pip install tensorboard) "
                            "or pass --log jsonl.")
    return tuple(kinds)


def check_seed(seed: int, option: str = "--seed") -> None:
    if not 0 <= seed < SEED_LIMIT:
        raise GenbenchError(f"{option} {seed} is outside 0..{SEED_LIMIT - 1}: NumPy takes seeds in that range only, so "
                            f"a larger or negative seed would repeat another seed's random numbers.")


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``--device``: auto, cpu, cuda, cuda:N (a visible one) or mps (where available)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise GenbenchError(f"--device '{name}' is not a device genbench can train on; use auto, cpu, cuda or cuda:N.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GenbenchError(f"--device {name} was asked for but no CUDA device is visible; use --device cpu.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise GenbenchError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible "
                            f"(cuda:0..cuda:{torch.cuda.device_count() - 1}).")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GenbenchError(f"--device {name} was asked for but this PyTorch has no usable MPS device; "
                            f"use --device cpu.")
    return device


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
    for seed in seeds:
        check_seed(seed, option)
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
