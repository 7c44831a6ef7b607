"""A run's settings, configuration and metadata, typed; the one place that knows their JSON layout.

- ``RunSettings``: the harness's settings of a run (image size, set sizes, checkpoint/sample/log intervals),
  resolved from the presets by genbench.run.config.
- ``RunConfig``: a run folder's config.json, what the run was trained (or scored) under and what resume
  compares: the cell (dataset, preset, seed, model name), the ``RunSettings``, the model's config values
  (``steps`` among them: its home is ``ModelConfig.steps``), the data options, the acceleration that changes
  the numbers (``train``) and, for images or a generator scored by ``genbench eval``, their ``source``.
- ``RunMeta``: the ``"run"`` object of results.json: the cell, the step and status, the provenance (package
  versions, git commit, device, genbench's version) and the last training session's time, or the source
  that ``genbench eval`` scored.

``to_json()`` gives exactly the JSON genbench writes; ``from_json(data)`` reads it back, checking every field
and its type, and raises ValueError on data genbench did not write, so code holding one of these objects needs
no other check. A config.json written before a run setting existed reads back with that setting's default
(the value runs had before it could be set); keys genbench does not know make a config.json foreign (resume
compares configs, so none is dropped), while a newer genbench's extra metadata keys are dropped.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from genbench import domains
from genbench.api import ModelConfig
from genbench.domains import count, integer, non_negative_count, one_of, optional
from genbench.eval.external import Provenance
from genbench.io import jsonable


@dataclass(frozen=True)
class RunSettings:
    """Harness-level settings of one run (not the model's)."""

    image_size: int = 64
    n_train: int | None = None  # None: the dataset's default size
    n_heldout: int = 1000
    n_eval: int = 10000  # samples / reconstructions per metric (SWD, MSE, NCC images)
    n_fid: int | None = None  # images per side for fid/kid/fd_rand/kid_rand; None = training-set size (paper)
    ckpt_every: int = 1000
    sample_every: int = 1000
    log_every: int = 10
    watch_every: int | None = None  # TensorBoard's images; None: a tenth of the run, at most sample_every apart
    quick_every: int | None = None  # quick metrics (genbench.run.quick); None: a fifth of the run, >= 100 apart
    DOMAINS: typing.ClassVar[dict[str, domains.Domain]] = {
        "image_size": one_of(8, 16, 32, 64, why="the Table-1 ladder"), "n_train": optional(count),
        "n_heldout": non_negative_count, "n_eval": count, "n_fid": optional(integer(2)),
        "ckpt_every": count, "sample_every": count, "log_every": count, "watch_every": optional(count),
        "quick_every": optional(non_negative_count)}

    @classmethod
    def from_json(cls, data: Any) -> RunSettings:
        """The settings of a config.json's ``"run"`` object; a setting it lacks (written before the setting
        existed) takes its default."""
        hints = typing.get_type_hints(cls)
        types = {f.name: typing.get_args(hints[f.name]) or (hints[f.name],) for f in dataclasses.fields(cls)}
        return cls(**_checked(data, "config.json's run", types, required=()))


@dataclass(frozen=True)
class RunConfig:
    """What a run folder's config.json holds (the module docstring)."""

    dataset: str
    preset: str
    seed: int
    model_name: str
    run: RunSettings
    model: Mapping[str, Any]  # the model's config values (ModelConfig.to_dict()), as JSON holds them
    data_options: Mapping[str, str] = field(default_factory=dict)
    train: Mapping[str, str] | None = None  # the acceleration that changes the numbers (Acceleration.config())
    source: Provenance | None = None  # genbench eval: the images or generator scored

    def __post_init__(self) -> None:
        # read-only copies of the values as they read back from a file (tuples as lists): configs are equal
        # exactly when their config.json files are
        for name in ("model", "data_options", "train"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _read_only(getattr(self, name)))

    def to_json(self) -> dict[str, Any]:
        out = {"dataset": self.dataset, "preset": self.preset, "seed": self.seed, "model_name": self.model_name,
               "run": _settings_json(self.run), "model": jsonable(dict(self.model))}
        if self.source is not None:
            out["source"] = self.source.to_dict()
        out["data_options"] = jsonable(dict(self.data_options))
        if self.train is not None:
            out["train"] = jsonable(dict(self.train))
        return out

    @classmethod
    def from_json(cls, data: Any) -> RunConfig:
        d = _checked(data, "config.json", _CONFIG_TYPES, required=_CONFIG_REQUIRED)
        return cls(d["dataset"], d["preset"], d["seed"], d["model_name"], RunSettings.from_json(d["run"]),
                   d["model"], _texts(d["data_options"], "config.json's data_options"),
                   _texts(d["train"], "config.json's train") if "train" in d else None,
                   _provenance(d["source"], "config.json's source") if "source" in d else None)

    def model_config(self, config_class: type[ModelConfig]) -> ModelConfig:
        """The model's config rebuilt from the saved values: the fields ``config_class`` has (a value of a
        field it no longer has is dropped), a list as a tuple (JSON has none). Its own checks may raise."""
        known = {f.name for f in dataclasses.fields(config_class)}
        return config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.model.items()
                               if k in known})

    def changes_from(self, saved: RunConfig) -> list[str]:
        """Every difference from ``saved`` but the steps (a run may be trained on to more), as
        'model.lr: 0.1 -> 1.0', saved value first: what stops this config resuming ``saved``'s run."""
        return _diff(saved._without_steps().to_json(), self._without_steps().to_json())

    def _without_steps(self) -> RunConfig:
        return dataclasses.replace(self, model={k: v for k, v in self.model.items() if k != "steps"})


# Settings added after runs were committed, written only when set: a config.json reads back unchanged
_UNSET_OMITTED = ("watch_every", "quick_every")


def _settings_json(run: RunSettings) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(run).items() if not (k in _UNSET_OMITTED and v is None)}


_TEXT, _INT, _NUMBER, _OBJECT = (str,), (int,), (int, float), (dict,)
_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": _TEXT, "preset": _TEXT, "seed": _INT, "model_name": _TEXT, "run": _OBJECT, "model": _OBJECT,
    "data_options": _OBJECT, "train": _OBJECT, "source": _OBJECT}
_CONFIG_REQUIRED = ("dataset", "preset", "seed", "model_name", "run", "model", "data_options")


@dataclass(frozen=True)
class RunMeta:
    """What a results.json's ``"run"`` object holds (the module docstring)."""

    dataset: str
    model: str
    preset: str
    seed: int
    step: int
    versions: Mapping[str, str]  # package versions (genbench.store.records.versions)
    git_commit: str
    device: str | None  # None: written before the device was recorded
    status: str  # finished | diverged
    genbench: str  # genbench's version
    train_seconds: float | None = None  # genbench run: the last training session
    images_per_s: float | None = None
    resumed_from: int | None = None
    source: Provenance | None = None  # genbench eval: the images or generator scored

    def __post_init__(self) -> None:
        object.__setattr__(self, "versions", _read_only(self.versions))

    def to_json(self) -> dict[str, Any]:
        """The fields that have a value (None: not recorded), in the order genbench has always written them."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}
        out["versions"] = dict(self.versions)
        if self.source is not None:
            out["source"] = self.source.to_dict()
        return out

    @classmethod
    def from_json(cls, data: Any) -> RunMeta:
        d = _checked(data, "results.json's run", _META_TYPES, required=_META_REQUIRED, drop_unknown=True)
        d["versions"] = _texts(d["versions"], "results.json's versions")
        if "source" in d:
            d["source"] = _provenance(d["source"], "results.json's source")
        return cls(**{"device": None, **d})

    def over(self, previous: RunMeta | None) -> RunMeta:
        """This metadata, with the fields it has no value for taken from ``previous`` (a run that stopped keeps
        what its folder's results.json said before)."""
        if previous is None:
            return self
        mine = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}
        return dataclasses.replace(previous, **mine)


_META_TYPES: dict[str, tuple[type, ...]] = {
    "dataset": _TEXT, "model": _TEXT, "preset": _TEXT, "seed": _INT, "step": _INT, "versions": _OBJECT,
    "git_commit": _TEXT, "device": _TEXT, "status": _TEXT, "genbench": _TEXT, "train_seconds": _NUMBER,
    "images_per_s": _NUMBER, "resumed_from": _INT, "source": _OBJECT}
_META_REQUIRED = ("dataset", "model", "preset", "seed", "step", "versions", "git_commit", "status", "genbench")
_SOURCE_TYPES: dict[str, tuple[type, ...]] = {"kind": _TEXT, "path": _TEXT, "count": _INT, "sha256": _TEXT}


def _checked(data: Any, what: str, types: dict[str, tuple[type, ...]], required: tuple[str, ...],
             drop_unknown: bool = False) -> dict[str, Any]:
    """``data`` as a JSON object whose keys are among ``types`` (others are dropped, or refused), with every
    ``required`` one, each value of its types (True/False never stand for a number); else ValueError."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} is a {type(data).__name__}, not a JSON object")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{what} lacks {', '.join(missing)}")
    unknown = [str(k) for k in data if k not in types]
    if unknown and not drop_unknown:
        raise ValueError(f"{what} has keys genbench does not write: {', '.join(unknown)[:80]}")
    out = {k: v for k, v in data.items() if k in types}
    for k, v in out.items():
        if not isinstance(v, types[k]) or isinstance(v, bool):
            raise ValueError(f"{what}: {k} is {type(v).__name__} {str(v)[:40]!r}")
    return out


def _texts(data: dict[str, Any], what: str) -> dict[str, str]:
    if not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{what} holds values other than text")
    return data


def _provenance(data: Any, what: str) -> Provenance:
    return Provenance(**_checked(data, what, _SOURCE_TYPES, required=tuple(_SOURCE_TYPES)))


def _read_only(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(jsonable(dict(values)))


def _diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys whose values differ between two JSON objects, nested keys joined by dots."""
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return out
