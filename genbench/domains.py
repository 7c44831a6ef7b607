"""What a setting may be: the domain of every config field, stated next to the config.

A config dataclass (a ``ModelConfig`` subclass, or the harness's ``RunSettings``) names its fields'
domains in a class-level mapping ``DOMAINS``; a subclass adds to (or overrides) its bases' entries::

    from genbench.domains import between, count, positive

    @dataclass
    class MyGANConfig(ModelConfig):
        lr: float = 2e-4
        dropout: float = 0.2
        d_steps: int = 1
        DOMAINS = {"lr": positive, "dropout": between(0, 1, high_open=True), "d_steps": count}

genbench checks every field when the configuration is resolved, before data is loaded or a file
written, and refuses a value outside its domain with one sentence naming the field, the value and
what is allowed. A field's declared type (int, float, bool, str) is checked even without a domain.
Checks that tie several fields together belong in the dataclass's ``__post_init__``: a ValueError
raised there is reported the same way.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from genbench.errors import GenbenchError


@dataclass(frozen=True)
class Domain:
    """A set of allowed values: ``allowed`` says it in words ("a number > 0"), ``test`` decides."""

    allowed: str
    test: Callable[[Any], bool]

    def __contains__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _bound(x: float) -> str:
    return f"{x:g}"


def between(low: float | None = None, high: float | None = None, *, low_open: bool = False,
            high_open: bool = False) -> Domain:
    """A finite number in an interval; ``None`` leaves that side unbounded."""
    if low is not None and high is not None:
        text = f"a number in {'(' if low_open else '['}{_bound(low)}, {_bound(high)}{')' if high_open else ']'}"
    elif low is not None:
        text = f"a number {'>' if low_open else '>='} {_bound(low)}"
    elif high is not None:
        text = f"a number {'<' if high_open else '<='} {_bound(high)}"
    else:
        text = "a finite number"

    def test(v: Any) -> bool:
        return (_number(v) and (low is None or (v > low if low_open else v >= low))
                and (high is None or (v < high if high_open else v <= high)))

    return Domain(text, test)


def integer(low: int | None = None, high: int | None = None) -> Domain:
    """A whole number in [low, high]."""
    text = ("an integer" + (f" >= {low}" if low is not None else "")
            + (f"{' and' if low is not None else ''} <= {high}" if high is not None else ""))
    return Domain(text, lambda v: isinstance(v, int) and not isinstance(v, bool)
                  and (low is None or v >= low) and (high is None or v <= high))


def one_of(*choices: Any, why: str = "") -> Domain:
    text = "one of " + ", ".join(str(c) for c in choices) + (f" ({why})" if why else "")
    return Domain(text, lambda v: not isinstance(v, bool) and v in choices)


def optional(domain: Domain) -> Domain:
    """``None`` (meaning "the default", as the field's docs say) or a value of ``domain``."""
    return Domain(f"none or {domain.allowed}", lambda v: v is None or v in domain)


positive = between(0, low_open=True)
non_negative = between(0)
fraction = between(0, 1, low_open=True)        # (0, 1]: a share that cannot be empty
probability = between(0, 1)                    # [0, 1]
adam_beta = between(0, 1, high_open=True)      # [0, 1): Adam's and RMSprop's decay rates
count = integer(1)
non_negative_count = integer(0)


def domains_of(cls: type) -> dict[str, Domain]:
    """The class's ``DOMAINS`` merged over its bases (a subclass's entry wins)."""
    merged: dict[str, Domain] = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get("DOMAINS", {}) or {})
    return merged


def _type_ok(value: Any, hint: Any) -> tuple[bool, str]:
    """(does ``value`` have the annotated type, the type in words)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        results = [_type_ok(value, a) for a in typing.get_args(hint)]
        return any(ok for ok, _ in results), " or ".join(w for _, w in results)
    if hint is type(None):
        return value is None, "none"
    if hint is bool:
        return isinstance(value, bool), "true or false"
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), "an integer"
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool), "a number"
    if hint is str:
        return isinstance(value, str), "a string"
    if origin in (tuple, list) or hint in (tuple, list):
        return isinstance(value, tuple | list), "a comma-separated list"
    return True, getattr(hint, "__name__", str(hint))


def problems(config: Any) -> list[tuple[str, Any, str]]:
    """(field, value, what is allowed) for every field of the dataclass instance ``config`` that is
    not of its declared type or not in its declared domain."""
    cls = type(config)
    hints = typing.get_type_hints(cls)
    out = []
    doms = domains_of(cls)
    for f in fields(cls):
        value = getattr(config, f.name)
        ok, words = _type_ok(value, hints.get(f.name, Any))
        if not ok:
            out.append((f.name, value, words))
        elif f.name in doms and value not in doms[f.name]:
            out.append((f.name, value, doms[f.name].allowed))
    return out


def check(config: Any, owner: str, set_prefix: str = "") -> None:
    """GenbenchError (exit code 2) naming the first field of ``config`` outside its domain.

    ``owner`` names whose setting it is ("model 'vae'", "run"); ``set_prefix`` is what goes before the
    field in the ``--set`` that fixes it ("vae.")."""
    stray = sorted(set(domains_of(type(config))) - {f.name for f in fields(config)})
    if stray:
        raise GenbenchError(f"The {owner} config {type(config).__name__} declares a domain for '{stray[0]}' in "
                            f"DOMAINS but has no such field; fix the DOMAINS mapping of that plugin.")
    found = problems(config)
    if found:
        name, value, allowed = found[0]
        raise GenbenchError(f"The {owner} setting {name} = {value!r} is not allowed: it must be {allowed} "
                            f"(change it with --set {set_prefix}{name}=VALUE).")
