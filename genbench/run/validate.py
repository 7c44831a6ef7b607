"""Checks ``genbench run`` makes before it trains anything, so that bad input is one sentence and exit
code 2 at the start, not a traceback (or a wasted hour) later:

- the results folder (and the report's folder) can be written (``check_results_folder``, ``check_writable``);
- a feature space asked for by name (``--features``, a named metric in it) has usable weights (``check_weights``);
- the dataset gave images of the promised size and type, and enough of them (``check_data``);
- every model plugin keeps the interface: the probe of each capability it declares passes on two
  training images (``check_models``; the probes are in ``genbench.api.CAPABILITIES``).

``nonfinite_parameters`` is the trainer's guard against NaN/inf weights.
Config values are checked earlier, when they are resolved (``genbench.domains``).
"""

from __future__ import annotations

import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch

from genbench.api import DataInfo, GenerativeModel, ImageSet, Metric, ModelConfig, Weights, interface_problem
from genbench.errors import GenbenchError
from genbench.io import link_refused
from genbench.rng import rng_restored
from genbench.store.runfolder import CACHE

MIN_TRAIN_IMAGES = 16  # fewer cannot fill a batch of the tiny preset or give feature statistics a covariance


def check_results_folder(results: Path) -> None:
    """``check_writable`` for ``--results``, whose evaluation cache must not be a link (the caches are written
    there: a planted link would carry them outside the folder)."""
    check_writable(results, "--results", "Results folder")
    cache = Path(results) / CACHE
    if cache.is_symlink():
        raise link_refused(cache, "--results")


def check_writable(folder: Path, option: str, what: str = "Folder") -> None:
    """Prove that files can be written in ``folder`` (given as ``option``) without creating anything:
    a folder that exists takes a probe file (created and removed); one that does not must have a writable
    nearest ancestor."""
    folder = Path(folder)
    try:
        if folder.is_dir():
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.")
            os.close(fd)
            os.unlink(probe)
            return
        if folder.exists():
            raise NotADirectoryError(20, "it is a file, not a folder")
        parent = folder.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise NotADirectoryError(20, f"{parent} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(13, f"{parent} is not writable")
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise GenbenchError(f"{what} '{folder}' cannot be written ({why}); pass {option} with a "
                            f"folder you can write to.") from None


def check_weights(metrics: Sequence[type[Metric]], networks: Mapping[str, Weights],
                  asked: Iterable[str]) -> None:
    """A feature space asked for by name (``--features``, or a metric named in it) must have usable weights
    (``networks``, as the plan resolved them), else stop before training, in one sentence saying what to fetch."""
    for space in asked:
        weights = networks[space]
        if not weights.available:
            wanted = [m.name for m in metrics if m.space_used() == space]
            what = f"Metric '{wanted[0]}'" if wanted else f"The {space} feature space"
            raise GenbenchError(f"{what} was asked for but is unavailable: {weights.reason}.")
        if not weights.verified and not zipfile.is_zipfile(weights.path):  # torch.save writes zip archives
            raise GenbenchError(f"{space} weights file {weights.path} is not a readable PyTorch file (truncated, or "
                                f"not a .pth); put the complete {weights.path.name} there.")


def check_images(images: ImageSet, dataset: str, image_size: int) -> None:
    """The dataset plugin's promise: uint8 tensors of shape (N, 3, image_size, image_size)."""
    x = images.images
    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else None
    if shape is None or x.dtype != torch.uint8 or len(shape) != 4 or shape[1] != 3 or shape[2:] != (image_size,) * 2:
        got = f"{type(x).__name__} of shape {shape} and dtype {getattr(x, 'dtype', '?')}"
        raise GenbenchError(f"Dataset '{dataset}' gave {images.split} images as a {got}, expected uint8 "
                            f"(N, 3, {image_size}, {image_size}); the dataset plugin breaks the interface "
                            f"(fix it, or use another --dataset).")


def check_data(dataset: str, train: ImageSet, heldout: ImageSet | None, image_size: int) -> None:
    """Right shape and type, at least MIN_TRAIN_IMAGES training images; a warning without held-out images."""
    check_images(train, dataset, image_size)
    if heldout is not None:
        check_images(heldout, dataset, image_size)
    where = train.meta.get("root") or train.meta.get("source")
    where = f" in {where}" if where else ""
    if len(train) < MIN_TRAIN_IMAGES:
        raise GenbenchError(f"Dataset '{dataset}' has only {len(train)} training image{'s' * (len(train) != 1)}"
                            f"{where}, fewer than the {MIN_TRAIN_IMAGES} genbench needs to train and evaluate; "
                            f"add images (or raise --limit / n_train).")
    if heldout is not None and len(heldout) == 0:
        warnings.warn(f"dataset '{dataset}' has no held-out images ({len(train)} training images{where}), so "
                      f"held-out metrics such as mse_heldout are not computed; with 10 or more images the last "
                      f"tenth is held out.", RuntimeWarning, stacklevel=2)


def check_models(classes: dict[str, type[GenerativeModel]], configs: dict[str, ModelConfig], info: DataInfo,
                 train: ImageSet, device: torch.device, sources: dict[str, str]) -> None:
    """Build each model and call the methods its capabilities promise on two images; a plugin that
    breaks the interface is named in one sentence before any model trains. RNG states are left as found."""
    for name, cls in classes.items():
        with rng_restored():
            model = cls(configs[name], info).to(device)
            real = train.as_float(torch.arange(min(2, len(train)))).to(device)
            problem = interface_problem(model, real)
            del model
        if problem:
            raise GenbenchError(f"Model plugin '{name}' (from {sources.get(name, '?')}) breaks the genbench "
                                f"interface: {problem}; fix the plugin or leave it out of --models.")


def nonfinite_parameters(model: torch.nn.Module) -> list[str]:
    """Names of the parameters holding NaN or inf (empty when all are finite)."""
    return [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
