"""A run folder, ``RESULTS/<dataset>/<model>/<preset>-seed<S>/``: the one owner of its layout.

| file                  | written by                   | holds                                              |
|-----------------------|------------------------------|----------------------------------------------------|
| ``config.json``       | the trainer, before step 1   | the resolved configuration (what resume compares): |
|                       |                              | a genbench.store.runconfig.RunConfig                     |
| ``checkpoint.pt``     | the trainer, atomically      | model, optimizers, data order, RNG states, step,   |
|                       |                              | config and the ``DataInfo`` the model was built on |
| ``results.json``      | the runner, after evaluation | the run's metadata (genbench.store.runconfig.RunMeta)    |
|                       |                              | and its records (genbench.store.records)                 |
| ``samples.png``       | the trainer                  | 64 samples from fixed latents (seeded per run)     |
| ``reconstructions.png`` | the trainer (inferrers)    | 16 training images above their reconstructions     |
| ``train_log.csv``     | the trainer                  | the losses every ``log_every`` steps (cut back to  |
|                       |                              | the checkpoint's step when a run resumes)          |
| ``metrics.jsonl``     | the trainer (rank 0)         | one JSON object per logged step: losses, images/s, |
|                       |                              | learning rates, peak memory (cut back on resume;   |
|                       |                              | genbench.run.runlog)                               |
| ``tb/``               | the trainer (rank 0)         | TensorBoard event files: the same scalars, sample  |
|                       |                              | grids from fixed latents, reconstructions          |
| ``watch/``            | the trainer (rank 0)         | ``fixed_z-<step>.png``: TensorBoard's fixed-latent |
|                       |                              | grids as PNGs, the report's strip (cut on resume)  |
| ``error.log``         | the runner / evaluator       | tracebacks of a crashed model or metric            |
| ``.lock``             | ``RunFolder.lock``           | the pid of the process using the folder            |

Everything read from a folder is data: a checkpoint is loaded with ``torch.load(weights_only=True)``
(tensors and plain containers only), never unpickled into arbitrary objects.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genbench import registry
from genbench.api import DataInfo, Dataset, GenerativeModel, ImageSet
from genbench.errors import GenbenchError
from genbench.io import append_text, atomic_path, link_refused, links_below, read_json, write_json
from genbench.rng import STATE_TYPES
from genbench.store.lock import LOCK_FILE, run_lock
from genbench.store.records import Record, RunResults, records_frame
from genbench.store.runconfig import RunConfig, RunMeta

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
RESULTS = "results.json"
SAMPLES = "samples.png"
RECONSTRUCTIONS = "reconstructions.png"
TRAIN_LOG = "train_log.csv"
METRICS_LOG = "metrics.jsonl"
TB_DIR = "tb"  # a folder of TensorBoard event files
WATCH_DIR = "watch"  # a folder of the fixed-latent grids over time (genbench.run.runlog)
ERROR_LOG = "error.log"
CACHE = ".cache"  # RESULTS/.cache/: the results folder's evaluation cache (features, chance levels)
# what genbench writes here
WRITTEN = (CONFIG, CHECKPOINT, RESULTS, SAMPLES, RECONSTRUCTIONS, TRAIN_LOG, METRICS_LOG, TB_DIR, WATCH_DIR, ERROR_LOG)


@dataclass(frozen=True)
class RunFolder:
    path: Path
    root: Path | None = None  # the results folder it lies in (None: the run folder itself was named)

    @classmethod
    def of(cls, results: Path | str, dataset: str, model: str, preset: str, seed: int) -> RunFolder:
        return cls(Path(results) / dataset / model / f"{preset}-seed{seed}", Path(results))

    def _not_a_link(self, name: str) -> None:
        """Refuse to read ``name`` through a link (what it would read lies outside the results folder)."""
        if self.file(name).is_symlink():
            raise link_refused(self.file(name), "--results")

    def refuse_links(self) -> None:
        """Before anything is written here: none of the folders between the results folder and this one, and
        none of the files above, may be a symbolic link (one planted in a shared folder would carry a write
        outside it). One sentence naming the link otherwise."""
        links = links_below(self.root if self.root is not None else self.path.parent, self.path)
        links += [self.file(n) for n in (*WRITTEN, LOCK_FILE) if self.file(n).is_symlink()]
        if links:
            raise link_refused(links[0], "--results")

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        """The path of one of the files above (e.g. ``folder.file(SAMPLES)``)."""
        return self.path / name

    # -- config ---------------------------------------------------------------------------
    def read_config(self) -> RunConfig | None:
        """The saved configuration, or None when there is none (or it is not a JSON object); a JSON object
        that is not a genbench config (other fields or types) raises ValueError; a link, GenbenchError."""
        self._not_a_link(CONFIG)
        try:
            config = read_json(self.file(CONFIG))
        except (OSError, ValueError):
            return None
        return RunConfig.from_json(config) if isinstance(config, dict) else None

    def write_config(self, config: RunConfig) -> None:
        write_json(self.file(CONFIG), config.to_json())

    def require_config(self) -> RunConfig:
        """The saved configuration, refused (one sentence) unless it has the fields and types genbench wrote."""
        try:
            config = self.read_config()
        except ValueError:
            config = None
        if config is None:
            raise GenbenchError(f"{self.path} is not a genbench run folder (no readable {CONFIG}); pass a folder "
                                f"written by `genbench run`, e.g. results/shapes/ours/small-seed0.")
        return config

    def holds_config(self, config: RunConfig) -> bool:
        """Whether the saved configuration is ``config`` (a missing, damaged or foreign one is not)."""
        try:
            return self.read_config() == config
        except ValueError:
            return False

    # -- results --------------------------------------------------------------------------
    def read_results(self) -> RunResults:
        """The run's metadata and records; an empty RunResults when there is no results.json. A file that
        is not genbench's raises ValueError (OSError when unreadable); a link, GenbenchError."""
        self._not_a_link(RESULTS)
        f = self.file(RESULTS)
        if not f.exists():
            return RunResults()
        data = read_json(f)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ValueError("results.json does not hold genbench records")
        run = data.get("run")  # {} (or none): no metadata
        meta = RunMeta.from_json(run) if isinstance(run, dict) and run else None
        return RunResults(meta, [Record.from_dict(r) for r in data["records"]])

    def write_results(self, results: RunResults) -> None:
        run = results.run.to_json() if results.run is not None else {}
        write_json(self.file(RESULTS), {"run": run, "records": [r.to_dict() for r in results.records]})

    def log_error(self, text: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.file(ERROR_LOG).unlink(missing_ok=True)  # replaced, never written through a link
        append_text(self.file(ERROR_LOG), text)

    # -- checkpoint -----------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        with atomic_path(self.file(CHECKPOINT)) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self, device: torch.device | str = "cpu") -> dict[str, Any] | None:
        """The checkpoint's state (None when there is none). Loaded with ``weights_only=True``: a file that
        would need anything but tensors and plain containers is refused, never executed; a link, never read."""
        self._not_a_link(CHECKPOINT)
        path = self.file(CHECKPOINT)
        if not path.exists():
            return None
        try:
            with torch.serialization.safe_globals(STATE_TYPES):
                state = torch.load(path, map_location=device, weights_only=True)
        except Exception as exc:
            why = "it holds objects other than tensors and plain values" if "weights_only" in str(exc) \
                else f"{type(exc).__name__}"
            raise GenbenchError(f"Checkpoint {path} cannot be read ({why}); delete it or rerun with --fresh "
                                f"to start this run over.") from None
        if not isinstance(state, dict):
            raise GenbenchError(f"Checkpoint {path} cannot be read (it holds a {type(state).__name__}, not a "
                                f"training state); delete it or rerun with --fresh to start this run over.")
        return state

    def reset(self) -> None:
        """Forget the training (``--fresh``): checkpoint, config and log go; results stay until rewritten."""
        for name in (CHECKPOINT, CONFIG, TRAIN_LOG):
            self.file(name).unlink(missing_ok=True)

    def lock(self, echo: Callable[[str], object] = print) -> contextlib.AbstractContextManager:
        """The folder's lock (genbench.store.lock), taken only when no link is planted in it (``refuse_links``):
        every writer of a run folder holds it."""
        self.refuse_links()
        return run_lock(self.path, echo)

    # -- the trained model ----------------------------------------------------------------
    def load_model(self, device: torch.device | str = "cpu") -> tuple[GenerativeModel, RunConfig]:
        """The trained model (eval mode, on ``device``) and the run's config, rebuilt from config.json and
        the checkpoint: the model's class by name from the registry, its config from the saved values,
        its ``DataInfo`` as saved in the checkpoint."""
        config = self.require_config()
        cls = registry.get_model(config.model_name)
        ckpt = self.load_checkpoint(device)
        if ckpt is None:
            raise GenbenchError(f"{self.path} has no {CHECKPOINT}; train it first with `genbench run`.")
        try:  # config.json and the checkpoint are data: whatever in them does not fit is one sentence
            cfg = config.model_config(cls.Config)
            info = ckpt.get("data")
            info = DataInfo(**info) if isinstance(info, dict) else _guess_data_info(config, cls, ckpt)
            model = cls(cfg, info).to(device)
            model.load_training_state(ckpt["model"])
        except Exception as exc:
            why = (str(exc).strip().splitlines() or [""])[0][:160]
            raise GenbenchError(f"Checkpoint {self.file(CHECKPOINT)} does not fit model '{config.model_name}' "
                                f"({type(exc).__name__}: {why}); rerun that run with --fresh.") from None
        return model.eval(), config

    def load_data(self) -> tuple[Dataset, ImageSet, ImageSet | None]:
        """The dataset and its training and held-out images, as the run's config loaded them."""
        config = self.require_config()
        ds = registry.get_dataset(config.dataset)()
        r, options = config.run, dict(config.data_options)
        train = ds.load("train", r.image_size, r.n_train, 0, **options)
        heldout = ds.load("heldout", r.image_size, r.n_heldout, 0, **options) if r.n_heldout else None
        return ds, train, heldout


def _guess_data_info(config: RunConfig, cls: type[GenerativeModel], ckpt: dict[str, Any]) -> DataInfo:
    """For a checkpoint written before the DataInfo was saved: the image size is in the config, and the
    training-set size is the length of the model's example buffers (rows per training example), else the
    configured ``n_train``."""
    state = ckpt.get("model", {}).get("model", {})
    rows = [state[b].shape[0] for b in cls.example_buffers if b in state]
    return DataInfo(config.dataset, config.run.image_size, rows[0] if rows else config.run.n_train or 1)


RUN_DEPTH = 3  # RESULTS/<dataset>/<model>/<preset>-seed<S>/: run folders sit exactly this deep


def folders(results: Path | str) -> Iterator[RunFolder]:
    """Every run folder of ``results``, sorted: a folder exactly ``RUN_DEPTH`` levels down holding a
    results.json or a config.json. Nothing deeper is read, so a results folder kept inside another (a copy,
    a reference grid) is never mixed into its tables; a linked folder is not entered."""
    level = [Path(results)]
    for _ in range(RUN_DEPTH):
        level = [p for d in level for p in _subfolders(d)]
    return (RunFolder(p, Path(results)) for p in level if any(p.joinpath(n).exists() for n in (RESULTS, CONFIG)))


def readable(path: Path) -> bool:
    """Whether a file of a run folder may be read: a file, not a link (a link is skipped with one warning naming
    it: a results folder from elsewhere must not make genbench read, copy or show a file outside it)."""
    if path.is_symlink():
        warnings.warn(f"skipped {path}: it is a symbolic link (to {os.readlink(path)}); genbench reads only files "
                      f"inside a results folder", RuntimeWarning, stacklevel=3)
        return False
    return path.is_file()


def _subfolders(path: Path) -> list[Path]:
    """The folders directly in ``path`` (not links to folders), sorted; none when it cannot be listed."""
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def load_records(results: Path | str):
    """Every record under ``results`` as one tidy DataFrame (genbench.store.records.records_frame). A damaged or
    foreign results.json is skipped with one warning naming it."""
    records: list[Record] = []
    for folder in folders(results):
        if not readable(folder.file(RESULTS)):
            continue
        try:
            records += folder.read_results().records
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = "cannot be read" if isinstance(exc, OSError) else "is damaged or not genbench's"
            warnings.warn(f"skipped {folder.file(RESULTS)}: it {why} ({type(exc).__name__}); delete it, or rerun "
                          f"that run with --fresh", RuntimeWarning, stacklevel=2)
    return records_frame(records)
