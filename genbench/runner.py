"""``genbench run`` as a function: resolve configs, load data once, then per model train (resuming),
evaluate, and write the run's records. The CLI is a thin layer over ``run_benchmark``."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

import genbench
from genbench import distributed, registry
from genbench import results as store
from genbench.accel import Acceleration
from genbench.api import DataInfo, Dataset, EvalContext, ImageSet
from genbench.config import RunSettings, resolve
from genbench.errors import GenbenchError
from genbench.evaluator import evaluate
from genbench.lock import run_lock
from genbench.results import flatten, git_commit, now, read_run, run_dir, versions, write_run
from genbench.trainer import pick_device, seed_everything, train
from genbench.validate import check_data, check_models, check_results_folder, check_weights


@dataclass
class Shared:
    """What every run of one ``run_benchmark`` call shares: the data, the settings and the outputs."""

    dataset: Dataset
    train: ImageSet
    heldout: ImageSet | None
    run: RunSettings
    seed: int
    device: torch.device
    metrics: list[str]
    explicit: bool  # metrics were named (an unavailable one is then an error)
    fresh: bool
    progress: bool
    eval_options: dict[str, Any]
    results: Path
    echo: Callable[..., None]
    accel: Acceleration


@dataclass
class RunOutcome:
    model: str
    run_dir: Path
    status: str
    message: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def run_benchmark(models: list[str], dataset: str = "shapes", preset: str = "small", seed: int = 0,
                  results: Path | str = "results", metrics: list[str] | None = None,
                  sets: dict[str, Any] | None = None, file_values: dict[str, Any] | None = None,
                  device: str = "auto", fresh: bool = False, progress: bool = True,
                  data_options: dict[str, Any] | None = None, eval_options: dict[str, Any] | None = None,
                  echo=print, accel: Acceleration | None = None) -> list[RunOutcome]:
    results = Path(results)
    classes = {m: registry.get_model(m) for m in models}
    ds = registry.get_dataset(dataset)()
    metric_names = metrics if metrics is not None else registry.names("metrics")
    for m in metric_names:
        registry.get_metric(m)
    run, configs = resolve(preset, models, classes, file_values, sets)
    check_weights(metric_names, dict(eval_options or {}), metrics is not None)
    check_results_folder(results)
    dev = pick_device(device)
    group = distributed.init(dev)  # None unless started by torchrun with several processes
    if group is not None:
        dev, progress = group.device, progress and group.is_main
        echo = echo if group.is_main else _silent
    accel = accel or Acceleration()
    data_options = dict(data_options or {})
    with distributed.main_first():  # rank 0 fills the data cache, the others read it
        train_set = ds.load("train", run.image_size, run.n_train, 0, **data_options)
        heldout = ds.load("heldout", run.image_size, run.n_heldout, 0, **data_options) if run.n_heldout else None
    check_data(dataset, train_set, heldout, run.image_size)
    seed_everything(seed)
    check_models(classes, configs, DataInfo(ds.name or dataset, run.image_size, len(train_set), 3), train_set, dev,
                 {m: registry.discover("models")[m].source for m in models})
    echo(f"dataset {dataset}: {len(train_set)} training images at {run.image_size}x{run.image_size}"
         + (f", {len(heldout)} held out" if heldout is not None else "") + f"; device {dev}")

    shared = Shared(ds, train_set, heldout, run, seed, dev, metric_names, metrics is not None, fresh, progress,
                    dict(eval_options or {}), results, echo, accel)
    outcomes = []
    for name in models:
        cfg = configs[name]
        rdir = run_dir(results, dataset, name, preset, seed)
        config = run_config(dataset, preset, seed, name, run, cfg, data_options, accel)
        try:
            lock = run_lock(rdir, echo) if distributed.is_main() else contextlib.nullcontext()  # rank 0 owns rdir
            with lock:
                outcomes.append(_run_one(shared, classes[name], name, cfg, config, rdir))
        except GenbenchError:
            raise
        except Exception as exc:  # one model's bug must not lose the others' runs
            rdir.mkdir(parents=True, exist_ok=True)
            (rdir / "error.log").write_text(traceback.format_exc())
            msg = f"{name} failed: {type(exc).__name__}: {exc} (traceback in {rdir / 'error.log'})"
            echo(f"[red]{msg}[/]")
            outcomes.append(RunOutcome(name, rdir, "error", msg))
    return outcomes


def run_config(dataset: str, preset: str, seed: int, name: str, run, cfg, data_options: dict[str, Any],
               accel: Acceleration | None = None) -> dict[str, Any]:
    """The resolved configuration of one run, as saved in its config.json (what resume compares)."""
    config = {"dataset": dataset, "preset": preset, "seed": seed, "model_name": name,
              "run": asdict(run), "model": cfg.to_dict(),
              "data_options": {k: str(v) for k, v in data_options.items()}}
    if accel is not None and accel.config():
        config["train"] = accel.config()
    return config


def _silent(*args, **kwargs) -> None:
    pass


def _run_one(shared: Shared, cls, name: str, cfg, config: dict[str, Any], rdir: Path) -> RunOutcome:
    """Train one model (resuming), evaluate it, and write its run folder's records."""
    sh = shared
    train_set, heldout, ds, run, seed, dev, echo = sh.train, sh.heldout, sh.dataset, sh.run, sh.seed, sh.device, sh.echo
    metric_names, explicit = sh.metrics, sh.explicit
    seed_everything(seed)
    info = DataInfo(ds.name or config["dataset"], run.image_size, len(train_set), train_set.images.shape[1])
    model = cls(cfg, info).to(dev)
    main = distributed.is_main()  # rank 0 alone writes the run folder and evaluates; others use a scratch one
    train_dir = rdir if main else Path(tempfile.mkdtemp(prefix="genbench-rank-"))
    try:
        res = train(model, train_set, train_dir, config, steps=cfg.steps, seed=seed, ckpt_every=run.ckpt_every,
                    sample_every=run.sample_every, log_every=run.log_every, progress=sh.progress, fresh=sh.fresh,
                    label=name, accel=sh.accel, echo=echo)
    finally:
        if not main:
            shutil.rmtree(train_dir, ignore_errors=True)
    if not main:
        return RunOutcome(name, rdir, res.status, res.message, seconds=res.seconds)
    base = {"dataset": config["dataset"], "model": name, "preset": config["preset"], "seed": seed,
            "step": res.step, "config": flatten(config), "versions": versions(), "git_commit": git_commit(),
            "device": store.device_name(dev)}
    run_meta = {**{k: v for k, v in base.items() if k != "config"}, "status": res.status,
                "train_seconds": round(res.seconds, 2), "images_per_s": round(res.images_per_s, 1),
                "resumed_from": res.resumed_from, "genbench": genbench.__version__}
    previous = read_run(rdir)
    if res.status != "finished":
        write_run(rdir, {**previous.get("run", {}), **run_meta},
                  store.failed_records(base, metric_names, previous.get("records", []), res.message, now()))
        echo(f"[red]{res.message}[/]")
        return RunOutcome(name, rdir, res.status, res.message, seconds=res.seconds)
    if res.step > res.resumed_from:
        echo(f"{name}: trained steps {res.resumed_from}->{res.step} in {res.seconds:.1f}s "
             f"({res.images_per_s:.0f} img/s)")
    else:
        echo(f"{name}: already trained to step {res.step} in {rdir}; evaluating")
    ctx = EvalContext(model, ds, train_set, heldout, dev, n_eval=run.n_eval, seed=seed,
                      cache_dir=sh.results / ".cache",
                      options={**sh.eval_options, "error_log": rdir / "error.log", "explicit": explicit,
                               "n_feature_samples": run.n_fid})
    scored = evaluate(ctx, metric_names, previous.get("records", []), res.step)
    stamp = now()
    records = [{**base, "metric": s.score.name, "metric_plugin": s.metric, "value": s.score.value,
                "status": s.score.status, "note": s.score.note, "higher_is_better": s.score.higher_is_better,
                "extra": s.score.extra, "protocol_id": s.protocol_id, "protocol": s.protocol,
                "eval_seconds": round(s.seconds, 2), "time": s.time or stamp} for s in scored]
    kept = [r for r in previous.get("records", []) if r.get("metric_plugin") not in metric_names
            and r.get("step") == res.step]
    write_run(rdir, run_meta, kept + records)
    summary = ", ".join(f"{s.score.name} {s.score.value:.4g}" if s.score.value is not None
                        else f"{s.score.name} {s.score.status}" for s in scored)
    echo(f"{name}: {summary}")
    if explicit:
        missing = [s.score for s in scored if s.score.status == "unavailable"]
        if missing:
            raise GenbenchError(f"Metric '{missing[0].name}' was asked for but is unavailable: {missing[0].note}")
    del model
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return RunOutcome(name, rdir, "finished", records=records, seconds=res.seconds)
