"""What evaluation costs, before and after the evaluation speed-ups (issue 12: the whole evaluation of
one trained `small` model in under a minute on 2 cores, no protocol changed). Two tables:

1. ncc kernel: ``max_ncc`` of a baseline revision vs this checkout, in this process, alternating
   repeat by repeat (medians), on the model's own layer-3 templates (one render chunk) and the
   protocol's training images; with the largest |difference| of the results.
2. evaluation: seconds per metric and the values, for the whole evaluation of the same checkpoint by
   the baseline revision's code and by this checkout, each in a fresh process with a fresh evaluation
   cache (chance levels and reference features computed, as on a first `make demo`), alternating
   old/new ``--repeats`` times (medians). Values must agree (the column says how closely).

The baseline is exported with ``git archive`` into a temporary folder (nothing in the repository
changes). Without ``--run`` a model is first trained at the preset into a temporary folder.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/eval_speed.py --run results/shapes/ours/small-seed0
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_speed.py --preset tiny --steps 5 --repeats 1  # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import ModuleType

import torch

REPO = Path(__file__).resolve().parent.parent
BASELINE = "7e70f4d"  # main before the evaluation speed-ups


def load_run(run: Path):
    """(model in eval mode, EvalContext pieces) from a finished run folder, by this checkout's RunFolder (the
    worker of an older revision rebuilds the model the way that revision did)."""
    try:
        from genbench.runfolder import RunFolder  # the documented path, in every revision since RunFolder
    except ImportError:  # a revision before RunFolder
        return _load_run_before_runfolder(run)
    folder = RunFolder(run)
    model, config = folder.load_model("cpu")
    ds, train, heldout = folder.load_data()
    return model, ds, train, heldout, config


def _load_run_before_runfolder(run: Path):
    import numpy as np

    from genbench import registry
    from genbench.api import DataInfo

    safe = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]  # NumPy's RNG state
    with torch.serialization.safe_globals(safe):
        state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    config = state["config"]
    cls = registry.get_model(config["model_name"])
    ds = registry.get_dataset(config["dataset"])()
    r = config["run"]
    train = ds.load("train", r["image_size"], r["n_train"], 0)
    heldout = ds.load("heldout", r["image_size"], r["n_heldout"], 0) if r["n_heldout"] else None
    model = cls(cls.Config(**config["model"]), DataInfo(ds.name or config["dataset"], r["image_size"], len(train),
                                                        train.images.shape[1]))
    model.load_training_state(state["model"])
    return model.eval(), ds, train, heldout, config


def eval_settings(config) -> tuple[int, int | None, int]:
    """(n_eval, n_fid, seed) of a run: from this checkout's RunConfig, or the config dict of a revision before it."""
    if isinstance(config, dict):
        return config["run"]["n_eval"], config["run"]["n_fid"], config["seed"]
    return config.run.n_eval, config.run.n_fid, config.seed


def evaluate_once(run: Path, metrics: list[str], cache: Path) -> dict[str, dict]:
    """Worker: the whole evaluation with whatever genbench is first on sys.path."""
    model, ds, train, heldout, config = load_run(run)
    try:  # this checkout: settings resolved once, the metric classes themselves
        scores = _scores_now(model, (ds, train, heldout), config, metrics, cache)
    except ImportError:  # a revision before the resolved settings
        scores = _scores_before(model, (ds, train, heldout), config, metrics, cache)
    out: dict[str, dict] = {}
    for plugin, name, value, seconds, extra in scores:
        entry = out.setdefault(plugin, {"seconds": seconds, "values": {}})
        entry["values"][name] = value
        if extra.get("chance") is not None:
            entry["values"][name + ".chance"] = extra["chance"]
    return out


def export_baseline(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "genbench", "plugins"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_worker(code_root: Path, run: Path, metrics: list[str]) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as cache, tempfile.NamedTemporaryFile(suffix=".json") as out:
        env = {**os.environ, "PYTHONPATH": f"{code_root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        subprocess.run([sys.executable, __file__, "--worker", str(run), "--metrics", ",".join(metrics),
                        "--cache", cache, "--out", out.name], check=True, env=env, cwd=code_root)
        return json.loads(Path(out.name).read_text())


def module_from(path: Path, name: str) -> ModuleType:
    mod = ModuleType(name)
    exec(compile(path.read_text(), str(path), "exec"), mod.__dict__)
    return mod


def _scores_now(model, data, config, metrics, cache) -> list[tuple]:
    from genbench import registry
    from genbench.api import EvalContext, EvalSettings
    from genbench.eval.evaluator import score_metrics
    from genbench.metrics.core.weights import WeightsPolicy
    from genbench.run.plan import resolve_spaces
    from genbench.store.records import Record

    n_eval, n_fid, seed = eval_settings(config)
    networks = tuple(resolve_spaces(WeightsPolicy(offline=True)).values())
    settings = EvalSettings(n_eval, n_fid, cache, None, networks)
    ctx = EvalContext(model, *data, torch.device("cpu"), seed, settings)
    classes = [registry.get_metric(m) for m in metrics]
    return [(r.metric_plugin, r.metric, r.value, r.eval_seconds, r.extra)
            for r in score_metrics(ctx, classes, [], Record("", "", "", 0, "", "", step=0), "")]


def _scores_before(model, data, config, metrics, cache) -> list[tuple]:
    """The evaluation as a revision before the resolved settings ran it (an options dict, metric names)."""
    from genbench.evaluator import evaluate

    from genbench.api import EvalContext

    n_eval, n_fid, seed = eval_settings(config)
    ctx = EvalContext(model, *data, torch.device("cpu"), n_eval=n_eval, seed=seed, cache_dir=cache,
                      options={"n_feature_samples": n_fid})
    try:  # the evaluator returns records
        from genbench.records import Record

        return [(r.metric_plugin, r.metric, r.value, r.eval_seconds, r.extra)
                for r in evaluate(ctx, metrics, [], Record("", "", "", 0, "", "", step=0), "")]
    except ImportError:  # a revision before the Record
        return [(s.metric, s.score.name, s.score.value, s.seconds, s.score.extra)
                for s in evaluate(ctx, metrics, [], step=0, log=lambda *a: None)]


def table_ncc(run: Path, baseline: Path, repeats: int) -> None:
    from genbench.api import EvalContext, EvalSettings
    from genbench.metrics.core import ncc as new
    from genbench.metrics.ncc import N_IMAGES, render_chunks

    old = module_from(baseline / "genbench" / "ncc.py", "baseline_ncc")
    model, ds, train, heldout, config = load_run(run)
    n_eval, _, seed = eval_settings(config)
    ctx = EvalContext(model, ds, train, heldout, torch.device("cpu"), seed, EvalSettings(n_eval))
    n_img = min(N_IMAGES, ctx.n_eval, len(train))
    images = train.as_float(torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:n_img]).double()
    templates = [t for r in next(render_chunks(ctx, min(10, ctx.n_eval))) if (t := new.crop_to_support(r)) is not None]
    times: dict[str, list[float]] = {"old": [], "new": []}
    results = {}
    for _ in range(repeats):
        for side, fn in (("old", old.max_ncc), ("new", new.max_ncc)):
            t0 = time.perf_counter()
            results[side] = fn(images, templates, torch.float64)
            times[side].append(time.perf_counter() - t0)
    t_old, t_new = statistics.median(times["old"]), statistics.median(times["new"])
    diff = (results["old"] - results["new"]).abs().max().item()
    print(f"\n## 1. max_ncc: {len(templates)} templates x {n_img} images, float64, median of {repeats}\n\n"
          f"| old s | new s | old/new | max abs diff |\n|---|---|---|---|\n"
          f"| {t_old:.3f} | {t_new:.3f} | {t_old / t_new:.2f} | {diff:.1e} |")


def table_eval(run: Path, baseline: Path, metrics: list[str], repeats: int) -> None:
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(repeats):
        runs["old"].append(run_worker(baseline, run, metrics))
        runs["new"].append(run_worker(REPO, run, metrics))
    print(f"\n## 2. whole evaluation of {run}, seconds per metric (fresh cache), median of {repeats}\n\n"
          "| metric | old s | new s | old/new | max rel diff of values |\n|---|---|---|---|---|")
    total = {"old": 0.0, "new": 0.0}
    for m in runs["new"][0]:
        sec = {side: statistics.median(r[m]["seconds"] for r in runs[side]) for side in runs}
        for side in total:
            total[side] += sec[side]
        rel, where = 0.0, ""
        for k, v in runs["new"][0][m]["values"].items():
            o = runs["old"][0][m]["values"].get(k)
            if v is not None and o is not None:
                if (r := abs(v - o) / max(abs(o), 1e-300)) > rel:
                    rel, where = r, f" ({k}: {o:.6g} -> {v:.6g})"
            elif (v is None) != (o is None):
                rel, where = float("inf"), f" ({k})"
        ratio = sec["old"] / sec["new"] if sec["new"] > 0 else float("nan")
        print(f"| {m} | {sec['old']:.2f} | {sec['new']:.2f} | {ratio:.2f} | {rel:.1e}{where if rel else ''} |")
    print(f"| **all** | {total['old']:.2f} | {total['new']:.2f} | {total['old'] / max(total['new'], 1e-9):.2f} | |")


def train_run(preset: str, steps: int | None, results: Path) -> Path:
    from genbench.run.plan import RunOptions
    from genbench.run.runner import run
    from genbench.store.runfolder import RunFolder

    run(RunOptions(["ours"], preset=preset, results=results, steps=steps, metrics=["sparsity"], device="cpu",
                   progress=False), echo=lambda *a, **k: None)  # the cheapest metric: the evaluations come later
    return RunFolder.of(results, "shapes", "ours", preset, 0).path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", type=Path, help="a finished run folder (default: train `ours` at --preset first)")
    p.add_argument("--preset", default="small", choices=("tiny", "small"))
    p.add_argument("--steps", type=int, help="training steps when training first (default: the preset's)")
    p.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    p.add_argument("--metrics", help="comma-separated (default: all registered)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--tables", default="ncc,eval")
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        warnings.simplefilter("ignore")  # missing-weights notes: the metrics say n/a in the table anyway
        args.out.write_text(json.dumps(evaluate_once(args.worker, args.metrics.split(","), args.cache)))
        return
    from genbench import registry

    metrics = args.metrics.split(",") if args.metrics else registry.names("metrics")
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or train_run(args.preset, args.steps, Path(tmp) / "results")
        baseline = export_baseline(args.baseline, Path(tmp))
        print(f"# eval_speed: {run}, baseline {args.baseline}, cpu ({torch.get_num_threads()} threads), "
              f"torch {torch.__version__}")
        if "ncc" in args.tables:
            table_ncc(run, baseline, args.repeats)
        if "eval" in args.tables:
            table_eval(run, baseline, metrics, args.repeats)


if __name__ == "__main__":
    main()
