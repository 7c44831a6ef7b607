"""The overview table: for one dataset and preset, rows models and columns metrics (direction arrow
in the header, the best of each column marked where it is better beyond noise and the leaders marked
tied otherwise (genbench.verdicts), mean ± std over seeds and on request each value's 95 % interval,
``n/a`` where a metric does not apply), then the rule, the metrics that have no value anywhere and the
protocol ids. It is what ``genbench table`` prints by default and what ``genbench run`` ends with; the
paper's layout (one metric per table, rows datasets) is :func:`genbench.tables.build_table`."""

from __future__ import annotations

import pandas as pd

from genbench import verdicts
from genbench.tables import CI_NOTE, OK, Table, cell, chance_notes, metric_order, protocol_note, valueless

ARROWS = {True: " ↑", False: " ↓", None: ""}


def _direction(d: pd.DataFrame) -> bool | None:
    hib = d["higher_is_better"].dropna()
    return bool(hib.iloc[0]) if len(hib) else None


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
    seeds = []
    for metric in shown:
        d = df[df["metric"] == metric]
        hib = _direction(d)
        col = metric + ARROWS[hib]
        t.columns.append(col)
        plugins = set(d["metric_plugin"].dropna()) if "metric_plugin" in d else set()
        na = df[df["metric_plugin"].isin(plugins) & (df["status"] == "n/a")] if plugins else df[:0]
        scored: dict[str, pd.DataFrame] = {}
        for m in rows:
            g = d[d["model"] == m]
            if g.empty:
                t.cells[(m, col)] = "n/a" if (na["model"] == m).any() else ""
                continue
            t.cells[(m, col)], mean = cell(g, ci)
            if mean is not None:
                t.means[(m, col)] = mean
                scored[m] = g
                seeds.append(g.loc[g["status"].isin(OK), "seed"].nunique())
        if hib is not None and len(verdicts.contenders(scored)) > 1:  # one value is not "the best"
            verdict = verdicts.decide(verdicts.contenders(scored), hib)
            t.best |= {(m, col) for m in verdict.best}
            t.tied |= {(m, col) for m in verdict.tied}
    seed_range = "0" if not seeds else str(min(seeds)) if min(seeds) == max(seeds) else f"{min(seeds)}–{max(seeds)}"
    t.notes.append(f"↑ higher / ↓ lower is better; mean ± std over seeds ({seed_range} per cell)")
    t.notes.append(verdicts.RULE)
    if "config.source.kind" in df and (df["config.source.kind"] == "real").any():
        t.notes.append(verdicts.CALIBRATION_NOTE)
    if ci:
        t.notes.append(CI_NOTE)
    ok = df[df["metric"].isin(shown) & df["status"].isin(OK)]
    t.notes += [f"† {n}" for n in sorted(set(ok.loc[ok["status"] == "warn", "note"].dropna()))]
    t.notes += chance_notes(ok)
    if empty:
        t.notes.append("no values for: " + ", ".join(f"{m} ({s})" for m, s in empty.items()))
    note = protocol_note(ok, shown)
    if note:
        t.notes.append(note)
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
