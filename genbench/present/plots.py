"""The comparison as a picture (the report's first figure per dataset and preset): one small panel per metric of
an overview, every model a dot at its value with its 95 % interval as a whisker, so the verdict is seen before it
is read. The same numbers and marks as the table: the dot is the table's mean; the whisker is the interval the
table's ``--ci`` shows for one seed (the record's ``ci``) and, for several seeds, the t interval of the mean over
seeds (the spread Welch's test reads), each seed's value a faint dot behind it; best is a filled star and tied
leaders hollow diamonds, as the table marks them (``Table.best``, ``Table.tied``); a calibration row (the
dataset's own held-out images) is a dashed reference line, not a dot; descriptive metrics (no better direction)
get no marks.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from scipy import stats

from genbench.present import verdicts
from genbench.present.tables import Table
from genbench.store.records import arrow

PANELS_PER_ROW = 4
LEVEL = 0.95


def interval(values: np.ndarray, cis: list) -> tuple[float, float] | None:
    """The whisker: one seed's bootstrap/split interval, or the t interval of the mean of several seeds."""
    if len(values) == 1:
        ci = cis[0]
        return (float(ci[0]), float(ci[1])) if isinstance(ci, (list, tuple)) and len(ci) == 2 else None
    half = stats.t.ppf((1 + LEVEL) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def _cells(g: pd.DataFrame, t: Table, column: str) -> tuple[list, float | None]:
    """[(model, mean, whisker, per-seed values, mark)] for the panel of the table's ``column`` (a metric, with
    the table's direction arrow after a space), and the calibration value."""
    metric, rows, reference = column.split(" ")[0], [], None
    for model in t.rows:
        recs = g[(g["model"] == model) & (g["metric"] == metric) & g["value"].notna()]
        if recs.empty or (model, column) not in t.means:
            continue
        values = recs["value"].astype(float).to_numpy()
        if verdicts.is_calibration(recs):
            reference = float(values.mean())
            continue
        cis = [e.get("ci") if isinstance(e, dict) else None for e in recs.get("extra", [None] * len(recs))]
        mark = "best" if (model, column) in t.best else "tied" if (model, column) in t.tied else ""
        rows.append((model, t.means[(model, column)], interval(values, cis), values, mark))
    return rows, reference


def _panel(ax, metric: str, higher: bool | None, rows: list, reference: float | None) -> None:
    for y, (_model, mean, whisker, values, mark) in enumerate(rows):
        if len(values) > 1:
            ax.scatter(values, [y] * len(values), s=9, color="#9aa5b1", alpha=0.5, zorder=1)
        if whisker is not None:
            ax.plot(whisker, [y, y], color="#3b4a5a", lw=1.4, zorder=2)
        style = {"best": dict(marker="*", s=110, color="#d62728"),
                 "tied": dict(marker="D", s=34, facecolors="none", edgecolors="#d62728", linewidths=1.3)}
        ax.scatter([mean], [y], zorder=3, **style.get(mark, dict(marker="o", s=22, color="#1f77b4")))
    if reference is not None:
        ax.axvline(reference, color="#2ca02c", ls="--", lw=1, zorder=0)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_title(metric + arrow(higher, " "), fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)


def interval_plot(g: pd.DataFrame, t: Table) -> bytes | None:
    """The overview ``t`` of records ``g`` (one dataset and preset) as dot-and-whisker panels, a PNG; None when
    no metric has a value."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    panels = []
    for column in t.columns:
        rows, reference = _cells(g, t, column)
        if rows:
            metric = column.split(" ")[0]
            higher = g.loc[g["metric"] == metric, "higher_is_better"].dropna()
            panels.append((metric, bool(higher.iloc[0]) if len(higher) else None, rows, reference))
    if not panels:
        return None
    ncols = min(PANELS_PER_ROW, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    height = 0.45 + 0.22 * max(len(p[2]) for p in panels)
    fig = MplFigure(figsize=(3.1 * ncols, height * nrows + 0.6), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(f"{t.title}: value and 95 % interval per model (★ best, ◇ tied, dashed: held-out images)",
                 fontsize=10)
    for i, (metric, higher, rows, reference) in enumerate(panels):
        _panel(fig.add_subplot(nrows, ncols, i + 1), metric, higher, rows, reference)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
