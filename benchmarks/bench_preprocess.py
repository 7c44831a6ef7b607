"""Preprocessing throughput of the downloaded-data loaders, and the start time of a cached second load.

Builds a fake CelebA folder (``img_align_celeba/000001.jpg`` ...) of N JPEGs cut from the photographs bundled
with scikit-image, at CelebA's 178x218 by default, in a temp folder; then loads it through the ``celeba``
plugin (centre 108 crop, LANCZOS to --size) with 1 and with 2 worker processes, each into a fresh cache, and
loads it again to time a cache hit. Prints a table.

    .venv/bin/python benchmarks/bench_preprocess.py            # N=2000 at 64x64
    .venv/bin/python benchmarks/bench_preprocess.py --n 5000 --source 700x480 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image


def build_folder(folder: Path, n: int, width: int, height: int) -> None:
    import skimage.data

    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        p = photos[i % len(photos)]
        h, w = p.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        img = Image.fromarray(np.ascontiguousarray(p[y:y + ch, x:x + cw])).resize((width, height), Image.BILINEAR)
        img.save(folder / f"{i + 1:06d}.jpg", quality=90)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_load(root: Path, cache: Path, size: int, n: int, workers: int):
    from genbench.datasets.celeba import CelebA

    t0, c0 = time.perf_counter(), cpu_seconds()
    s = CelebA().load("train", size, n, data_root=root, cache_dir=cache, workers=workers)
    return time.perf_counter() - t0, s, cpu_seconds() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="images in the fake folder (default 2000)")
    ap.add_argument("--source", default="178x218", help="source image WxH (default CelebA's 178x218)")
    ap.add_argument("--size", type=int, default=64, help="target resolution (default 64)")
    ap.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    args = ap.parse_args()
    width, height = (int(v) for v in args.source.lower().split("x"))
    workers = [int(w) for w in args.workers.split(",")]

    with tempfile.TemporaryDirectory(prefix="genbench-bench-") as tmp:
        tmp = Path(tmp)
        root = tmp / "celeba"
        t0 = time.perf_counter()
        build_folder(root / "img_align_celeba", args.n + args.n // 9 + 1, width, height)
        print(f"built {args.n + args.n // 9 + 1} JPEGs of {width}x{height} in {time.perf_counter() - t0:.1f}s "
              f"(cpu count {os.cpu_count()}); training split = first {args.n}", file=sys.stderr)
        rows = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for w in workers:
                seconds, s, cpu = timed_load(root, tmp / f"cache-w{w}", args.size, args.n, w)
                rows.append((w, seconds, len(s) / seconds, len(s) / cpu))
            cold, s1, _ = timed_load(root, tmp / "cache-hit", args.size, args.n, max(workers))
            warm, s2, _ = timed_load(root, tmp / "cache-hit", args.size, args.n, max(workers))
            assert s2.meta["cache_hit"] and np.array_equal(s1.images.numpy(), s2.images.numpy())
            t0 = time.perf_counter()
            s2.as_float(slice(0, 100)).sum()  # first batch from the memory map
            first_batch = time.perf_counter() - t0

    print(f"\npreprocessing {args.n} images {width}x{height} -> {args.size}x{args.size} (centre 108 crop, LANCZOS)")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall-clock figures include other "
          f"processes' contention; images per CPU-second do not)")
    print(f"{'workers':>7} | {'seconds':>8} | {'images/s':>9} | {'vs 1 worker':>11} | {'images/cpu-s':>12}")
    print(f"{'-' * 7}-+-{'-' * 8}-+-{'-' * 9}-+-{'-' * 11}-+-{'-' * 12}")
    base = next((r[2] for r in rows if r[0] == 1), rows[0][2])
    for w, sec, ips, ipc in rows:
        print(f"{w:>7} | {sec:>8.2f} | {ips:>9.0f} | {ips / base:>10.2f}x | {ipc:>12.0f}")
    print(f"\nload with preprocessing ({max(workers)} workers): {cold:.2f}s;  cached second load: {warm * 1000:.1f} ms "
          f"(+{first_batch * 1000:.1f} ms for a first batch of 100 from the memory map);  {cold / warm:.0f}x faster")


if __name__ == "__main__":
    main()
