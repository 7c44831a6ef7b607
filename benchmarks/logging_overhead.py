"""What watching a run costs (issue 27): a `small` run of `ours` trained for a few steps with the watch logs off
(``--log none``), on (metrics.jsonl, and TensorBoard: scalars every ``log_every`` steps, sample grid and
reconstructions every ``watch_every`` steps) and on with the quick metrics (genbench.run.quick: swd and fd_rand of
a few hundred samples every ``quick_every`` steps), in one process, the sides alternating repeat by repeat;
medians and the ratios to off. Goal: < 5 % (ratio < 1.05).

The run's real intervals are kept (log_every from the preset); images are logged every ``--watch-every`` steps
(reconstructions with every other grid) and quick metrics computed every ``--quick-every`` steps. The defaults
are a 600-step `small` run of ``ours``'s cadence (images every 60 steps: a tenth of it; quick metrics every 200: a
third) timed over 120 steps; ``--steps 600`` times the whole run (what RESULTS.md reports). One untimed run of
each side first pays the one-time costs (imports).

    OMP_NUM_THREADS=2 nice .venv/bin/python benchmarks/logging_overhead.py --steps 600 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from genbench.api import DataInfo
from genbench.rng import seed_everything
from genbench.run.plan import RunOptions, make_plan
from genbench.run.quick import default_quick_every
from genbench.run.runlog import KINDS, default_watch_every, read_rows
from genbench.run.trainer import Schedule, train
from genbench.store.runfolder import METRICS_LOG, RunFolder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--n-train", type=int, default=2000, help="training images (the bank's rows; speed is per step)")
    ap.add_argument("--watch-every", type=int, help="images every N steps (default: the preset run's, 60 at small)")
    ap.add_argument("--quick-every", type=int, help="quick metrics every N steps (default: the preset run's, 120)")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    plan = make_plan(RunOptions(models=["ours"], preset=a.preset, limit=a.n_train, device=a.device, metrics=["swd"],
                                log=["none"]))  # the preset's run length: the cadence of its logs
    s, cell = plan.settings, plan.grid.in_order()[0]
    from genbench import registry

    data = registry.get_dataset(cell.dataset)().load("train", s.image_size, a.n_train, 0)
    info = DataInfo(cell.dataset, s.image_size, len(data), data.images.shape[1])
    run_steps = plan.configs["ours"].steps
    watch = a.watch_every or default_watch_every(run_steps, s.sample_every)
    quick = a.quick_every or default_quick_every(run_steps)

    def once(side: tuple[tuple[str, ...], int], steps: int) -> float:
        """The seconds ``steps`` steps took with ``side``'s logs; the quick points' own seconds go to ``quick_s``."""
        logs, quick_every = side
        seed_everything(0)
        cfg = plan.configs["ours"]
        from dataclasses import replace

        model = plan.classes["ours"](replace(cfg, steps=steps), info).to(plan.device)
        sched = Schedule(0, ckpt_every=10**9, sample_every=10**9, log_every=s.log_every, logs=logs,
                         watch_every=watch, quick_every=quick_every)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            train(model, data, RunFolder(Path(d)), sched, plan.run_config(cell), progress=False)
            seconds = time.perf_counter() - t0
            quick_s.extend(r["quick_seconds"] for r in read_rows(Path(d) / METRICS_LOG) if "quick_seconds" in r)
            return seconds

    quick_s: list[float] = []

    sides = {"off (`--log none`)": ((), 0), "on, no quick metrics (`quick_every=0`)": (KINDS, 0),
             f"on, quick metrics every {quick} steps{'' if a.quick_every else ' (the default)'}": (KINDS, quick)}
    for side in sides.values():  # warm-up: imports, allocator, the random CNN
        once((side[0], min(side[1], 2)), 2)
    quick_s.clear()
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(a.repeats):
        for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            times[name].append(once(sides[name], a.steps))
            print(f"repeat {r}: {name} {times[name][-1]:.2f}s", flush=True)
    off = statistics.median(times[next(iter(sides))])
    print(f"\nours, preset {a.preset}, {a.steps} steps, log_every {s.log_every}, images every {watch} steps, quick "
          f"metrics every {quick} steps, device {a.device}, {a.repeats} repeats (median)\n")
    print("| logs | seconds | s/step | ratio to off | per-repeat ratios |")
    print("|---|---|---|---|---|")
    for name, t in times.items():
        ratios = ", ".join(f"{b / a_:.3f}" for a_, b in zip(times[next(iter(sides))], t, strict=True))
        print(f"| {name} | {statistics.median(t):.2f} | {statistics.median(t) / a.steps:.3f} | "
              f"{statistics.median(t) / off:.3f} | {ratios} |")
    if quick_s:
        print(f"\nseconds per quick point (speed/quick_seconds): {', '.join(f'{x:.2f}' for x in quick_s)}")


if __name__ == "__main__":
    main()
