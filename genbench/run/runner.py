"""``genbench run`` as functions: ``run_plan`` loads each dataset once and does this shard's cells in turn;
``run_cell`` trains one model (resuming), evaluates it and writes its run folder's records. Complete cells
are skipped unless ``--fresh``; one model's crash is logged in its folder and the others go on.
``echo`` is given plain text (names and paths as they are; the CLI prints it without markup).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from genbench import registry
from genbench.api import Status
from genbench.errors import GenbenchError
from genbench.eval import evaluation
from genbench.eval.evaluation import (
    LoadedData,
    base_record,
    evaluate_cell,
    load_data,
    previous_results,
    run_meta,
    warn_weights,
)
from genbench.rng import seed_everything
from genbench.run import distributed
from genbench.run.plan import Cell, RunOptions, RunPlan, make_plan
from genbench.run.trainer import train
from genbench.store.records import Record, RunResults, now
from genbench.store.runfolder import ERROR_LOG, RunFolder


@dataclass
class RunOutcome:
    model: str
    run_dir: Path
    status: str
    message: str = ""
    records: list[Record] = field(default_factory=list)
    seconds: float = 0.0  # training's wall seconds in this call (not the evaluation's)
    resumed_from: int = 0  # the step training started from in this call (its checkpoint's, 0 when fresh)


def run(options: RunOptions, echo: Callable[..., None] = print) -> list[RunOutcome]:
    """Resolve ``options`` into a plan and run it (the Python face of ``genbench run``)."""
    return run_plan(make_plan(options), echo)


def run_plan(plan: RunPlan, echo: Callable[..., None] = print) -> list[RunOutcome]:
    """Run this shard's cells, dataset by dataset and seed by seed, skipping complete ones unless fresh."""
    say = echo if distributed.is_main() else _silent
    grid = plan.grid
    if grid.shard[1] > 1:
        say(f"shard {grid.shard[0]}/{grid.shard[1]}: {len(grid.mine())} of {len(grid.cells())} runs")
    todo = grid.in_order()
    if not plan.fresh:
        done = distributed.decide([c for c in todo if is_complete(plan, c)])  # rank 0 decides for every rank
        for c in done:
            say(f"{c.model}: already trained to step {plan.configs[c.model].steps} and scored in "
                f"{plan.folder(c)}; skipped (--fresh redoes it)")
        todo = [c for c in todo if c not in done]
        for c in todo:  # before anything trains: a results.json the run would have to merge with
            previous_results(plan.folder(c), fresh=False)
    outcomes: list[RunOutcome] = []
    for i, dataset in enumerate(dict.fromkeys(c.dataset for c in todo)):
        cells = [c for c in todo if c.dataset == dataset]
        data = load_data(plan, dataset, [c.model for c in cells], say)
        if i == 0:  # once the data is there: a run that cannot start says only why
            warn_weights(plan)
        for cell in cells:
            outcomes.append(_guarded(plan, cell, data, say))
    return outcomes


def _guarded(plan: RunPlan, cell: Cell, data: LoadedData, echo: Callable[..., None]) -> RunOutcome:
    """``run_cell`` under the folder's lock; a crash in a model's own code is logged, not raised."""
    folder = plan.folder(cell)
    try:
        lock = folder.lock(echo) if distributed.is_main() else contextlib.nullcontext()  # rank 0 owns the folder
        with lock:
            return run_cell(plan, cell, data, echo)
    except GenbenchError:
        raise
    except Exception as exc:  # one model's bug must not lose the others' runs
        folder.log_error(traceback.format_exc())
        msg = f"{cell.model} failed: {type(exc).__name__}: {exc} (traceback in {folder.file(ERROR_LOG)})"
        echo(msg)
        return RunOutcome(cell.model, folder.path, "error", msg)


def is_complete(plan: RunPlan, cell: Cell) -> bool:
    """Whether the cell's folder holds this configuration trained to its steps with every metric scored (a
    failed metric does not count; nor, when metrics were named, an unavailable one)."""
    folder = plan.folder(cell)
    if not folder.holds_config(plan.run_config(cell)):
        return False
    try:
        results = folder.read_results()
    except (OSError, ValueError):
        return False
    steps = plan.configs[cell.model].steps
    if results.run is None or results.run.status != "finished" or results.run.step != steps:
        return False
    bad = {Status.ERROR, Status.UNAVAILABLE} if plan.metrics_named else {Status.ERROR}
    done = {r.metric_plugin for r in results.records if r.step == steps and r.status not in bad}
    return set(plan.metric_names) <= done


def _silent(*args, **kwargs) -> None:
    pass


def run_cell(plan: RunPlan, cell: Cell, data: LoadedData, echo: Callable[..., None] = print) -> RunOutcome:
    """Train one model (resuming), evaluate it, and write its run folder's records."""
    folder, config = plan.folder(cell), plan.run_config(cell)
    seed_everything(cell.seed)
    model = plan.classes[cell.model](plan.configs[cell.model], data.info(cell.dataset)).to(plan.device)
    main = distributed.is_main()  # rank 0 alone writes the run folder; others train in a scratch one
    train_folder = folder if main else RunFolder(Path(tempfile.mkdtemp(prefix="genbench-rank-")))
    if plan.fresh and main:
        folder.reset()
    try:
        res = train(model, data.train, train_folder, plan.schedule(cell), config, accel=plan.accel,
                    progress=plan.progress, echo=echo)
    finally:
        if not main:
            shutil.rmtree(train_folder.path, ignore_errors=True)
    if not main:  # every rank evaluates, splitting the sampling and embedding (genbench.metrics.core.shard)
        if distributed.decide(res.status == "finished"):
            evaluate_cell(plan, cell, model, data, base_record(plan, cell, config, res.step),
                          RunResults(records=evaluation.shared_records(None)), _silent)
        return RunOutcome(cell.model, folder.path, res.status, res.message, seconds=res.seconds)
    distributed.decide(res.status == "finished")
    previous = previous_results(folder, plan.fresh)
    base = base_record(plan, cell, config, res.step)
    meta = run_meta(base, res.status, train_seconds=round(res.seconds, 2), images_per_s=round(res.images_per_s, 1),
                    resumed_from=res.resumed_from)
    if res.status != "finished":
        failed = failed_records(base, plan.metric_names, previous.records, res.message, now())
        folder.write_results(RunResults(meta.over(previous.run), failed))
        echo(res.message)
        return RunOutcome(cell.model, folder.path, res.status, res.message, seconds=res.seconds)
    if res.step > res.resumed_from:
        echo(f"{cell.model}: trained steps {res.resumed_from}->{res.step} in {res.seconds:.1f}s "
             f"({res.images_per_s:.0f} img/s)")
    else:
        echo(f"{cell.model}: already trained to step {res.step} in {folder}; evaluating")
    records = evaluate_cell(plan, cell, model, data, base,
                            RunResults(previous.run, evaluation.shared_records(previous.records)), echo)
    kept = [r for r in previous.records if r.metric_plugin not in plan.metric_names and r.step == res.step]
    folder.write_results(RunResults(meta, kept + records))
    missing = [r for r in records if r.status == Status.UNAVAILABLE]
    if plan.metrics_named and missing:  # after writing: the other metrics' scores are kept
        raise GenbenchError(f"Metric '{missing[0].metric}' was asked for but is unavailable: {missing[0].note}")
    del model
    if plan.device.type == "cuda":
        torch.cuda.empty_cache()
    return RunOutcome(cell.model, folder.path, "finished", records=records, seconds=res.seconds,
                      resumed_from=res.resumed_from)


def failed_records(base: Record, metric_names: list[str], previous: list[Record], message: str,
                   stamp: str) -> list[Record]:
    """Records with status 'failed' (value None) for a run that did not finish (NaN/inf): one per requested
    metric and per metric the run recorded before, so its table cells read "failed", never a stale number."""
    metrics = registry.discover("metrics")
    names = {n: n for n in metric_names}
    names.update({r.metric: r.metric_plugin or r.metric for r in previous})
    out = []
    for metric, plugin in names.items():
        entry = metrics.get(plugin)
        hib = entry.obj.higher_is_better if entry is not None and entry.ok else None
        out.append(dataclasses.replace(base, metric=metric, metric_plugin=plugin, status=Status.FAILED, note=message,
                                       higher_is_better=hib, time=stamp))
    return out
