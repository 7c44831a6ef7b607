"""Compare genbench's FID feature extraction with pytorch-fid's own CLI on the same images.

    .venv/bin/python benchmarks/fid_vs_pytorch_fid.py [--n 16] [--size 32]

No real Inception weights exist offline, so this uses RANDOM weights (seeded Kaiming-normal convs in
pytorch-fid's FID-InceptionV3 architecture) saved to a temp file. That file is UNVERIFIED: its SHA-256
does not start with 6726825d, so genbench's FID refuses it; the script passes it to genbench only through
the explicit unverified hook (``inception.load(path, allow_unverified=True)``, the same switch as
``genbench run --allow-unverified-weights``, whose scores are named fid_unverified). pytorch-fid has no
path option: the file is copied into a temp ``$TORCH_HOME/hub/checkpoints/`` under pytorch-fid's file
name, where its CLI loads it unchecked (torch.hub checks hashes only while downloading). The FID values
are therefore meaningless as FIDs; what is compared is that both programs compute the same numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genbench.datasets.shapes import Shapes
from genbench.metrics.core import inception
from genbench.metrics.core.frechet import feature_stats, frechet_distance
from genbench.metrics.core.weights import sha256_file


def random_weights(path: Path, seed: int = 0) -> None:
    torch.manual_seed(seed)
    net = inception.fid_inception_architecture()
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    torch.save(net.state_dict(), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=16, help="images per set")
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="genbench-fid-bench-"))
    hub = tmp / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    weights = hub / inception.FILENAMES[0]
    random_weights(weights)
    real = Shapes().load("train", args.size, n=args.n).images
    fake = Shapes().load("heldout", args.size, n=args.n).images
    dirs = {}
    for name, imgs in (("real", real), ("fake", fake)):
        d = dirs[name] = tmp / name
        d.mkdir()
        for i, im in enumerate(imgs):
            Image.fromarray(im.permute(1, 2, 0).numpy()).save(d / f"{i:04d}.png")

    print(f"RANDOM, UNVERIFIED Inception weights (not FID!): {weights} sha256 "
          f"{sha256_file(weights)[:16]}... ({weights.stat().st_size / 1e6:.1f} MB)")

    # genbench: uint8 -> [-1, 1] (ImageSet.as_float) -> its extractor, through the explicit unverified hook
    t0 = time.perf_counter()
    net = inception.load(weights, allow_unverified=True)
    ex = inception.InceptionExtractor(net, "random-unverified", batch_size=args.n)
    f_real = ex(real.float() / 127.5 - 1)
    f_fake = ex(fake.float() / 127.5 - 1)
    fid_eigh = frechet_distance(*feature_stats(f_real), *feature_stats(f_fake))
    t_gen = time.perf_counter() - t0
    fid_sqrtm = frechet_distance(*feature_stats(f_real), *feature_stats(f_fake), method="sqrtm")

    # pytorch-fid's own CLI on the PNG files, reading the same file from its hub cache
    env = {**os.environ, "TORCH_HOME": str(tmp / "torch")}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "pytorch_fid", str(dirs["real"]), str(dirs["fake"]),
                          "--device", "cpu", "--batch-size", str(args.n), "--num-workers", "0"],
                         env=env, capture_output=True, text=True)
    t_cli = time.perf_counter() - t0
    m = re.search(r"FID:\s+([-\d.eE+]+)", res.stdout)
    if res.returncode or not m:
        sys.exit(f"pytorch-fid CLI failed:\n{res.stdout}\n{res.stderr}")
    fid_cli = float(m.group(1))

    # pytorch-fid's feature extractor via its API (same cached file), for a per-feature comparison
    os.environ["TORCH_HOME"] = str(tmp / "torch")
    from pytorch_fid.fid_score import get_activations
    from pytorch_fid.inception import InceptionV3
    ref = InceptionV3([3]).eval()
    files = sorted(dirs["real"].glob("*.png"))
    a_ref = get_activations(files, ref, batch_size=args.n, dims=2048, device="cpu", num_workers=0)
    diff = np.abs(a_ref - f_real)
    rel = diff.max() / np.abs(a_ref).max()

    rows = [("FID (random weights)", f"{fid_eigh:.6g}", f"{fid_cli:.6g}", f"{fid_eigh / fid_cli:.6f}"),
            ("  genbench sqrtm path", f"{fid_sqrtm:.6g}", f"{fid_cli:.6g}", f"{fid_sqrtm / fid_cli:.6f}"),
            ("wall time (s), 2 sets", f"{t_gen:.2f}", f"{t_cli:.2f}", f"{t_gen / t_cli:.3f}"),
            ("max |feature| (real)", f"{np.abs(f_real).max():.6g}", f"{np.abs(a_ref).max():.6g}",
             f"{np.abs(f_real).max() / np.abs(a_ref).max():.6f}")]
    print(f"\n{args.n} + {args.n} shapes images at {args.size}px, CPU, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'':24s} {'genbench':>12s} {'pytorch-fid':>12s} {'ratio':>10s}")
    for r in rows:
        print(f"{r[0]:24s} {r[1]:>12s} {r[2]:>12s} {r[3]:>10s}")
    print(f"per-feature max |genbench - pytorch-fid API| = {diff.max():.3g} (relative {rel:.3g})")
    print("(pytorch-fid's time includes its process start-up and model build; genbench's includes the model build)")


if __name__ == "__main__":
    main()
