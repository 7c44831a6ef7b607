"""``genbench eval`` as functions: score images or a generator made outside genbench under the same protocol
as a trained model's samples, and write the records to a run folder of their own,
``RESULTS/<dataset>/<name>/<preset>-seed<S>/``, so ``genbench table`` and ``genbench report`` show ``name``
as a row beside the trained models. Metrics that need an inferrer, renderer or tracer read ``n/a``.

``real="heldout"`` scores the dataset's own held-out images as if they were a model: the calibration row,
the value a perfect model gets with that many images. The cell is evaluated exactly as a trained model's is
(genbench.eval.evaluation.evaluate_cell).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genbench import registry
from genbench.api import GenerativeModel, ImageSet, interface_problem
from genbench.errors import GenbenchError
from genbench.eval import evaluation
from genbench.eval.evaluation import LoadedData
from genbench.eval.external import (
    Conventions,
    ImageSetModel,
    Provenance,
    ScriptedGenerator,
    array_sha256,
    fit_array,
    load_generator,
    read_images,
)
from genbench.io import printable, safe_name
from genbench.metrics.core.weights import sha256_file
from genbench.run import distributed
from genbench.run.plan import Cell, RunOptions, RunPlan, make_plan
from genbench.store.records import Record, RunResults
from genbench.store.runconfig import RunConfig
from genbench.store.runfolder import RESULTS, SAMPLES, RunFolder
from genbench.viz import save_grid

REAL_SPLITS = ("heldout",)


# The options ``genbench eval`` shares with ``genbench run``: fields of RunOptions, typed there once.
SHARED = ("dataset", "preset", "seed", "results", "metrics", "sets", "device", "data_root", "inception_weights",
          "allow_unverified_weights", "fresh", "features", "weights", "offline")


@dataclass
class EvalOptions:
    """``genbench eval``'s options: what to score, one field per option, and in ``run`` the options it shares
    with ``genbench run`` (``SHARED``: dataset, preset, seed, results folder, metrics, ...) as a RunOptions."""

    name: str | None = None  # default: the images' file or folder name, 'real-heldout', or 'generator'
    images: Path | Any = None  # a path; from Python also an array or tensor
    key: str | None = None  # the array of an .npz
    generator: Path | Any = None  # a TorchScript file; from Python also a torch module
    latent_dim: int | None = None
    n: int | None = None
    real: str | None = None  # 'heldout': the calibration row
    value_range: str | None = None  # '-1,1', '0,1' or '0,255' where the array's values fit more than one
    layout: str | None = None  # 'nchw' or 'nhwc' where the array's shape fits both
    run: RunOptions = field(default_factory=lambda: RunOptions(None, progress=False))

    @property
    def conventions(self) -> Conventions:
        return Conventions(self.value_range, self.layout)

    @classmethod
    def of(cls, **options: Any) -> EvalOptions:
        """From flat options (the command line's, ``genbench.evaluate``'s keywords): each to its own field, or
        to ``run`` for the ``SHARED`` ones."""
        own = {f.name for f in fields(cls)} - {"run"}
        unknown = sorted(set(options) - own - set(SHARED))
        if unknown:
            raise TypeError(f"genbench eval has no option {', '.join(unknown)}; it takes "
                            f"{', '.join(sorted(own | set(SHARED)))}")
        shared = {k: v for k, v in options.items() if k in SHARED}
        return cls(**{k: v for k, v in options.items() if k in own}, run=RunOptions(None, progress=False, **shared))


def score_outside(options: EvalOptions, echo: Callable[..., None] = print) -> list[Record]:
    """Score what ``options`` name and write its run folder; returns the records."""
    o, r = options, options.run
    _check_source(o)
    name = _row_name(o)
    if name in registry.names("models"):
        raise GenbenchError(f"--name {name} is a registered model; choose another name (e.g. {name}-external) so "
                            f"the row is not mixed with the trained model's runs.")
    plan = make_plan(r)
    echo = echo if distributed.is_main() else _quiet
    data = evaluation.load_data(plan, r.dataset, [], echo)
    model, source = _model(o, data, plan.settings.image_size)
    model = model.to(plan.device)
    problem = interface_problem(model, data.train.as_float(torch.arange(min(2, len(data.train)))).to(plan.device))
    if problem:
        raise GenbenchError(f"{source.kind} {source.path} cannot be scored: {problem}.")
    evaluation.warn_weights(plan)
    return _score(plan, Cell(r.dataset, name, r.seed), model, data, source, echo)


def _check_source(o: EvalOptions) -> None:
    given = [flag for flag, v in (("--images", o.images), ("--generator", o.generator), ("--real", o.real))
             if v is not None]
    if len(given) != 1:
        raise GenbenchError(f"Give exactly one of --images, --generator and --real (got "
                            f"{', '.join(given) or 'none'}).")
    if o.real is not None and o.real not in REAL_SPLITS:
        raise GenbenchError(f"--real {o.real}: choose from {', '.join(REAL_SPLITS)}.")
    if o.generator is not None and (o.latent_dim is None or o.latent_dim < 1):
        raise GenbenchError("--generator needs --latent-dim d (the generator's latent size, an integer >= 1).")
    if o.n is not None and o.n < 1:
        raise GenbenchError(f"--n {o.n} must be an integer >= 1.")


NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a row name is a folder name: no path, no markup


def _row_name(o: EvalOptions) -> str:
    """``--name``, which must follow ``NAME_RULE`` (one sentence otherwise), or a name made from the source: the
    images' file or folder name, the path made absolute lexically (``.`` and ``a/b/..`` name the folder they
    mean), reduced to the rule's characters."""
    if o.name is not None:
        if not NAME_RULE.fullmatch(o.name):
            raise GenbenchError(f"--name {printable(o.name)!r} is not a row name; use letters, digits, '.', '_' and "
                                f"'-' (starting with a letter or digit, at most 64), e.g. --name mygan.")
        return o.name
    if o.real:
        return f"real-{o.real}"
    fallback = "images" if o.images is not None else "generator"
    given = o.images if o.images is not None else o.generator
    if not isinstance(given, (str, Path)):
        return fallback
    path = Path(os.path.abspath(given))  # lexically: '.' and 'a/b/..' name a folder, a link keeps its own name
    name = safe_name(path.stem if path.suffix else path.name, 64)
    return name if NAME_RULE.fullmatch(name) else fallback


def _model(o: EvalOptions, data: LoadedData, size: int) -> tuple[GenerativeModel, Provenance]:
    dataset = o.run.dataset
    info = data.info(dataset)
    if o.real:
        split = data.heldout
        if split is None or not len(split):
            raise GenbenchError(f"Dataset '{dataset}' has no held-out images at this preset, so there is no "
                                f"calibration row to score.")
        images, source = split.images, Provenance("real", f"{dataset}:{o.real}", 0, "")
    elif isinstance(o.images, (str, Path)):
        images, source = read_images(o.images, size, o.key, o.conventions)
    elif o.images is not None:
        arr = o.images.numpy() if isinstance(o.images, torch.Tensor) else np.asarray(o.images)
        images = fit_array(arr, size, "the images", o.conventions)
        source = Provenance("array", "(in memory)", len(images), array_sha256(images))
    elif isinstance(o.generator, torch.nn.Module):
        model = ScriptedGenerator(o.generator.eval(), o.latent_dim, info, o.n)
        return model, Provenance("generator", "(in memory)", o.n or 0, "")
    else:
        model = load_generator(o.generator, o.latent_dim, info, o.n)  # hashed: a changed file is another source
        return model, Provenance("generator", str(o.generator), o.n or 0, sha256_file(o.generator))
    images = images[:o.n] if o.n else images
    source = Provenance(source.kind, source.path, len(images), array_sha256(images))
    return ImageSetModel(ImageSet(images, dataset, "external"), info), source


def _score(plan: RunPlan, cell: Cell, model: GenerativeModel, data: LoadedData, source: Provenance,
           echo: Callable[..., None]) -> list[Record]:
    folder = plan.folder(cell)
    config = RunConfig(cell.dataset, plan.preset, cell.seed, cell.model, plan.settings, {}, plan.data_options,
                       source=source)
    if not distributed.is_main():  # under torchrun: help evaluate (the sampling and embedding are split), write nothing
        base = evaluation.base_record(plan, cell, config, step=0)
        return evaluation.evaluate_cell(plan, cell, model, data, base,
                                        RunResults(records=evaluation.shared_records(None)), _quiet)
    with folder.lock(echo):
        same = folder.holds_config(config)  # the same images: earlier scores may be reused; other images: none
        if not same:
            _replace(folder, plan.fresh)
        previous = evaluation.previous_results(folder, fresh=True) if same else RunResults()
        folder.write_config(config)
        try:
            _save_samples(model, folder.file(SAMPLES))
        except GenbenchError as exc:  # a batch beyond the probe's two images that is not images in [-1, 1]
            raise GenbenchError(f"{source.kind} {source.path} cannot be scored: {exc}.") from None
        base = evaluation.base_record(plan, cell, config, step=0)
        previous = RunResults(previous.run, evaluation.shared_records(previous.records))
        records = evaluation.evaluate_cell(plan, cell, model, data, base, previous, echo)
        folder.write_results(RunResults(evaluation.run_meta(base, "finished", source=source), records))
    return records


def _replace(folder: RunFolder, fresh: bool) -> None:
    """Make room for another source's row: refused (one sentence) unless ``--fresh`` when the folder holds
    scores; the old scores go *before* the new source is written, so a run killed in between leaves the new
    source with no scores, never with the old source's."""
    if folder.file(RESULTS).exists() and not fresh:
        raise GenbenchError(f"{folder} holds the scores of another source or other settings under this --name; pass "
                            f"--fresh to replace them, or choose another --name.")
    folder.file(RESULTS).unlink(missing_ok=True)


def _save_samples(model: GenerativeModel, path: Path) -> None:
    with torch.no_grad():
        x = model.sample(64, seed=0)
    save_grid(x.clamp(-1, 1).cpu(), path)


def evaluate(images_or_generator: Any, dataset: str = "shapes", metrics: list[str] | None = None,
             **options: Any) -> list[Record]:
    """``genbench.evaluate``: score images (a folder, .npz or .pt path; or an array / tensor, uint8 0..255 or
    floats in [-1, 1], NHWC or NCHW) or a generator (a TorchScript file path with ``generator=True``, or a
    torch module mapping latents (N, latent_dim) to images in [-1, 1]; pass ``latent_dim``) on ``dataset``.
    ``options`` are ``genbench eval``'s (EvalOptions.of: name, n, preset, seed, results, ...). Returns the
    records, which are also written to RESULTS/<dataset>/<name>/ like a trained model's."""
    x = images_or_generator
    as_generator = options.pop("generator", False) or isinstance(x, torch.nn.Module)
    source = {"generator": x} if as_generator else {"images": x}
    if isinstance(x, (str, Path)):
        source = {k: Path(v) for k, v in source.items()}
    return score_outside(EvalOptions.of(dataset=dataset, metrics=metrics, **source, **options), echo=_quiet)


def _quiet(*args: Any, **kwargs: Any) -> None:
    pass
