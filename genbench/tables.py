"""``genbench table``: a pure aggregation of the tidy records into the paper's table layout —
rows datasets, columns models, mean +- std over seeds (with ``ci``, each value's 95 % interval), the best
value marked only where it is better beyond noise and the leaders marked tied otherwise (genbench.verdicts),
and a Delta column (best vs runner-up, in the metric's better direction, saying when it is within noise) — as
rich, markdown, csv or LaTeX."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import pandas as pd

from genbench import registry, verdicts
from genbench.errors import GenbenchError, did_you_mean

FORMATS = ("rich", "md", "csv", "latex")
OK = ("ok", "warn")


@dataclass
class Table:
    metric: str
    higher_is_better: bool | None  # None: descriptive metric, no best mark and no Δ
    rows: list[str]
    columns: list[str]  # models, then "Δ"
    cells: dict[tuple[str, str], str]
    best: set[tuple[str, str]] = field(default_factory=set)
    means: dict[tuple[str, str], float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    title: str = ""  # shown above the table (rich title, markdown heading); default: the metric
    corner: str = "dataset"  # header of the row-label column in rich output
    tied: set[tuple[str, str]] = field(default_factory=set)  # leaders not shown to differ from the best (≈)


def _decimals(v: float) -> int:
    """Paper-table precision: 1 decimal from 100, 2 from 1, 3 below 1, 3 significant below 0.001."""
    mag = abs(v)
    if mag >= 100:
        return 1
    if mag >= 1:
        return 2
    if mag >= 0.001 or mag == 0:
        return 3
    return 2 - math.floor(math.log10(mag))


def _fmt(v: float, decimals: int | None = None) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{_decimals(v) if decimals is None else decimals}f}"


def _is_count(g: pd.DataFrame) -> bool:
    """Records of a count say what it counts out of (``extra['of']``, e.g. dissect_detectors: 11 of 12)."""
    return "extra" in g and g["extra"].map(lambda e: isinstance(e, dict) and "of" in e).all()


CI_NOTE = ("[lo, hi]: 95% interval; one seed: bootstrap over the samples the value came from (percentile, "
           "re-centred; B = 200, 100 for Fréchet distances); several seeds: t-interval of the mean over seeds")


def interval(good: pd.DataFrame) -> tuple[float, float] | None:
    """The 95 % interval of a cell's value: one seed, the record's bootstrap interval (``extra['ci']``);
    several, the t-interval of the mean over seeds (scipy.stats.ttest_1samp(...).confidence_interval)."""
    x = good["value"].astype(float).to_numpy()
    if len(x) > 1:
        if x.std() == 0:
            return float(x[0]), float(x[0])
        from scipy import stats

        ci = stats.ttest_1samp(x, 0.0).confidence_interval(verdicts.LEVEL)
        return float(ci.low), float(ci.high)
    extra = good["extra"].iloc[0] if "extra" in good else None
    ci = extra.get("ci") if isinstance(extra, dict) else None
    return (float(ci[0]), float(ci[1])) if isinstance(ci, list) and len(ci) == 2 else None


def cell(g: pd.DataFrame, ci: bool = False) -> tuple[str, float | None]:
    """One cell from the records of one (row, model): 'mean ± std' over seeds (std to the mean's
    precision), † when any value is marked 'warn'; else the status ('n/a', 'unavailable', ...). With ``ci``,
    the value's 95 % interval follows, '[lo, hi]' (see ``interval``)."""
    good = g[g["status"].isin(OK)]
    if good.empty:
        return str(g["status"].iloc[-1]), None
    x = good["value"].astype(float)
    mean = x.mean()
    dec = 0 if _is_count(good) and mean == round(mean) else _decimals(mean)  # a mean that is not whole keeps them
    text = _fmt(mean, dec) + (f" ± {_fmt(x.std(ddof=1), dec)}" if len(x) > 1 else "")
    text += "†" if (good["status"] == "warn").any() else ""
    bounds = interval(good) if ci else None
    if bounds is not None:
        dec = max(dec, 1) if _is_count(good) else dec
        text += f" [{_fmt(bounds[0], dec)}, {_fmt(bounds[1], dec)}]"
    return text, float(mean)


def mark(t: Table, r: str, c: str, best: str, tied: str, escape=lambda s: s) -> str:
    """The cell's text (through ``escape``) in ``best`` (e.g. '**{}**') or ``tied`` form ('{} ≈') when marked."""
    text = escape(t.cells[(r, c)])
    return best.format(text) if (r, c) in t.best else tied.format(text) if (r, c) in t.tied else text


def chance_notes(d: pd.DataFrame, by: str | None = None) -> list[str]:
    """'ncc chance (untrained generator): ours 0.21, ours-dense 0.20' for each metric in ``d`` whose
    records carry ``extra['chance']`` (the score of an untrained model of the same config), mean over
    seeds; with ``by`` (a column, e.g. the table's row), one line per value of it."""
    if d.empty or "extra" not in d:
        return []
    chance = d["extra"].map(lambda e: e.get("chance") if isinstance(e, dict) else None)
    d = d.assign(chance=pd.to_numeric(chance, errors="coerce")).dropna(subset=["chance"])
    lines = []
    for keys, g in d.groupby(["metric"] + ([by] if by else []), sort=False):
        metric, *where = keys
        means = g.groupby("model", sort=False)["chance"].mean()
        lines.append(f"{metric} chance (untrained generator){', ' + where[0] if where else ''}: "
                     + ", ".join(f"{m} {_fmt(v)}" for m, v in means.items()))
    return lines


def _family(r: pd.Series) -> str:
    """A record's protocol (a JSON string in load_records' frame) without its seeds ('seed', '*_seed'):
    the runs of one protocol differ only in those."""
    protocol = r.get("protocol")
    protocol = json.loads(protocol) if isinstance(protocol, str) else protocol if isinstance(protocol, dict) else {}
    kept = {k: v for k, v in protocol.items() if k != "seed" and not k.endswith("_seed")}
    return json.dumps({"plugin": r["metric_plugin"], **kept}, sort_keys=True, default=str)


def protocol_note(ok: pd.DataFrame, metrics: list[str]) -> str | None:
    """'protocol: swd/mse 1a2b3c4d5e6f, ...' for the good records ``ok``: metrics that share protocol ids are
    named together. A protocol that holds the seed has one id per seed; when the ids of a metric differ
    only in that, the first seed's id stands for them and the line says so, so three seeds do not read as
    three protocols."""
    by_pid: dict[str, list[str]] = {}
    first_seeds: set[int] = set()
    for metric in metrics:
        d = ok[ok["metric"] == metric]
        if d.empty:
            continue
        for _, g in d.groupby(d.apply(_family, axis=1), sort=False):
            per_seed = g.groupby("seed", sort=True)["protocol_id"].unique()
            ids = tuple(dict.fromkeys(v[0] for v in per_seed))
            if len(ids) > 1 and all(len(v) == 1 for v in per_seed):
                first_seeds.add(int(per_seed.index[0]))
                by_pid.setdefault(ids[0], []).append(metric)
            else:  # one id for every seed, or more than one protocol within a seed: list them plainly
                for pid in sorted(set(g["protocol_id"])):
                    by_pid.setdefault(pid, []).append(metric)
    if not by_pid:
        return None
    head = "protocol"
    if first_seeds:
        head += (f" (ids of seed {', '.join(map(str, sorted(first_seeds)))}; other seeds' ids differ only in "
                 f"the seed)")
    return f"{head}: " + ", ".join(f"{'/'.join(ms)} {pid}" for pid, ms in by_pid.items())


def only_models(df: pd.DataFrame, text: str) -> tuple[pd.DataFrame, list[str]]:
    """The records of the models named in ``text`` (comma-separated) and of the calibration rows, and the
    row order: the named models, then the calibration rows. A name with no records is refused in one sentence."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    recorded = list(dict.fromkeys(df["model"]))
    missing = [n for n in names if n not in recorded]
    if not names or missing:
        what = f"no records for model '{missing[0]}'{did_you_mean(missing[0], recorded)}" if missing else \
            "--models names no model"
        raise GenbenchError(f"{what}; recorded models: {', '.join(recorded)}.")
    calibration = [m for m, g in df.groupby("model", sort=False) if verdicts.is_calibration(g)]
    order = names + [m for m in calibration if m not in names]
    return df[df["model"].isin(order)], order


def build_table(df: pd.DataFrame, metric: str, ci: bool = False, models: list[str] | None = None) -> Table:
    """The paper layout of ``metric``: rows datasets (and presets), columns models (``models``: these, in this
    order; default every model evaluated, in the order first evaluated), Δ; with ``ci`` each value's 95 %
    interval in its cell."""
    if df.empty or metric not in set(df["metric"]):
        known = sorted(set(df["metric"])) if not df.empty else []
        raise GenbenchError(f"No records for metric '{metric}'{did_you_mean(metric, known)}; recorded metrics: "
                            f"{', '.join(known) or 'none (run genbench run first)'}.")
    multi_preset = df["preset"].nunique() > 1
    df = df.assign(row=df["dataset"] + (" (" + df["preset"] + ")" if multi_preset else ""))
    d = df[df["metric"] == metric].copy()
    plugin = d["metric_plugin"].iloc[0] if "metric_plugin" in d else metric
    hib = bool(d["higher_is_better"].dropna().iloc[0]) if d["higher_is_better"].notna().any() else None
    d = d.sort_values("time", kind="stable")
    rows = list(dict.fromkeys(d["row"]))
    # every model evaluated on these rows gets a column, so 'n/a' is visible, not a missing column
    evaluated = list(dict.fromkeys(df[df["row"].isin(rows)].sort_values("time", kind="stable")["model"]))
    models = evaluated if models is None else [m for m in models if m in evaluated]
    na = df[(df["metric_plugin"] == plugin) & (df["status"] == "n/a")] if "metric_plugin" in df else df[:0]
    t = Table(metric, hib, rows, models + ([] if hib is None else ["Δ"]), {})
    for r in rows:
        scored: dict[str, pd.DataFrame] = {}
        for m in models:
            g = d[(d["row"] == r) & (d["model"] == m)]
            if g.empty:
                t.cells[(r, m)] = "n/a" if ((na["row"] == r) & (na["model"] == m)).any() else ""
                continue
            t.cells[(r, m)], mean = cell(g, ci)
            if mean is None:
                continue
            scored[m] = g
            t.means[(r, m)] = mean
        if hib is None:
            continue
        verdict = verdicts.decide(verdicts.contenders(scored), hib)
        t.best |= {(r, m) for m in verdict.best}
        t.tied |= {(r, m) for m in verdict.tied}
        runner_up = verdict.runner_up
        t.cells[(r, "Δ")] = "" if runner_up is None else _fmt(abs(runner_up.diff)) + (
            "" if runner_up.significant else " (within noise)" if runner_up.tested else " (untested)")
    seeds = d.groupby(["row", "model"])["seed"].nunique()
    direction = ("descriptive (no better direction)" if hib is None else
                 f"{'higher' if hib else 'lower'} is better; Δ = best vs runner-up")
    t.notes.append(f"{direction}; seeds per cell: {seeds.min()}–{seeds.max()}" if len(seeds) else direction)
    if hib is not None:
        t.notes.append(verdicts.RULE)
    if any(verdicts.is_calibration(d[d["model"] == m]) for m in models):
        t.notes.append(verdicts.CALIBRATION_NOTE)
    if ci:
        t.notes.append(CI_NOTE)
    warn_notes = sorted(set(d.loc[d["status"] == "warn", "note"].dropna()))
    t.notes += [f"† {n}" for n in warn_notes]
    t.notes += chance_notes(d[d["status"].isin(OK)], by="row" if len(rows) > 1 else None)
    note = protocol_note(d[d["status"].isin(OK)], [metric])
    if note:
        t.notes.append(note)
    return t


# what markdown would read as markup (links, images, emphasis, code, HTML, table cells, headings); an
# underscore inside a word (fd_rand) is not emphasis and stays as it is
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|&#~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_TEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def md_text(text: str) -> str:
    """``text`` (a name, a path, a note read from a file) as literal markdown text on one line."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), " ".join(str(text).splitlines()))


def render(t: Table, fmt: str) -> str:
    if fmt == "md":
        e = md_text
        head = (f"**{e(t.title)}**\n\n" if t.title else "") + f"| {e(t.metric)} | " + " | ".join(map(e, t.columns))
        head += " |"
        sep = "|" + "---|" * (len(t.columns) + 1)
        lines = [head, sep]
        for r in t.rows:
            cells = [mark(t, r, c, "**{}**", "{} " + verdicts.TIED, e) for c in t.columns]
            lines.append(f"| {e(r)} | " + " | ".join(cells) + " |")
        return "\n".join(lines + [""] + [f"{e(n)}  " for n in t.notes if n])
    if fmt == "csv":
        frame = pd.DataFrame([[t.cells[(r, c)] for c in t.columns] for r in t.rows], index=t.rows,
                             columns=t.columns)
        frame.index.name = t.title or t.metric
        return frame.to_csv()
    if fmt == "latex":
        esc = lambda s: (s.translate(str.maketrans(_TEX_SPECIAL)).replace("±", r"$\pm$")  # noqa: E731
                         .replace("†", r"$^\dagger$").replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")
                         .replace("≈", r"$\approx$").replace("Δ", r"$\Delta$"))
        lines = ([f"% {t.title}"] if t.title else []) + [r"\begin{tabular}{l" + "c" * len(t.columns) + "}", r"\toprule",
                 esc(t.metric) + " & " + " & ".join(esc(c) for c in t.columns)
                 + r" \\", r"\midrule"]
        for r in t.rows:
            cells = [mark(t, r, c, r"\textbf{{{}}}", r"{} $\approx$", esc) for c in t.columns]
            lines.append(esc(r) + " & " + " & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines + ["% " + " ".join(n.splitlines()) for n in t.notes if n])
    raise GenbenchError(f"Unknown format '{fmt}'; choose from: {', '.join(FORMATS)}.")


def rich_table(t: Table, plain: bool = False):
    """A rich table; ``plain`` (a console without colour) marks the best with a '*' instead of bold; tied
    leaders end in '≈'."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table as RichTable
    from rich.text import Text

    arrow = "" if t.higher_is_better is None else (" (↑)" if t.higher_is_better else " (↓)")
    e = escape  # names and cells are text, not markup
    rt = RichTable(title=e(t.title or t.metric + arrow), title_justify="left")
    rt.add_column(e(t.corner), no_wrap=True)
    for c in t.columns:
        rt.add_column(e(c), justify="right", no_wrap=True)
    best, tied = ("*{}", "{} ≈") if plain else ("[bold green]{}[/]", "[yellow]{} ≈[/]")
    for r in t.rows:
        rt.add_row(e(r), *[mark(t, r, c, best, tied, e) for c in t.columns])
    return Group(rt, Text("\n".join(n for n in t.notes if n), style="dim"), Text(""))


def column_ranks() -> dict[str, tuple[int, int]]:
    """Score name -> its place among the tables' columns, as the metric plugins declare it (``rank``, then
    the score's position in ``columns``): the paper's tables first (2: FID, 3: MSE, 4: NCC), then the rest."""
    ranks: dict[str, tuple[int, int]] = {}
    for name, entry in registry.discover("metrics").items():
        if entry.ok and entry.obj.rank is not None:
            for i, col in enumerate(entry.obj.columns or (name,)):
                ranks[col] = (entry.obj.rank, i)
    return ranks


def metric_order(df: pd.DataFrame) -> list[str]:
    """The recorded metrics: ranked ones in their declared order, then the others as first recorded."""
    if df.empty:
        return []
    recorded = list(dict.fromkeys(df.sort_values("time", kind="stable")["metric"]))
    ranks = column_ranks()
    return sorted((m for m in recorded if m in ranks), key=ranks.__getitem__) + [m for m in recorded if m not in ranks]


def valueless(df: pd.DataFrame, metrics: list[str]) -> dict[str, str]:
    """Metrics with no value in any cell, mapped to their statuses (e.g. 'unavailable', 'n/a')."""
    out = {}
    for m in metrics:
        d = df[df["metric"] == m]
        if not d["status"].isin(OK).any():
            out[m] = "/".join(sorted(set(d["status"])))
    return out
