"""Plugin registry: entry-point groups ``genbench.models``, ``genbench.datasets``, ``genbench.metrics``,
``genbench.spaces`` (feature spaces) plus ``register_model`` for scripts and notebooks.

A metric family that takes a feature space (``Metric.family`` set: FD, KID, ...) is registered once and
listed as one metric per installed space (``Metric.in_space``): ``fd`` becomes ``fid``, ``fd_rand``,
``fd_effnet``, ``fd_dinov2``, ... A third-party space gets every family, and a third-party family every space.

Built-in plugins come through genbench's own pyproject entry points, the same path a third-party
package uses. A plugin that fails to import, or a name claimed twice, is reported by name (pluggy's
lesson) and never breaks the others.
"""

from __future__ import annotations

import importlib.metadata as md
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genbench.api import Dataset, FeatureSpace, GenerativeModel, Metric, check_capabilities, check_metric
from genbench.errors import GenbenchError, did_you_mean

KINDS = {"models": "genbench.models", "datasets": "genbench.datasets", "metrics": "genbench.metrics",
         "spaces": "genbench.spaces"}
BASES = {"models": GenerativeModel, "datasets": Dataset, "metrics": Metric, "spaces": FeatureSpace}


@dataclass
class Entry:
    name: str
    kind: str
    source: str  # distribution name, or "in-process register_model" (register_dataset, ...) for scripts
    target: str  # "module:attr"
    obj: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


_manual: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
_cache: dict[str, dict[str, Entry]] = {}
_problems: dict[str, list[str]] = {}
_in_space: dict[tuple[type, type], type] = {}


def _validate(kind: str, name: str, obj: Any) -> None:
    base = BASES[kind]
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise TypeError(f"is not a subclass of genbench.{base.__name__}")
    if kind == "models":
        check_capabilities(obj)
    elif kind == "metrics":
        check_metric(obj)


def _load(ep: md.EntryPoint, kind: str) -> Entry:
    source = ep.dist.name if ep.dist is not None else "?"
    entry = Entry(ep.name, kind, source, ep.value)
    try:
        obj = ep.load()
        _validate(kind, ep.name, obj)
        obj.name = ep.name
        if kind == "metrics" and obj.family and obj.family != ep.name:
            raise TypeError(f"is the family '{obj.family}' registered under another name; register it as "
                            f"'{obj.family}'")
        entry.obj = obj
    except Exception as exc:  # a broken plugin must not break the host
        entry.error = f"{type(exc).__name__}: {exc}".strip()
    return entry


def discover(kind: str, refresh: bool = False) -> dict[str, Entry]:
    """All plugins of one kind, broken ones included (with ``error`` set), by name."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}")
    if refresh or kind not in _cache:
        found: dict[str, Entry] = {}
        problems: list[str] = []
        eps = sorted(md.entry_points(group=KINDS[kind]),
                     key=lambda e: (e.dist.name != "genbench" if e.dist else True, e.dist.name if e.dist else "",
                                    e.name))
        for ep in eps:
            if ep.name in found:
                if found[ep.name].target == ep.value:
                    continue  # the same distribution seen twice on sys.path
                problems.append(f"{kind[:-1]} '{ep.name}' is declared by both {found[ep.name].source} "
                                f"({found[ep.name].target}) and {ep.dist.name if ep.dist else '?'} "
                                f"({ep.value}); using the first")
                continue
            found[ep.name] = _load(ep, kind)
            if not found[ep.name].ok:
                problems.append(f"{kind[:-1]} plugin '{ep.name}' ({ep.value}) failed to load: "
                                f"{found[ep.name].error}")
        ours = [ep for ep in eps if ep.dist is not None and ep.dist.name == "genbench"]
        where = getattr(ours[0].dist, "_path", None) if ours else None  # the metadata actually read
        stale = stale_install(kind, {ep.name for ep in ours}, where=where)
        if stale:
            problems.append(stale)
        _cache[kind], _problems[kind] = found, problems
        for p in problems:
            warnings.warn(p, RuntimeWarning, stacklevel=2)
    merged = dict(_cache[kind])
    merged.update(_manual[kind])
    return _per_space(merged) if kind == "metrics" else merged


def _per_space(entries: dict[str, Entry]) -> dict[str, Entry]:
    """Metric entries with each family replaced by its metric in every installed space."""
    spaces = [e.obj for e in discover("spaces").values() if e.ok]
    out: dict[str, Entry] = {}
    for name, entry in entries.items():
        if not (entry.ok and entry.obj.family):
            out[name] = entry
            continue
        for space in spaces:
            key = (entry.obj, space)
            if key not in _in_space:  # one class per (family, space): the same object on every lookup
                _in_space[key] = entry.obj.in_space(space)
            cls = _in_space[key]
            if cls.name not in out:
                out[cls.name] = Entry(cls.name, "metrics", entry.source, f"{entry.target} in space {space.name}",
                                      cls)
    return out


SOURCE_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def stale_install(kind: str, installed: set[str], pyproject: Path = SOURCE_PYPROJECT,
                  where: Path | None = None) -> str | None:
    """In a source checkout, the built-in plugins its pyproject declares that the installed entry points lack.

    Built-ins are entry points, so after a ``git pull`` that adds one an editable install keeps the old
    list until it is reinstalled, and the new plugin silently does not exist; this says so. The pyproject
    is read as data (TOML), never run; outside a checkout (a wheel install) there is none and nothing is said.
    """
    try:
        import tomllib
        declared = tomllib.loads(pyproject.read_text())["project"]["entry-points"][KINDS[kind]]
    except (ImportError, OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(declared, dict) or not installed:
        return None
    missing = sorted(set(declared) - installed)
    if not missing:
        return None
    source = f" ({Path(where).resolve()})" if where else ""
    return (f"genbench's installed entry points{source} are older than its source: {kind} "
            f"{', '.join(missing)} declared in {pyproject} but not registered; reinstall with "
            f"`pip install -e .` (or `make install`), or delete that stale metadata")


def problems(kind: str) -> list[str]:
    discover(kind)
    return list(_problems.get(kind, []))


def register(kind: str, name: str | None = None):
    """Class decorator registering a plugin in-process (scripts, notebooks). It overrides an entry
    point of the same name, with a warning."""

    def deco(cls):
        key = name or getattr(cls, "name", "") or cls.__name__.lower()
        _validate(kind, key, cls)
        cls.name = key
        if key in _cache.get(kind, {}) and _cache[kind][key].obj is not cls:
            warnings.warn(f"{kind[:-1]} '{key}' registered in-process overrides the installed one",
                          RuntimeWarning, stacklevel=2)
        target = f"{cls.__module__}:{cls.__qualname__}"
        _manual[kind][key] = Entry(key, kind, f"in-process register_{kind[:-1]}", target, cls)
        return cls

    return deco


def register_model(name: str | None = None):
    """``@register_model("mygan")`` on a GenerativeModel subclass makes it runnable by name."""
    return register("models", name)


def register_dataset(name: str | None = None):
    return register("datasets", name)


def register_metric(name: str | None = None):
    return register("metrics", name)


def register_space(name: str | None = None):
    return register("spaces", name)


def names(kind: str) -> list[str]:
    return sorted(n for n, e in discover(kind).items() if e.ok)


def get(kind: str, name: str) -> Any:
    """The plugin class called ``name``, or a GenbenchError naming the valid choices."""
    entries = discover(kind)
    entry = entries.get(name)
    if entry is None:
        hint = did_you_mean(name, names(kind))
        raise GenbenchError(f"Unknown {kind[:-1]} '{name}'{hint}; choose from: {', '.join(names(kind))}.")
    if not entry.ok:
        raise GenbenchError(f"The {kind[:-1]} plugin '{name}' from {entry.source} failed to load "
                            f"({entry.error}); fix or uninstall that package.")
    return entry.obj


def get_model(name: str) -> type[GenerativeModel]:
    return get("models", name)


def get_dataset(name: str) -> type[Dataset]:
    return get("datasets", name)


def get_metric(name: str) -> type[Metric]:
    return get("metrics", name)


def get_space(name: str) -> type[FeatureSpace]:
    return get("spaces", name)


def parse_names(kind: str, text: str) -> list[str]:
    """'a,b' -> ['a', 'b'], each checked; an unknown name is one sentence listing the valid ones."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise GenbenchError(f"No {kind} given; choose from: {', '.join(names(kind))}.")
    for item in items:
        get(kind, item)
    return items
