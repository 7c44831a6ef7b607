"""Speed and peak memory of genbench.prdc against the authors' ``prdc`` package on the same features.

    PYTHONPATH=. .venv/bin/python benchmarks/prdc_speed.py [--n 10000] [--dim 480] [--repeats 3]

Features: random float64 arrays, real ~ N(0, I), fake ~ N(0.03, I), 480-d -- the size of genbench's
random-CNN features (genbench/randcnn.py, DIMS = 32 + 64 + 128 + 256), the feature space genbench has offline.
Each run is a fresh subprocess that loads the arrays from a .npy file and calls one implementation once;
seconds are the call alone (perf_counter around it, imports and loading excluded), minimum over the repeats;
peak memory is that subprocess's ru_maxrss (os.wait4 on it, so nothing else is counted), shown raw, above a
subprocess that only loads the arrays, and above one that loads them and imports the same implementation
without calling it (the computation alone). Both implementations use the machine's cores as they are
(``prdc``: sklearn pairwise distances with n_jobs=8 and BLAS threads; genbench: torch's intra-op threads).
On a shared machine other processes slow either run down; each run reports the CPU time others used during
it (from /proc/stat), so a slow run can be told from a slow implementation.
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


def worker(mode: str, data: Path) -> dict:
    """One measurement: load the arrays, import what ``mode`` needs, call it (unless a baseline)."""
    real, fake = np.load(data / "real.npy"), np.load(data / "fake.npy")
    out: dict = {}
    if mode.startswith("genbench"):
        from genbench.prdc import prdc as run
    elif mode.startswith("prdc"):
        from prdc import compute_prdc

        def run(real, fake):
            with contextlib.redirect_stdout(io.StringIO()):  # it prints the sample counts
                return compute_prdc(real, fake, nearest_k=5)
    if mode in ("genbench", "prdc"):
        busy, own, t = busy_cpu_seconds(), os.times(), time.perf_counter()
        values = run(real, fake)
        out["seconds"] = time.perf_counter() - t
        after = os.times()
        # the machine is shared: CPU time others used meanwhile (all busy time minus this process's)
        out["others_cpu_s"] = busy_cpu_seconds() - busy - (after.user - own.user + after.system - own.system)
        out["values"] = {k: float(values[k]) for k in KEYS}
    return out


def busy_cpu_seconds() -> float:
    """Non-idle CPU seconds of the whole machine since boot (Linux /proc/stat, all CPUs together)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, data: Path) -> dict:
    """Run ``worker(mode)`` in a fresh interpreter; add its own peak RSS in MiB (Linux reports KiB)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryFile("w+") as f:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", mode, "--data", str(data)], stdout=f, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"worker {mode} failed with exit code {proc.returncode}")
        f.seek(0)
        out = json.loads(f.read().strip().splitlines()[-1])
    out["peak_mib"] = usage.ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="samples per side")
    ap.add_argument("--dim", type=int, default=480, help="feature dimension (480 = genbench's random-CNN features)")
    ap.add_argument("--repeats", type=int, default=3)
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
        base = {m: measure(m, data)["peak_mib"] for m in ("arrays", "genbench-imports", "prdc-imports")}
        runs: dict[str, list[dict]] = {"genbench": [], "prdc": []}
        for _ in range(args.repeats):  # interleaved, so a slow spell of a shared machine hits both
            for name in runs:
                runs[name].append(measure(name, data))

    g, p = runs["genbench"], runs["prdc"]
    secs = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    peak = {name: max(r["peak_mib"] for r in rs) for name, rs in runs.items()}
    diff = max(abs(a["values"][k] - b["values"][k]) for a in g for b in p for k in KEYS)
    print(f"PRDC, {args.n} real x {args.n} fake features, {args.dim}-d float64, k = 5; prdc {version('prdc')}, "
          f"torch {version('torch')}, {os.cpu_count()} CPUs")
    rows = [(f"seconds (min of {args.repeats} runs)", secs["genbench"], secs["prdc"]),
            ("peak RSS, MiB", peak["genbench"], peak["prdc"]),
            ("  above arrays-only process", peak["genbench"] - base["arrays"], peak["prdc"] - base["arrays"]),
            ("  above same imports, uncalled", peak["genbench"] - base["genbench-imports"],
             peak["prdc"] - base["prdc-imports"])]
    print(f"{'':32s}{'genbench':>12s}{'prdc':>12s}{'genbench/prdc':>15s}")
    for label, a, b in rows:
        print(f"{label:32s}{a:12.2f}{b:12.2f}{a / b:15.3f}")
    print(f"speed-up: {secs['prdc'] / secs['genbench']:.1f}x")
    for name, rs in runs.items():
        print(f"  {name} runs: " + ", ".join(f"{r['seconds']:.2f} s (others used {r['others_cpu_s']:.1f} CPU-s)"
                                            for r in rs))
    print(f"baselines (peak RSS, MiB): arrays only {base['arrays']:.0f}, + genbench/torch imports "
          f"{base['genbench-imports']:.0f}, + prdc/sklearn imports {base['prdc-imports']:.0f}")
    print("values:  " + "  ".join(f"{k} {g[0]['values'][k]:.6f}" for k in KEYS) + " (genbench)")
    print("         " + "  ".join(f"{k} {p[0]['values'][k]:.6f}" for k in KEYS) + " (prdc)")
    print(f"max |genbench - prdc| over the four values and all runs: {diff:.3g}")


if __name__ == "__main__":
    main()
