"""Speed and peak memory of genbench.metrics.core.prdc against the authors' ``prdc`` package on the same features.

    PYTHONPATH=. .venv/bin/python benchmarks/prdc_speed.py [--n 10000] [--dim 480] [--repeats 3] [--cpus all,1]

Features: random float64 arrays, real ~ N(0, I), fake ~ N(0.03, I), 480-d -- the size of genbench's
random-CNN features (genbench/randcnn.py, DIMS = 32 + 64 + 128 + 256), the feature space genbench has offline.
Each run is a fresh subprocess that loads the arrays from a .npy file and calls one implementation once;
seconds are the call alone (perf_counter around it, imports and loading excluded), minimum over the repeats;
peak memory is that subprocess's ru_maxrss (os.wait4 on it, so nothing else is counted), shown raw, above a
subprocess that only loads the arrays, and above one that loads them and imports the same implementation
without calling it (the computation alone).

CPU configurations (``--cpus``): ``all`` leaves both implementations the machine's cores as they are
(``prdc``: sklearn pairwise distances with n_jobs=8 plus BLAS threads; genbench: torch's intra-op threads);
``1`` pins every subprocess of the configuration to one core (the idlest in a 1 s probe) before it starts, so
neither can use more. On a shared machine other processes slow runs down; each run reports the CPU time
others used on its cores meanwhile (from /proc/stat), so a slow run can be told from a slow implementation.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

KEYS = ("precision", "recall", "density", "coverage")
REPO = Path(__file__).resolve().parent.parent


def busy_cpu_seconds(cpus: set[int] | None = None) -> float:
    """Non-idle CPU seconds since boot of the given CPUs (all if None), from Linux /proc/stat."""
    total = 0
    with open("/proc/stat") as f:
        for line in f:
            name, *ticks = line.split()
            wanted = name == "cpu" if cpus is None else name[3:].isdigit() and int(name[3:]) in cpus
            if not (name.startswith("cpu") and wanted):
                continue
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(t) for t in ticks[:8])
            total += user + nice + system + irq + softirq + steal
    return total / os.sysconf("SC_CLK_TCK")


def worker(mode: str, data: Path) -> dict:
    """One measurement: load the arrays, import what ``mode`` needs, call it (unless a baseline)."""
    real, fake = np.load(data / "real.npy"), np.load(data / "fake.npy")
    out: dict = {}
    if mode.startswith("genbench"):
        from genbench.metrics.core.prdc import prdc as run
    elif mode.startswith("prdc"):
        from prdc import compute_prdc

        def run(real, fake):
            with contextlib.redirect_stdout(io.StringIO()):  # it prints the sample counts
                return compute_prdc(real, fake, nearest_k=5)
    if mode in ("genbench", "prdc"):
        cpus = os.sched_getaffinity(0)
        cpus = None if len(cpus) == os.cpu_count() else cpus
        busy, own, t = busy_cpu_seconds(cpus), os.times(), time.perf_counter()
        values = run(real, fake)
        out["seconds"] = time.perf_counter() - t
        after = os.times()
        out["others_cpu_s"] = busy_cpu_seconds(cpus) - busy - (after.user - own.user + after.system - own.system)
        out["values"] = {k: float(values[k]) for k in KEYS}
    return out


def measure(mode: str, data: Path, cpus: set[int] | None) -> dict:
    """Run ``worker(mode)`` in a fresh interpreter (pinned to ``cpus`` from its start); add its peak RSS, MiB."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    with tempfile.TemporaryFile("w+") as f:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", mode, "--data", str(data)], stdout=f, env=env,
                                preexec_fn=pin)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"worker {mode} failed with exit code {proc.returncode}")
        f.seek(0)
        out = json.loads(f.read().strip().splitlines()[-1])
    out["peak_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return out


def idlest_cpu() -> int:
    before = {c: busy_cpu_seconds({c}) for c in range(os.cpu_count())}
    time.sleep(1)
    return min(before, key=lambda c: busy_cpu_seconds({c}) - before[c])


def report(label: str, data: Path, repeats: int, n: int, dim: int, cpus: set[int] | None) -> None:
    base = {m: measure(m, data, cpus)["peak_mib"] for m in ("arrays", "genbench-imports", "prdc-imports")}
    runs: dict[str, list[dict]] = {"genbench": [], "prdc": []}
    for _ in range(repeats):  # interleaved, so a busy spell of a shared machine hits both
        for name in runs:
            runs[name].append(measure(name, data, cpus))
    g, p = runs["genbench"], runs["prdc"]
    secs = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    peak = {name: max(r["peak_mib"] for r in rs) for name, rs in runs.items()}
    diff = max(abs(a["values"][k] - b["values"][k]) for a in g for b in p for k in KEYS)
    print(f"\nPRDC, {n} real x {n} fake features, {dim}-d float64, k = 5; prdc {version('prdc')}, "
          f"torch {version('torch')}; {label}")
    rows = [(f"seconds (min of {repeats} runs)", secs["genbench"], secs["prdc"]),
            ("peak RSS, MiB", peak["genbench"], peak["prdc"]),
            ("  above arrays-only process", peak["genbench"] - base["arrays"], peak["prdc"] - base["arrays"]),
            ("  above same imports, uncalled", peak["genbench"] - base["genbench-imports"],
             peak["prdc"] - base["prdc-imports"])]
    print(f"{'':32s}{'genbench':>12s}{'prdc':>12s}{'genbench/prdc':>15s}")
    for row, a, b in rows:
        print(f"{row:32s}{a:12.2f}{b:12.2f}{a / b:15.3f}")
    print(f"speed-up: {secs['prdc'] / secs['genbench']:.1f}x")
    for name, rs in runs.items():
        print(f"  {name} runs: " + ", ".join(f"{r['seconds']:.2f} s (others used {r['others_cpu_s']:.1f} CPU-s)"
                                            for r in rs))
    print(f"baselines (peak RSS, MiB): arrays only {base['arrays']:.0f}, + genbench/torch imports "
          f"{base['genbench-imports']:.0f}, + prdc/sklearn imports {base['prdc-imports']:.0f}")
    print("values:  " + "  ".join(f"{k} {g[0]['values'][k]:.6f}" for k in KEYS) + " (genbench)")
    print("         " + "  ".join(f"{k} {p[0]['values'][k]:.6f}" for k in KEYS) + " (prdc)")
    print(f"max |genbench - prdc| over the four values and all runs: {diff:.3g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="samples per side")
    ap.add_argument("--dim", type=int, default=480, help="feature dimension (480 = genbench's random-CNN features)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpus", default="all,1", help="configurations to run: 'all' cores and/or '1' pinned core")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data)))
        return
    with tempfile.TemporaryDirectory(prefix="genbench-prdc-bench-") as tmp:
        data = Path(tmp)
        rng = np.random.default_rng(0)
        np.save(data / "real.npy", rng.standard_normal((args.n, args.dim)))
        np.save(data / "fake.npy", rng.standard_normal((args.n, args.dim)) + 0.03)
        for config in args.cpus.split(","):
            if config == "all":
                report(f"all {os.cpu_count()} CPUs", data, args.repeats, args.n, args.dim, None)
            elif config == "1":
                cpu = idlest_cpu()
                report(f"pinned to CPU {cpu}", data, args.repeats, args.n, args.dim, {cpu})
            else:
                raise SystemExit(f"--cpus takes 'all' and/or '1', not {config!r}")


if __name__ == "__main__":
    main()
