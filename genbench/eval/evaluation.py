"""Evaluating one cell of a plan, shared by ``genbench run`` (genbench.run.runner) and ``genbench eval``
(genbench.eval.outside), which both sit above it: the dataset loaded once and checked (``load_data``), the records a
run folder already holds (``previous_results``), what every record and the run metadata of a cell say
(``base_record``, ``run_meta``), the one warning about the resolved weights (``warn_weights``), and the
evaluation itself (``evaluate_cell``: the plan's settings and metric classes on the cell's context, through
genbench.eval.evaluator's ``score_metrics``).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import genbench
from genbench import registry
from genbench.api import DataInfo, Dataset, EvalContext, GenerativeModel, ImageSet
from genbench.errors import GenbenchError
from genbench.eval.evaluator import score_metrics
from genbench.run import distributed
from genbench.run.plan import Cell, RunPlan
from genbench.run.validate import check_data, check_models
from genbench.store.records import Record, RunResults, device_name, flatten, git_commit, now, versions
from genbench.store.runconfig import RunConfig, RunMeta
from genbench.store.runfolder import RESULTS, RunFolder


@dataclass
class LoadedData:
    """One dataset's images, loaded once for every cell that uses it."""

    dataset: Dataset
    train: ImageSet
    heldout: ImageSet | None

    def info(self, name: str) -> DataInfo:
        return DataInfo(self.dataset.name or name, self.train.image_size, len(self.train), self.train.images.shape[1])


def load_data(plan: RunPlan, dataset: str, models: list[str], echo: Callable[..., None]) -> LoadedData:
    """The dataset's training and held-out images, checked, and the models checked against them."""
    ds = registry.get_dataset(dataset)()
    s = plan.settings
    with distributed.main_first():  # rank 0 fills the data cache, the others read it
        train_set = ds.load("train", s.image_size, s.n_train, 0, **plan.data_options)
        heldout = ds.load("heldout", s.image_size, s.n_heldout, 0, **plan.data_options) if s.n_heldout else None
    check_data(dataset, train_set, heldout, s.image_size)
    data = LoadedData(ds, train_set, heldout)
    models = list(dict.fromkeys(models))
    check_models({m: plan.classes[m] for m in models}, plan.configs, data.info(dataset), train_set, plan.device,
                 {m: registry.discover("models")[m].source for m in models})
    echo(f"dataset {dataset}: {len(train_set)} training images at {s.image_size}x{s.image_size}"
         + (f", {len(heldout)} held out" if heldout is not None else "") + f"; device {plan.device}")
    return data


def warn_weights(plan: RunPlan) -> None:
    """One warning per command and feature space whose metrics will run without its published weights."""
    used = {m.space_used() for m in plan.metrics}
    for weights in plan.networks:
        if weights.network not in used:
            continue
        if not weights.available:
            warnings.warn(f"{weights.network} weights unavailable: {weights.reason}", RuntimeWarning, stacklevel=2)
        elif not weights.verified:
            warnings.warn(f"using UNVERIFIED {weights.network} weights {weights.path} (--allow-unverified-weights): "
                          f"{weights.reason}", RuntimeWarning, stacklevel=2)


def previous_results(folder: RunFolder, fresh: bool) -> RunResults:
    """The records a run folder holds; a damaged or foreign results.json is refused in one sentence (with
    ``fresh`` it is about to be replaced: no records)."""
    try:
        return folder.read_results()
    except (OSError, ValueError) as exc:
        if fresh:
            return RunResults()
        why = "cannot be read" if isinstance(exc, OSError) else "is damaged or not genbench's"
        raise GenbenchError(f"{folder.file(RESULTS)} {why} ({type(exc).__name__}); delete it, or rerun with "
                            f"--fresh to start that run over.") from None


def base_record(plan: RunPlan, cell: Cell, config: RunConfig, step: int) -> Record:
    """What every record of a cell shares: its identity, step, config and provenance."""
    return Record(cell.dataset, cell.model, plan.preset, cell.seed, metric="", status="", step=step,
                  config=flatten(config.to_json()), versions=versions(), git_commit=git_commit(),
                  device=device_name(plan.device))


def run_meta(base: Record, status: str, **more) -> RunMeta:
    """A results.json's run metadata: the cell, its step and status, provenance, and ``more`` (RunMeta's
    optional fields: the training session's time, or the source scored)."""
    return RunMeta(base.dataset, base.model, base.preset, base.seed, base.step, base.versions, base.git_commit,
                   base.device, status, genbench.__version__, **more)


def evaluate_cell(plan: RunPlan, cell: Cell, model: GenerativeModel, data: LoadedData, base: Record,
                  previous: RunResults, echo: Callable[..., None]) -> list[Record]:
    """Score the trained model with the plan's metrics and say the scores in one line."""
    settings = plan.eval_settings(cell)
    if not distributed.is_main():  # the other ranks help evaluate (genbench.metrics.core.shard) but write nothing
        settings = dataclasses.replace(settings, error_log=None)
    ctx = EvalContext(model, data.dataset, data.train, data.heldout, plan.device, cell.seed, settings)
    records = score_metrics(ctx, plan.metrics, previous.records, base, now())
    echo(f"{cell.model}: " + ", ".join(f"{r.metric} {r.value:.4g}" if r.value is not None else f"{r.metric} {r.status}"
                                       for r in records))
    return records


def shared_records(records: list[Record] | None) -> list[Record]:
    """Rank 0's previous records on every rank (under torchrun; ``records`` is None on the others), so that every
    rank reuses and recomputes the same metrics and their collectives (genbench.metrics.core.shard) meet."""
    if distributed.current() is None:
        return records or []
    text = distributed.decide(json.dumps([r.to_dict() for r in records]) if records is not None else "")
    return [Record.from_dict(d) for d in json.loads(text)]
