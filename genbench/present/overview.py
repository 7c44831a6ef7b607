"""The overview table: for one dataset and preset, rows models and columns metrics (direction arrow
in the header, the best of each column marked where it is better beyond noise and the leaders marked
tied otherwise (genbench.present.verdicts), mean ± std over seeds and on request each value's 95 % interval,
``n/a`` where a metric does not apply), then the rule, the metrics that have no value anywhere and the
protocol ids. It is what ``genbench table`` prints by default and what ``genbench run`` ends with; the
paper's layout (one metric per table, rows datasets) is :func:`genbench.present.tables.build_table`."""

from __future__ import annotations

import pandas as pd

from genbench.present import verdicts
from genbench.present.tables import Table, build_column, inapplicable, metric_order, notes, valueless
from genbench.store.records import arrow, direction, valued


def build_overview(df: pd.DataFrame, metrics: list[str] | None = None,
                   models: list[str] | None = None, ci: bool = False) -> Table:
    """The overview of ``df``, which holds the records of one dataset and preset. ``metrics`` limits
    (and orders) the columns, ``models`` the rows; by default every recorded one, the paper's metrics
    first and models in the order they were first evaluated. ``ci``: each value's 95 % interval too."""
    df = df.sort_values("time", kind="stable")
    dataset, preset = df["dataset"].iloc[0], df["preset"].iloc[0]
    if models is not None:
        df = df[df["model"].isin(models)]
        rows = [m for m in models if m in set(df["model"])]
    else:
        rows = list(dict.fromkeys(df["model"]))
    order = metric_order(df)
    if metrics is not None:
        order = [m for m in metrics if m in order]
    empty = valueless(df, order)
    shown = [m for m in order if m not in empty]
    t = Table("model", None, rows, [], {}, title=f"{dataset} · {preset}", corner="model")
    seeds: list[int] = []
    judged = []
    for metric in shown:
        d = df[df["metric"] == metric]
        hib = direction(d)
        name = metric + arrow(hib, " ")
        t.columns.append(name)
        col = build_column(d, rows, set(inapplicable(df, d)["model"]), hib, ci)  # one value alone is not "the best"
        t.place(col, column=name)
        seeds += col.seeds.values()
        judged.append(col.verdict)
    seed_range = "0" if not seeds else str(min(seeds)) if min(seeds) == max(seeds) else f"{min(seeds)}–{max(seeds)}"
    t.notes.append(f"{arrow(True)} higher / {arrow(False)} lower is better; mean ± std over seeds ({seed_range} per "
                   "cell)")
    t.notes += [verdicts.RULE, verdicts.marks_note(judged)]
    t.notes += notes(valued(df[df["metric"].isin(shown)]), shown, ci, verdicts.is_calibration(df), empty=empty)
    return t


def fit_width(t: Table, width: int) -> list[Table]:
    """``t`` split into tables of consecutive columns that each fit ``width`` characters of terminal
    (the row labels repeated in each, the notes under the last), so no cell is cut short."""
    def w(col: str) -> int:
        return max([len(col)] + [len(t.cells.get((r, col), "")) for r in t.rows]) + 3  # padding + border

    budget = width - max([len(t.corner)] + [len(r) for r in t.rows]) - 4
    parts: list[list[str]] = [[]]
    used = 0
    for col in t.columns:
        if parts[-1] and used + w(col) > budget:
            parts.append([])
            used = 0
        parts[-1].append(col)
        used += w(col)
    if len(parts) == 1:
        return [t]
    out = []
    for i, cols in enumerate(parts):
        out.append(Table(t.metric, t.higher_is_better, t.rows, cols, t.cells, {b for b in t.best if b[1] in cols},
                         t.means, t.notes if i == len(parts) - 1 else [],
                         title=f"{t.title} ({i + 1}/{len(parts)})", corner=t.corner,
                         tied={b for b in t.tied if b[1] in cols}))
    return out


def build_overviews(df: pd.DataFrame, metrics: list[str] | None = None,
                    models: list[str] | None = None, ci: bool = False) -> list[Table]:
    """One overview per (dataset, preset) in ``df``, in the order they were first recorded."""
    df = df.sort_values("time", kind="stable")
    out = []
    for (_, _), g in df.groupby(["dataset", "preset"], sort=False):
        t = build_overview(g, metrics, models, ci)
        if t.rows:
            out.append(t)
    return out
