"""What watching a run costs (issue 27): a `small` run of `ours` trained for a few steps with the watch logs off
(``--log none``) and on (metrics.jsonl, and TensorBoard: scalars every ``log_every`` steps, sample grid and
reconstructions every ``watch_every`` steps), in one process, the sides alternating repeat by repeat; medians and
the ratio on / off. Goal: < 5 % (ratio < 1.05).

The run's real intervals are kept (log_every from the preset); images are logged every ``--watch-every`` steps
(default: the run length, so once per timed run at its last step, as a 1500-step `small` run does every 150 steps:
a tenth of it; with fewer timed steps this overstates the image share). One untimed run of each side first pays
the one-time costs (imports).

    OMP_NUM_THREADS=2 nice .venv/bin/python benchmarks/logging_overhead.py --steps 60 --repeats 3
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
from genbench.run.runlog import KINDS
from genbench.run.trainer import Schedule, train
from genbench.store.runfolder import RunFolder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-train", type=int, default=2000, help="training images (the bank's rows; speed is per step)")
    ap.add_argument("--watch-every", type=int, help="images every N steps (default: --steps)")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    plan = make_plan(RunOptions(models=["ours"], preset=a.preset, steps=a.steps, limit=a.n_train, device=a.device,
                                metrics=["swd"], log=["none"]))
    s, cell = plan.settings, plan.grid.in_order()[0]
    from genbench import registry

    data = registry.get_dataset(cell.dataset)().load("train", s.image_size, a.n_train, 0)
    info = DataInfo(cell.dataset, s.image_size, len(data), data.images.shape[1])
    watch = a.watch_every or a.steps

    def once(logs: tuple[str, ...], steps: int) -> float:
        seed_everything(0)
        cfg = plan.configs["ours"]
        from dataclasses import replace

        model = plan.classes["ours"](replace(cfg, steps=steps), info).to(plan.device)
        sched = Schedule(0, ckpt_every=10**9, sample_every=10**9, log_every=s.log_every, logs=logs,
                         watch_every=watch)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            train(model, data, RunFolder(Path(d)), sched, plan.run_config(cell), progress=False)
            return time.perf_counter() - t0

    sides = {"off": (), "on": KINDS}
    for logs in sides.values():  # warm-up: imports, allocator
        once(logs, 2)
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(a.repeats):
        for name in (("off", "on") if r % 2 == 0 else ("on", "off")):
            times[name].append(once(sides[name], a.steps))
            print(f"repeat {r}: {name} {times[name][-1]:.2f}s", flush=True)
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    ratios = [b / a_ for a_, b in zip(times["off"], times["on"], strict=True)]
    print(f"\nours, preset {a.preset}, {a.steps} steps, log_every {s.log_every}, images every {watch} steps, "
          f"device {a.device}, {a.repeats} repeats (median)\n")
    print("| logs | seconds | s/step | ratio to off |")
    print("|---|---|---|---|")
    print(f"| off (`--log none`) | {off:.2f} | {off / a.steps:.3f} | 1.000 |")
    print(f"| on (`--log jsonl,tensorboard`) | {on:.2f} | {on / a.steps:.3f} | {on / off:.3f} |")
    print(f"\nper-repeat ratios on/off: {', '.join(f'{x:.3f}' for x in ratios)}")


if __name__ == "__main__":
    main()
