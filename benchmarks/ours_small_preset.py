"""How well the ABP family fits `shapes` at the CPU-sized `small` preset, setting by setting.

Trains one model per variant (each a set of `--set` overrides on top of the small preset) on the
embedded shapes data, then reconstructs 128 training images (from their chains) and 128 held-out
images (from a prior draw, as the `mse` metric does). Prints a table of the final training-batch
MSE, both reconstruction MSEs and their ratio to the mean-image MSE (1.0 = no better than predicting
the average face), so the variants compare side by side. This is the measurement behind the small
preset of plugins/ours.py.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ours_small_preset.py   # preset vs paper values
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ours_small_preset.py --model abp --steps 300 \\
        --variant "paper=sigma=1,bank_std=1,fc_k=8,conv_frac=0.25,lr=7e-4,beta1=0" --variant preset=
"""

from __future__ import annotations

import argparse
import time

import torch

from genbench import registry
from genbench.api import DataInfo
from genbench.metrics.mse import reconstruction_mse
from genbench.rng import seed_everything
from genbench.run.config import PRESETS, resolve
from genbench.run.trainer import BatchStream

PAPER = "sigma=1,bank_std=1,fc_k=8,conv_frac=0.25,lr=7e-4,beta1=0"
DEFAULT_VARIANTS = [
    f"paper-values={PAPER}",
    "+optimiser=sigma=1,bank_std=1,fc_k=8,conv_frac=0.25",
    "+sigma,bank=fc_k=8,conv_frac=0.25",
    "+looser-k=",  # the whole small preset
]
N_REC = 128


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    label, _, sets = text.partition("=")
    return label, dict(item.split("=", 1) for item in sets.split(",") if item)


def run_variant(model_name: str, sets: dict[str, str], train, held, steps: int | None, seed: int):
    cls = registry.get_model(model_name)
    if steps is not None:
        sets = {**sets, "steps": str(steps)}
    _, configs = resolve("small", [model_name], {model_name: cls}, None, sets)
    cfg = configs[model_name]
    seed_everything(seed)
    model = cls(cfg, DataInfo("shapes", train.image_size, len(train), train.images.shape[1]))
    stream = BatchStream(train, cfg.batch_size, torch.device("cpu"), seed)
    start, last = time.perf_counter(), []
    for step in range(cfg.steps):
        last = (last + [model.train_step(stream, step)["mse"]])[-50:]
    seconds = time.perf_counter() - start
    rec_train = reconstruction_mse(model, train, N_REC, with_index=True)  # from the chains, as `mse`
    rec_held = reconstruction_mse(model, held, N_REC, with_index=False)  # from a prior draw
    return cfg.steps, sum(last) / len(last), rec_train, rec_held, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="abp-sparse")
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--steps", type=int, default=None, help="override every variant's steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variant", action="append", help="LABEL=key=v,key=v (repeatable)")
    args = ap.parse_args()
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    ds, size = registry.get_dataset("shapes")(), PRESETS["small"]["image_size"]
    train, held = ds.load("train", size, args.n_train, 0), ds.load("heldout", size, N_REC, 0)
    x = train.as_float(slice(0, min(len(train), 2000)))
    mean_img = (x - x.mean(0)).pow(2).mean().item()
    rows = []
    for label, sets in variants:
        steps, train_mse, rec_train, rec_held, seconds = run_variant(
            args.model, sets, train, held, args.steps, args.seed)
        rows.append((label, steps, train_mse, rec_train, rec_held, rec_held / mean_img, seconds))
        print(f"done {label}", flush=True)
    base = rows[0][6]
    print(f"\n{args.model} on shapes, small preset, {args.n_train} training images; "
          f"mean-image MSE {mean_img:.4f}")
    print(f"{'variant':<16}{'steps':>6}{'batch mse':>11}{'rec train':>11}{'rec held':>10}"
          f"{'held/mean':>11}{'time ratio':>12}")
    for label, steps, train_mse, rec_train, rec_held, ratio, seconds in rows:
        print(f"{label:<16}{steps:>6}{train_mse:>11.4f}{rec_train:>11.4f}{rec_held:>10.4f}{ratio:>11.2f}"
              f"{seconds / base:>12.2f}")


if __name__ == "__main__":
    main()
