"""The evaluator: runs the metric plugins that apply to a model's capabilities, records 'n/a' (never
a number) for those that do not, and skips what is already scored under the same protocol."""

from __future__ import annotations

import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genbench.api import EvalContext, Metric, Score
from genbench.registry import get_metric
from genbench.results import protocol_id


@dataclass
class Scored:
    score: Score
    metric: str
    protocol: dict[str, Any]
    protocol_id: str
    reused: bool = False
    seconds: float = 0.0
    time: str | None = None  # when a reused score was computed


def evaluate(ctx: EvalContext, metric_names: list[str], previous: list[dict[str, Any]], step: int,
             log=print) -> list[Scored]:
    """Scores for every metric in ``metric_names``. A record in ``previous`` with the same metric,
    protocol id and checkpoint step is reused instead of recomputed."""
    out: list[Scored] = []
    for name in metric_names:
        metric: Metric = get_metric(name)()
        if not metric.applies(ctx.model):
            missing = ", ".join(sorted(metric.requires - set(ctx.model.provides)))
            out.append(Scored(Score(name, None, "n/a", f"model is not a {missing}",
                                    metric.higher_is_better), name, {}, ""))
            continue
        protocol = metric.protocol(ctx)
        pid = protocol_id(name, metric.version, protocol)
        old = [r for r in previous if r.get("metric_plugin") == name and r.get("protocol_id") == pid
               and r.get("step") == step and r.get("status") in ("ok", "warn")]
        if old:
            for r in old:
                out.append(Scored(Score(r["metric"], r["value"], r["status"], r.get("note", ""),
                                        r.get("higher_is_better", False), r.get("extra", {})),
                                  name, protocol, pid, reused=True, seconds=r.get("eval_seconds", 0.0),
                                  time=r.get("time")))
            continue
        t0 = time.perf_counter()
        try:
            scores = metric.compute(ctx)
        except Exception as exc:  # one broken metric must not lose the others' results
            detail = traceback.format_exc(limit=3)
            warnings.warn(f"metric '{name}' failed: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
            if ctx.options.get("error_log"):
                with Path(ctx.options["error_log"]).open("a") as f:
                    f.write(f"metric {name}:\n{detail}\n")
            scores = [Score(name, None, "error", f"{type(exc).__name__}: {exc}", metric.higher_is_better)]
        seconds = time.perf_counter() - t0
        for s in scores:
            if s.status not in ("ok", "warn"):
                s.value = None
            out.append(Scored(s, name, protocol, pid, seconds=seconds))
    return out
