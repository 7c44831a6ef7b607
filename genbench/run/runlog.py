"""A run's watch logs, to follow a run while it trains: ``metrics.jsonl`` (one JSON object per logged step) and
TensorBoard event files under ``tb/`` (``tensorboard --logdir results``).

- **What.** Every ``log_every`` steps (and at the last step) both get the values the model's ``train_step``
  reported, images/s over the interval, each optimizer's learning rate and the peak memory (CUDA: the allocator's
  peak; CPU: the process's peak resident set); every ``quick_every`` steps, the quick metrics (genbench.run.quick).
  Every ``watch_every`` steps TensorBoard also gets a grid of samples from the same latents each time and, for
  models that infer, at every ``RECON_GRIDS``-th grid (and the last), reconstructions of training images (for
  ``ours`` a Langevin inference: ten times the grid's cost at `small`); the grid is also saved as
  ``watch/fixed_z-<step>.png`` (with either log: the report shows these grids over time as a strip).
- **Resume.** The logs follow train_log.csv's discipline: when a run (re)starts they are cut back to its
  checkpoint's step (from step 0 they are removed), so a resumed run's logs hold each step once and a signal-stopped
  run's end at the step it saved. The event files are rewritten without the later events (so every reader agrees,
  not only those that honour TensorBoard's purge marker) and the new writer is opened with ``purge_step`` too; the
  grids of later steps are removed.
- **Who.** Only rank 0 writes (genbench.run.distributed); the trainer passes ``enabled=False`` elsewhere.
- **Links.** ``metrics.jsonl`` is read and appended without following a link; ``tb/`` and ``watch/`` are refused
  when they are links (``RunFolder.refuse_links``, which every writer of a run folder passes, names them); a grid is
  written atomically (a link in its place is replaced, never followed).

``torch.utils.tensorboard`` is imported only when TensorBoard is written or cut.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from genbench.io import append_text, atomic_path, open_nofollow, write_text
from genbench.store.runfolder import METRICS_LOG, TB_DIR, WATCH_DIR, RunFolder

KINDS = ("jsonl", "tensorboard")
DEFAULT_KINDS = KINDS  # both: the measured cost is within noise of none (benchmarks/RESULTS.md)
EVENTS_PREFIX = "events.out.tfevents."
GRID_TAG = "samples/fixed_z"  # the TensorBoard image also saved as watch/fixed_z-<step>.png
GRID_FILE = re.compile(r"fixed_z-(\d+)\.png")
RECON_GRIDS = 2  # reconstructions with every other grid: 0.47 s of a grid event's 0.57 at small (RESULTS.md)


def default_watch_every(steps: int, sample_every: int) -> int:
    """Images in TensorBoard every tenth of the run (at least every step), at most ``sample_every`` apart."""
    return max(1, min(sample_every, steps // 10))


def reconstructions_due(step: int, steps: int, watch_every: int) -> bool:
    """Whether the grid of ``step`` comes with reconstructions: every ``RECON_GRIDS``-th grid and the last."""
    return step % (RECON_GRIDS * watch_every) == 0 or step == steps


class RunLog:
    """The watch logs of one training session, from step ``start`` on (the module docstring)."""

    def __init__(self, folder: RunFolder, kinds: Iterable[str], start: int, enabled: bool = True):
        self.kinds = tuple(kinds) if enabled else ()
        self.jsonl = folder.file(METRICS_LOG)
        self.tb_dir = folder.file(TB_DIR)
        self.watch_dir = folder.file(WATCH_DIR)
        if enabled:  # whatever is written now: a log of another kind from an earlier session is cut too
            cut_jsonl(self.jsonl, start)
            cut_events(self.tb_dir, start)
            cut_grids(self.watch_dir, start)
        self._tb = None
        if "tensorboard" in self.kinds:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step: TensorBoard's own marker that events from this step on, of an earlier session, are void
            self._tb = SummaryWriter(str(self.tb_dir), purge_step=start + 1 if start else None, flush_secs=30)

    @property
    def tensorboard(self) -> bool:
        return self._tb is not None

    def scalars(self, step: int, losses: dict[str, float] | None, extra: dict[str, Any],
                quick: dict[str, float] | None = None) -> None:
        """One logged step: the model's values (``losses``; None at a step that only has quick metrics), the
        harness's (``extra``: images_per_s, lr, peak memory, quick_seconds) and the quick metrics
        (genbench.run.quick: ``{"swd@64": ..}``, TensorBoard's ``quick/swd@64``)."""
        if "jsonl" in self.kinds:
            row = {"step": step, "time": round(time.time(), 3), **({"losses": losses} if losses is not None else {}),
                   **extra, **({"quick": quick} if quick else {})}
            append_text(self.jsonl, json.dumps(row, allow_nan=True) + "\n")
        if self._tb is not None:
            tags = {f"train/{k}": v for k, v in (losses or {}).items()} | _flat(extra)
            tags |= {f"quick/{k}": v for k, v in (quick or {}).items()}
            for tag, v in tags.items():
                self._tb.add_scalar(tag, v, step)

    def images(self, step: int, grids: dict[str, torch.Tensor]) -> None:
        """Image grids (C, H, W in [0, 1]) by tag, e.g. ``samples/fixed_z`` (also saved as a PNG)."""
        if self._tb is not None:
            for tag, grid in grids.items():
                self._tb.add_image(tag, grid, step)
        if self.kinds and GRID_TAG in grids:
            from torchvision.utils import save_image

            with atomic_path(self.watch_dir / f"fixed_z-{step}.png") as tmp:
                save_image(grids[GRID_TAG], tmp, format="png")

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _flat(extra: dict[str, Any]) -> dict[str, float]:
    """The harness's values as TensorBoard tags: ``{"lr": {"g": ..}}`` -> ``lr/g``; the others by ``TAGS``
    (``speed/images_per_s``, ``memory/peak_mib``)."""
    out: dict[str, float] = {}
    for k, v in extra.items():
        if isinstance(v, dict):
            out.update({f"{k}/{name}": float(x) for name, x in v.items()})
        elif v is not None:
            out[TAGS.get(k, k)] = float(v)
    return out


TAGS = {"images_per_s": "speed/images_per_s", "quick_seconds": "speed/quick_seconds", "peak_mem_mib": "memory/peak_mib",
        "peak_rss_mib": "memory/peak_rss_mib"}


def harness_values(model, device: torch.device, images_per_s: float) -> dict[str, Any]:
    """images/s, each optimizer's learning rate (its first parameter group's) and the peak memory."""
    out: dict[str, Any] = {"images_per_s": round(images_per_s, 2)}
    lrs = {name: opt.param_groups[0]["lr"] for name, opt in getattr(model, "optimizers", {}).items()
           if opt.param_groups and isinstance(opt.param_groups[0].get("lr"), (int, float))}
    if lrs:
        out["lr"] = lrs
    if device.type == "cuda":
        out["peak_mem_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    else:  # Linux reports KiB (macOS bytes: there it reads 1024x too high, still a trend)
        out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def cut_jsonl(path: Path, step: int) -> None:
    """Make metrics.jsonl match a state at ``step``: from step 0 there is none; on resume the lines after the
    checkpoint's step (and a line cut short by a kill mid-append) go."""
    if step == 0:
        path.unlink(missing_ok=True)  # a link is removed, never followed
        return
    lines = _lines(path)
    if lines is None:
        return
    kept = [line for line in lines if _step_of(line) is not None and _step_of(line) <= step]
    if len(kept) != len(lines):
        write_text(path, "".join(line + "\n" for line in kept))


def _lines(path: Path) -> list[str] | None:
    """The lines of ``path``, never read through a link (OSError); None when there is no such file."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, errors="replace") as f:
        return f.read().splitlines()


def _step_of(line: str) -> int | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    s = row.get("step") if isinstance(row, dict) else None
    return s if isinstance(s, int) and not isinstance(s, bool) else None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl's rows (JSON objects with an integer step), never read through a link; a line that is not
    one (a kill mid-append) is skipped; no file, or a link: none."""
    try:
        lines = _lines(path) or []
    except OSError:
        return []
    return [json.loads(line) for line in lines if _step_of(line) is not None]


def grid_files(watch_dir: Path) -> list[tuple[int, Path]]:
    """The fixed-latent grids in ``watch_dir`` as (step, path), in step order; none when it is a link."""
    if watch_dir.is_symlink() or not watch_dir.is_dir():
        return []
    found = ((GRID_FILE.fullmatch(f.name), f) for f in watch_dir.iterdir())
    return sorted((int(m.group(1)), f) for m, f in found if m)


def cut_grids(watch_dir: Path, step: int) -> None:
    """Make the grids match a state at ``step``: from step 0 the folder goes; on resume the later steps' grids."""
    if watch_dir.is_symlink() or not watch_dir.is_dir():
        return  # a link is refused before training (RunFolder.refuse_links)
    if step == 0:
        shutil.rmtree(watch_dir)
        return
    for s, f in grid_files(watch_dir):
        if s > step:
            f.unlink()


def cut_events(tb_dir: Path, step: int) -> None:
    """Make the event files match a state at ``step``: from step 0 the folder goes; on resume each event file is
    rewritten (atomically) without the events after ``step`` (a record cut short by a kill goes too)."""
    if tb_dir.is_symlink() or not tb_dir.is_dir():
        return  # a link is refused before training (RunFolder.refuse_links); nothing to cut otherwise
    if step == 0:
        shutil.rmtree(tb_dir)
        return
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    from genbench.io import atomic_path

    for f in sorted(tb_dir.iterdir()):
        if not f.name.startswith(EVENTS_PREFIX) or f.is_symlink() or not f.is_file():
            continue
        records = list(RawEventFileLoader(str(f)).Load())
        kept = [r for r in records if event_pb2.Event.FromString(r).step <= step]
        if len(kept) == len(records) and f.stat().st_size == _framed_size(records):
            continue
        with atomic_path(f) as tmp, tmp.open("wb") as out:
            writer = RecordWriter(out)
            for r in kept:
                writer.write(r)


def _framed_size(records: list[bytes]) -> int:
    """The bytes ``records`` take in a TFRecord file (length 8 + CRC 4 + data + CRC 4 each): less than the
    file's size when a kill left a record cut short at its end."""
    return sum(16 + len(r) for r in records)
