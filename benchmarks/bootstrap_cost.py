"""What the bootstrap intervals cost (issue 19, part 1; goal: at most 15 % of one evaluation), and how close the
SWD replicates' grid comes to the exact W1 of each resample.

1. evaluation: the whole evaluation of one trained model (every metric that applies, ``copying`` included),
   in this process, first with a fresh cache (chance levels and reference features computed, as on a first
   ``make demo``), then again with them cached (as for every further model of a grid); per metric the seconds
   it took and the seconds its bootstrap took (``extra['ci_seconds']``, summed over its scores), and the share.
   The generator-only row (the metrics that need nothing but a generator) is what a GAN's evaluation runs.
2. SWD replicates: on the run's real and generated images, B = 100 resamples and 32 directions per pyramid
   level, each replicate's W1 computed exactly (every merged value) and as the metric computes it (each image's
   CDF at a grid of quantile points): their spread (std), the largest difference of the centred replicates,
   and seconds.
3. feature-distance intervals (``--intervals-only`` runs just this): seconds of the split-half intervals of KID
   and FD before (halves and quarters, issue 29) and now (KID: halves and swapped halves in one pass over the
   kernel matrices; FD: halves and quarters), on the same features.

Without ``--run`` a model is first trained at the preset into a temporary folder (``--steps``: evaluation
cost does not depend on how long the model trained).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bootstrap_cost.py --model ours --preset small --steps 50
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bootstrap_cost.py --model wgan --preset tiny --steps 5  # smoke
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bootstrap_cost.py --intervals-only
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def train(model: str, preset: str, steps: int, results: Path) -> Path:
    from genbench.run.plan import RunOptions
    from genbench.run.runner import run

    outcomes = run(RunOptions([model], preset=preset, steps=steps, results=results, metrics=["sparsity"],
                              progress=False), echo=lambda *a, **k: None)
    assert outcomes[0].status == "finished", outcomes[0].message
    return outcomes[0].run_dir


def evaluation_table(run: Path, cache: Path, which: str = "fresh cache") -> list[str]:
    from genbench import registry
    from genbench.api import EvalContext, EvalSettings
    from genbench.eval.evaluator import score_metrics
    from genbench.metrics.core.weights import WeightsPolicy
    from genbench.run.plan import resolve_spaces
    from genbench.store.records import Record
    from genbench.store.runfolder import RunFolder

    folder = RunFolder(run)
    model, config = folder.load_model("cpu")
    ds, train_set, heldout = folder.load_data()
    metrics = [registry.get_metric(name) for name in sorted(registry.discover("metrics"))]
    networks = tuple(resolve_spaces(WeightsPolicy(offline=True)).values())
    settings = EvalSettings(config.run.n_eval, config.run.n_fid, cache, None, networks)
    ctx = EvalContext(model, ds, train_set, heldout, torch.device("cpu"), config.seed, settings)
    base = Record(config.dataset, config.model_name, config.preset, config.seed, metric="", status="")
    t0 = time.perf_counter()
    records = score_metrics(ctx, metrics, [], base, "now")
    total = time.perf_counter() - t0
    per: dict[str, list[float]] = {}
    for r in records:
        seconds, boot = per.setdefault(r.metric_plugin, [r.eval_seconds, 0.0])
        per[r.metric_plugin][1] = boot + float((r.extra or {}).get("ci_seconds", 0.0))
    lines = [f"### whole evaluation of {run} ({config.model_name}, {config.preset}), seconds per metric "
             f"({which})", "", "| metric | evaluation s | bootstrap s | bootstrap share |", "|---|---|---|---|"]
    skipped = sorted(name for name, (seconds, boot) in per.items() if seconds == 0 and boot == 0)
    for name, (seconds, boot) in sorted(per.items()):
        if name in skipped:  # recorded as unavailable or not applicable, no time taken
            continue
        share = f"{100 * boot / seconds:.1f} %" if seconds > 0 and boot > 0 else ""
        lines.append(f"| {name} | {seconds:.2f} | {boot:.2f} | {share} |")
    boot_all = sum(b for _, b in per.values())
    generator_only = {m.name for m in metrics if m.requires <= {"generator"}}
    gen = [v for k, v in per.items() if k in generator_only]
    g_eval, g_boot = sum(s for s, _ in gen), sum(b for _, b in gen)
    lines += [f"| **all** | {total:.2f} | {boot_all:.2f} | **{100 * boot_all / total:.1f} %** |",
              f"| generator metrics only | {g_eval:.2f} | {g_boot:.2f} | {100 * g_boot / max(g_eval, 1e-9):.1f} % |"]
    if skipped:
        lines += ["", "Not run (0 s: their space or network is not on this machine, or the model lacks what they "
                  f"need): {', '.join(skipped)}."]
    return lines


def _exact_w1(pa, ia, pb, ib, n: int, per_image: int, w: list[np.ndarray]) -> np.ndarray:
    """Exact W1 of every resampled pair of sets, summed over the directions (columns): the merged sorted values
    with signed weights multiplicity / (n p), |cumulative sum| times the gaps (no grid)."""
    out = np.zeros(len(w[0]))
    both = np.concatenate(w, 1) / (n * per_image)
    for j in range(pa.shape[1]):
        values = torch.cat([pa[:, j], pb[:, j]])
        order = torch.argsort(values)
        owner = torch.cat([ia[:, j] // per_image, n + ib[:, j] // per_image])[order].numpy()
        sign = np.where(order.numpy() < len(pa), 1.0, -1.0)
        gaps = values[order].diff().numpy()
        for s in range(0, len(out), 16):  # replicates in blocks that stay in cache
            cdf = np.cumsum(both[s:s + 16][:, owner] * sign, axis=1)[:, :-1]
            out[s:s + 16] += np.abs(cdf) @ gaps
    return out


def swd_table(run: Path, b: int = 100, directions: int = 128) -> list[str]:
    from genbench.metrics import swd as S
    from genbench.metrics.core import bootstrap as bs
    from genbench.store.runfolder import RunFolder

    folder = RunFolder(run)
    model, config = folder.load_model("cpu")
    _, train_set, _ = folder.load_data()
    seed = config.seed
    n = min(config.run.n_eval, len(train_set))
    real = train_set.as_float(torch.randperm(len(train_set), generator=torch.Generator().manual_seed(seed))[:n])
    fake = model.sample(n, seed=seed + 1)
    gen = torch.Generator().manual_seed(5)
    sorted_pairs = []
    for level, (lr, lf) in enumerate(zip(S.laplacian_pyramid(real.double()), S.laplacian_pyramid(fake.double()),
                                         strict=True)):
        da = S.patch_descriptors(lr, S.PATCHES_PER_IMAGE, torch.Generator().manual_seed(seed * 1000 + level))
        db = S.patch_descriptors(lf, S.PATCHES_PER_IMAGE, torch.Generator().manual_seed(seed * 1000 + level))
        d = torch.randn(da.shape[1], directions, generator=gen, dtype=torch.float64)
        d = d / d.norm(dim=0, keepdim=True)
        sorted_pairs.append((*torch.sort(da @ d, dim=0), *torch.sort(db @ d, dim=0)))
    drawn = bs.draws({"real": n, "generated": n}, b)
    t0 = time.perf_counter()
    exact = sum(_exact_w1(*p, n, S.PATCHES_PER_IMAGE, drawn) for p in sorted_pairs)
    rows = [("exact (every value)", exact / (directions * len(sorted_pairs)) * 1e3, time.perf_counter() - t0)]
    for grid in sorted({16, 64, 128, 256, bs.SWD_GRID}):
        acc = bs.SlicedReplicates(n, S.PATCHES_PER_IMAGE, b=b, grid=grid)
        for p in sorted_pairs:
            acc.add(*p)
        rows.append((f"grid of {grid}" + (" (the metric's)" if grid == bs.SWD_GRID else ""),
                     (acc.total / acc.directions * 1e3).numpy(), acc.seconds))
    ref = rows[0][1]
    lines = [f"### 2. SWD replicates: grid vs exact W1, {n} real and {n} generated images, all "
             f"{S.PATCHES_PER_IMAGE} patches, {directions} directions per level, B = {b}", "",
             "| replicates | std | vs exact | max abs deviation from exact, centred | seconds |",
             "|---|---|---|---|---|"]
    for name, reps, seconds in rows:
        dev = np.abs((reps - reps.mean()) - (ref - ref.mean())).max()
        lines.append(f"| {name} | {reps.std():.4f} | {100 * (reps.std() / ref.std() - 1):+.1f} % | {dev:.4f} | "
                     f"{seconds:.1f} |")
    return lines


def distance_interval_table(sizes=((500, 480), (90, 480), (2048, 64), (2048, 1280)), repeats: int = 3) -> list[str]:
    """Seconds of the split-half intervals of KID and FD before (halves and quarters, B = 200 and 100: KID's from
    ``kernel_replicates`` on ``split_masks``' rows, as the metric had it) and now (``kernel_interval``,
    ``frechet_interval``) on the same features (|N(0, 1)| vectors; 480 is the random CNN's dimension, 1280
    effnet's), best of ``repeats`` (one at 1280-d)."""
    from genbench.metrics.core import bootstrap as bs

    rng = np.random.default_rng(0)
    lines = ["### 3. feature-distance intervals, before vs now, seconds (best of "
             f"{repeats}; of 1 at 1280-d)", "", "| n per side | d | KID before | KID now | now/before | FD now |",
             "|---|---|---|---|---|---|"]
    for n, d in sizes:
        r, f = np.abs(rng.standard_normal((n, d))), np.abs(rng.standard_normal((n, d))) * 1.05
        two = {"real": n, "generated": n}
        runs = {"kid before": (lambda a, b, two=two: bs.kernel_replicates(a, b)(*bs.split_masks(two))),
                "kid now": (lambda a, b: bs.kernel_interval(0.0, a, b)),
                "fd now": (lambda a, b: bs.frechet_interval(0.0, a, b))}
        t = {}
        for name, fn in runs.items():
            times = []
            for _ in range(repeats if d < 1000 else 1):
                t0 = time.perf_counter()
                fn(r, f)
                times.append(time.perf_counter() - t0)
            t[name] = min(times)
        lines.append(f"| {n} | {d} | {t['kid before']:.2f} | {t['kid now']:.2f} | "
                     f"{t['kid now'] / t['kid before']:.2f} | {t['fd now']:.2f} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", type=Path, help="a trained run folder (default: train one)")
    p.add_argument("--model", default="ours")
    p.add_argument("--preset", default="small")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--intervals-only", action="store_true", help="only table 3 (no model, no evaluation)")
    args = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.intervals_only:
        print("\n".join(distance_interval_table()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or train(args.model, args.preset, args.steps, Path(tmp) / "results")
        print("\n".join(evaluation_table(run, Path(tmp) / "cache")), flush=True)
        print()
        print("\n".join(evaluation_table(run, Path(tmp) / "cache", "second evaluation: chance levels and "
                                                                  "reference features cached")), flush=True)
        print()
        print("\n".join(swd_table(run)))


if __name__ == "__main__":
    main()
