"""The evaluator: runs the metric plugins that apply to a model's capabilities, records 'n/a' (never
a number) for those that do not, and skips what is already scored under the same protocol."""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import replace

from genbench.api import EvalContext, Metric, Score, Status, capabilities, has_value
from genbench.io import append_text
from genbench.store.records import Record, finite, protocol_id


def score_metrics(ctx: EvalContext, metrics: Sequence[type[Metric]], previous: list[Record], base: Record,
                  stamp: str) -> list[Record]:
    """Records for every metric plugin in ``metrics`` (the classes, as the plan resolved them), made from
    ``base`` (the run's identity and provenance) and stamped ``stamp``. A record in ``previous`` with the same
    metric, protocol id and step is reused instead of recomputed (it keeps its value, seconds and time)."""
    out: list[Record] = []
    for cls in metrics:
        metric, name = cls(), cls.name
        if not metric.applies(ctx.model):
            missing = ", ".join(sorted(metric.requires - capabilities(ctx.model)))
            out.append(replace(base, metric=name, metric_plugin=name, status=Status.NA,
                               note=f"model is not a {missing}", higher_is_better=metric.higher_is_better, time=stamp))
            continue
        unmet = metric.unmet_need(ctx)
        if unmet:
            out += [replace(base, metric=col, metric_plugin=name, status=Status.NA, note=unmet,
                            higher_is_better=metric.higher_is_better, time=stamp) for col in metric.columns or (name,)]
            continue
        protocol = metric.protocol(ctx)
        pid = protocol_id(name, metric.version, protocol)
        scored = replace(base, metric_plugin=name, protocol_id=pid, protocol=protocol, time=stamp)
        old = [r for r in previous if r.metric_plugin == name and r.protocol_id == pid and r.step == base.step
               and r.good]
        if old:
            out += [replace(scored, metric=r.metric, value=r.value, status=r.status, note=r.note,
                            higher_is_better=r.higher_is_better, extra=r.extra, eval_seconds=r.eval_seconds,
                            time=r.time or stamp) for r in old]
            continue
        t0 = time.perf_counter()
        scores = [_finite_or_failed(s) for s in _compute(metric, name, ctx)]
        seconds = round(time.perf_counter() - t0, 2)
        out += [replace(scored, metric=s.name, value=s.value if has_value(s.status) else None,
                        status=s.status, note=s.note, higher_is_better=s.higher_is_better, extra=s.extra,
                        eval_seconds=seconds) for s in scores]
    return out


def _finite_or_failed(score: Score) -> Score:
    """A score that claims a value which is not a finite number is 'failed' with the reason, never 'ok'
    (a NaN in a table reads as a number and poisons every mean, verdict and comparison it enters)."""
    if not has_value(score.status) or finite(score.value):
        return score
    return replace(score, value=None, status=Status.FAILED,
                   note=f"the metric returned {score.value!r}, not a finite number" + (f"; {score.note}" if score.note
                                                                                       else ""))


def _compute(metric: Metric, name: str, ctx: EvalContext) -> list[Score]:
    """The metric's scores; a metric that crashes gives one 'error' score (traceback in the error log)."""
    try:
        return metric.compute(ctx)
    except Exception as exc:  # one broken metric must not lose the others' results
        detail = traceback.format_exc(limit=3)
        warnings.warn(f"metric '{name}' failed: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)
        if ctx.settings.error_log is not None:
            append_text(ctx.settings.error_log, f"metric {name}:\n{detail}\n")
        return [Score(name, None, Status.ERROR, f"{type(exc).__name__}: {exc}", metric.higher_is_better)]
