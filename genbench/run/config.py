"""Presets and configuration: harness preset -> model preset -> TOML file -> ``--set`` overrides.

``resolve`` gives the ``RunSettings`` and each model's ``ModelConfig``; a run saves them in its config.json
(genbench.store.runconfig.RunConfig), which is what resume compares.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import tomllib

from genbench import domains
from genbench.api import ModelConfig
from genbench.errors import GenbenchError, did_you_mean
from genbench.io import path_problem
from genbench.store.runconfig import RunSettings

PRESET_NAMES = ("tiny", "demo", "small", "paper")


# Harness presets: values for RunSettings fields and for the ModelConfig fields every model has.
PRESETS: dict[str, dict[str, Any]] = {
    # tests and CI: seconds
    "tiny": {"image_size": 16, "width": 1 / 16, "n_train": 256, "n_heldout": 64, "n_eval": 64, "n_fid": 64,
             "steps": 20, "batch_size": 16, "ckpt_every": 10, "sample_every": 10, "log_every": 5},
    # CPU demo: a few minutes per model on 2 cores
    "small": {"image_size": 32, "width": 1 / 8, "n_train": 10000, "n_heldout": 250, "n_eval": 500, "n_fid": 2048,
              "steps": 1500, "batch_size": 64, "ckpt_every": 500, "sample_every": 500, "log_every": 10},
    # make demo: `small` on 2,000 training images, every model at DEMO_STEPS of its small steps (DERIVED)
    "demo": {"image_size": 32, "width": 1 / 8, "n_train": 2000, "n_heldout": 250, "n_eval": 250, "n_fid": 1000,
             "steps": 500, "batch_size": 64, "ckpt_every": 500, "sample_every": 100, "log_every": 10},
    # Table 1 at 64x64 (GPU)
    "paper": {"image_size": 64, "width": 1.0, "n_train": None, "n_heldout": 1000, "n_eval": 10000,
              "ckpt_every": 1000, "sample_every": 1000, "log_every": 50},
}


# A preset a model need not declare: it is derived from the model's own values for another preset, the steps scaled,
# so every model, a third-party one too, has it with the same share of its budget.
DEMO_STEPS = 1 / 3
DERIVED: dict[str, tuple[str, float]] = {"demo": ("small", DEMO_STEPS)}


def model_preset(config_cls: type[ModelConfig], preset: str) -> dict[str, Any]:
    """A model config's own values for ``preset``: its ``PRESETS[preset]``, or for a derived preset (``demo``) its
    values for the base preset with the steps scaled."""
    if preset in config_cls.PRESETS or preset not in DERIVED:
        return dict(config_cls.PRESETS.get(preset, {}))
    base, fraction = DERIVED[preset]
    own = dict(config_cls.PRESETS.get(base, {}))
    if "steps" in own:
        own["steps"] = max(1, round(own["steps"] * fraction))
    return own


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def coerce(value: Any, annotation: Any, key: str, source: str = "--set") -> Any:
    """Convert a --set string (or TOML value) to the field's type; one clear error if impossible."""
    if not isinstance(value, str):
        return value
    ann = annotation
    text = getattr(ann, "__name__", str(ann))
    try:
        if value.lower() in ("none", "null") and "None" in text:
            return None
        if ann is bool or text == "bool":
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if ann is int or text.startswith("int"):
            return int(value)
        if ann is float or text.startswith("float"):
            return float(value)
        if "tuple" in text or "list" in text:
            return tuple(float(v) if "." in v or "e" in v else int(v) for v in value.split(","))
    except ValueError:
        raise GenbenchError(f"{source} {key}={value}: expected a value of type {text}.") from None
    return value


def parse_sets(items: typing.Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise GenbenchError(f"--set '{item}' is not key=value; write e.g. --set lr=1e-3.")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if (problem := path_problem(p, "file")) is not None:
        raise GenbenchError(f"Config file {p} {problem}; pass an existing TOML file to --config.")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise GenbenchError(f"Config file {p} is not valid TOML ({exc}).") from None


def _apply(target: dict[str, Any], fields: dict[str, dataclasses.Field], values: dict[str, Any],
           hints: dict[str, Any], prefix: str = "", source: str = "--set") -> None:
    for k, v in values.items():
        if k in fields:
            target[k] = coerce(v, hints.get(k, fields[k].type), prefix + k, source)


def check_file_keys(values: dict[str, Any], model_names: list[str], model_classes: dict[str, type]) -> None:
    """A --config file's keys, refused as the same key given to --set would be: a top-level key no run setting
    or model config has, a table that is not one of the run's models, a key that model does not have."""
    run_fields = _fields(RunSettings)
    every = set(run_fields) | {f for n in model_names for f in _fields(model_classes[n].Config)}
    for k, v in values.items():
        if isinstance(v, dict) and k not in model_names:
            raise GenbenchError(f"--config: table [{k}] is not one of the models in this run "
                                f"({', '.join(model_names)}){did_you_mean(k, model_names)}.")
        if isinstance(v, dict):
            fields = _fields(model_classes[k].Config)
            for key in v:
                if key not in fields:
                    raise GenbenchError(f"--config: [{k}] {key}: model '{k}' has no setting '{key}'"
                                        f"{did_you_mean(key, fields)}; its settings are: {', '.join(sorted(fields))}.")
        elif k not in every:
            raise GenbenchError(f"--config: {k}: no run setting or model config has '{k}'{did_you_mean(k, every)}; "
                                f"run settings are: {', '.join(sorted(run_fields))}.")


def resolve(preset: str, model_names: list[str], model_classes: dict[str, type],
            file_values: dict[str, Any] | None = None,
            sets: dict[str, str] | None = None) -> tuple[RunSettings, dict[str, ModelConfig]]:
    """Resolve the run settings and each model's config.

    Order (later wins): dataclass defaults (paper values) < harness preset < model's PRESETS[preset]
    < TOML file (top-level keys, then a [model] table) < --set (``key=v`` or ``model.key=v``).
    A --set key no config knows is an error naming the key.
    """
    if preset not in PRESETS:
        raise GenbenchError(f"Unknown preset '{preset}'; choose from: {', '.join(PRESET_NAMES)}.")
    file_values = dict(file_values or {})
    check_file_keys(file_values, model_names, model_classes)
    sets = dict(sets or {})
    run_fields = _fields(RunSettings)
    run_vals: dict[str, Any] = {}
    run_hints = typing.get_type_hints(RunSettings)
    _apply(run_vals, run_fields, PRESETS[preset], run_hints)
    _apply(run_vals, run_fields, {k: v for k, v in file_values.items() if not isinstance(v, dict)}, run_hints,
           source="--config")
    _apply(run_vals, run_fields, {k: v for k, v in sets.items() if "." not in k}, run_hints)
    run = RunSettings(**run_vals)
    domains.check(run, "run")

    used: set[str] = {k for k in sets if k in run_fields}
    configs: dict[str, ModelConfig] = {}
    for name in model_names:
        cls = model_classes[name].Config
        fields = _fields(cls)
        hints = typing.get_type_hints(cls)
        vals: dict[str, Any] = {}
        _apply(vals, fields, PRESETS[preset], hints)
        _apply(vals, fields, model_preset(cls, preset), hints)
        _apply(vals, fields, {k: v for k, v in file_values.items() if not isinstance(v, dict)}, hints,
               source="--config")
        _apply(vals, fields, file_values.get(name, {}), hints, prefix=f"{name}.", source="--config")
        plain = {k: v for k, v in sets.items() if "." not in k}
        scoped = {k.split(".", 1)[1]: v for k, v in sets.items() if k.startswith(name + ".")}
        for k in scoped:
            if k not in fields:
                hint = did_you_mean(k, fields)
                raise GenbenchError(f"--set {name}.{k}: model '{name}' has no setting '{k}'{hint}; "
                                    f"its settings are: {', '.join(sorted(fields))}.")
        _apply(vals, fields, plain, hints)
        _apply(vals, fields, scoped, hints, prefix=f"{name}.")
        used |= {k for k in plain if k in fields} | {f"{name}.{k}" for k in scoped}
        try:
            configs[name] = cls(**vals)
        except (TypeError, ValueError) as exc:  # the config's own __post_init__ checks
            raise GenbenchError(f"Model '{name}' config is not valid: {exc}.") from None
        domains.check(configs[name], f"model '{name}'", f"{name}.")
    for k in sets:
        if k not in used and not (("." in k) and k.split(".", 1)[0] not in model_names):
            hint = did_you_mean(k, set(run_fields) | {f for n in model_names for f in _fields(model_classes[n].Config)})
            raise GenbenchError(f"--set {k}: no run setting or model config has '{k}'{hint}; "
                                f"run settings are: {', '.join(sorted(run_fields))}.")
        if "." in k and k.split(".", 1)[0] not in model_names:
            raise GenbenchError(f"--set {k}: '{k.split('.', 1)[0]}' is not one of the models in this run "
                                f"({', '.join(model_names)}).")
    return run, configs
