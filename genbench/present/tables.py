"""``genbench table``: a pure aggregation of the tidy records into the paper's table layout —
rows datasets, columns models, mean +- std over seeds (with ``ci``, each value's 95 % interval), the best
value marked only where it is better beyond noise and the leaders marked tied otherwise (genbench.present.verdicts),
and a Delta column (best vs runner-up, in the metric's better direction, saying when it is within noise) — as
rich, markdown, csv or LaTeX. Both layouts, this one and the overview (genbench.present.overview), are made of the same
pieces: :func:`build_column` (one metric on one dataset: a cell per model and the marks) and :func:`notes`."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import pandas as pd

from genbench import registry
from genbench.errors import GenbenchError, did_you_mean
from genbench.io import spreadsheet_safe
from genbench.present import verdicts
from genbench.store.records import Status, arrow, direction, valued

FORMATS = ("rich", "md", "csv", "latex")


@dataclass
class Column:
    """One metric on one dataset and preset, a cell per model: what both layouts show of it, the overview as a
    column (rows models), the paper layout as a row (columns models). Keyed by model."""

    cells: dict[str, str] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)  # the cells with a value
    seeds: dict[str, int] = field(default_factory=dict)  # the cells with a value: how many seeds have one
    verdict: verdicts.Verdict | None = None  # the best/tie marks; None: not judged (see build_column)


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

    def place(self, col: Column, row: str | None = None, column: str | None = None) -> None:
        """``col``'s cells, means and marks as table row ``row`` (model m at (row, m): the paper layout) or else
        as column ``column`` (at (m, column): the overview)."""
        def at(m: str) -> tuple[str, str]:
            return (row, m) if row is not None else (m, column)

        self.cells |= {at(m): text for m, text in col.cells.items()}
        self.means |= {at(m): mean for m, mean in col.means.items()}
        if col.verdict is not None:
            self.best |= {at(m) for m in col.verdict.best}
            self.tied |= {at(m) for m in col.verdict.tied}


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
    good = valued(g)
    if good.empty:
        return str(g["status"].iloc[-1]), None
    x = good["value"].astype(float)
    mean = x.mean()
    dec = 0 if _is_count(good) and mean == round(mean) else _decimals(mean)  # a mean that is not whole keeps them
    text = _fmt(mean, dec) + (f" ± {_fmt(x.std(ddof=1), dec)}" if len(x) > 1 else "")
    text += "†" if (good["status"] == Status.WARN).any() else ""
    bounds = interval(good) if ci else None
    if bounds is not None:
        dec = max(dec, 1) if _is_count(good) else dec
        text += f" [{_fmt(bounds[0], dec)}, {_fmt(bounds[1], dec)}]"
    return text, float(mean)


def build_column(d: pd.DataFrame, models: list[str], na: set[str], higher_is_better: bool | None, ci: bool = False,
                 lone: bool = False) -> Column:
    """The cells of ``models`` from ``d``, one metric's records on one dataset and preset: each model's
    :func:`cell`; a model without records reads 'n/a' when it is in ``na`` (the metric does not apply to it),
    else ''. With a direction, the marks by genbench.present.verdicts' rule among the cells with a value (calibration
    rows never compete), once two compete (``lone``: also one alone, which the paper layout marks best)."""
    col, scored = Column(), {}
    for m in models:
        g = d[d["model"] == m]
        if g.empty:
            col.cells[m] = Status.NA.value if m in na else ""
            continue
        col.cells[m], mean = cell(g, ci)
        if mean is not None:
            col.means[m], col.seeds[m], scored[m] = mean, valued(g)["seed"].nunique(), g
    contenders = verdicts.contenders(scored)
    if higher_is_better is not None and (lone or len(contenders) > 1):
        col.verdict = verdicts.decide(contenders, higher_is_better)
    return col


def inapplicable(df: pd.DataFrame, d: pd.DataFrame) -> pd.DataFrame:
    """The records in ``df`` saying that the metric plugin(s) that recorded ``d`` do not apply ('n/a')."""
    plugins = set(d["metric_plugin"].dropna()) if "metric_plugin" in d else set()
    return df[df["metric_plugin"].isin(plugins) & (df["status"] == Status.NA)] if plugins else df[:0]


def notes(good: pd.DataFrame, metrics: list[str], ci: bool, calibration: bool, by: str | None = None,
          empty: dict[str, str] | None = None) -> list[str]:
    """The notes under either layout, from ``good``, the shown records with a value: calibration rows
    (``calibration``: some are shown), the intervals (``ci``), each reason for a †, the chance levels (one line
    per value of column ``by``), the metrics with no value (``empty``: metric -> statuses) and the protocols."""
    out = ([verdicts.CALIBRATION_NOTE] if calibration else []) + ([CI_NOTE] if ci else [])
    out += [f"† {n}" for n in sorted(set(good.loc[good["status"] == Status.WARN, "note"].dropna()))]
    out += chance_notes(good, by)
    out += same_value_notes(good, by)
    out += space_notes(good)
    if empty:
        out.append(no_values(empty))
    protocols = protocol_note(good, metrics)
    return out + ([protocols] if protocols else [])


def space_notes(d: pd.DataFrame) -> list[str]:
    """'feature spaces: inception = fid, kid, *_inception (pytorch-fid InceptionV3 ...); ...': which space every
    shown value is in (its records' ``extra['space']``), the network named; the names without a ``_<space>``
    suffix (the field's own: fid, kid, precision, copying, cmmd) listed."""
    if d.empty or "extra" not in d:
        return []
    spaces = d.assign(space=d["extra"].map(lambda e: e.get("space") if isinstance(e, dict) else None))
    parts = []
    for space, g in spaces.dropna(subset=["space"]).groupby("space", sort=True):
        plain = [m for m in dict.fromkeys(g["metric"]) if not str(m).startswith(("fd_", "kid_", "cmmd_"))
                 and not str(m).endswith(f"_{space}")]
        entry = registry.discover("spaces").get(space)
        network = entry.obj.network if entry is not None and entry.ok else "not installed here"
        parts.append(f"{space} = {', '.join([*plain, f'*_{space}'])} ({network})")
    return [f"feature spaces: {'; '.join(parts)}"] if parts else []


def no_values(empty: dict[str, str]) -> str:
    """'no values for: fid (unavailable), ...': the metrics with no value in any cell and their statuses."""
    return "no values for: " + ", ".join(f"{m} ({s})" for m, s in empty.items())


def mark(t: Table, r: str, c: str, best: str, tied: str, escape=lambda s: s) -> str:
    """The cell's text (through ``escape``) in ``best`` (e.g. '**{}**') or ``tied`` form ('{} ≈') when marked."""
    text = escape(t.cells[(r, c)])
    return best.format(text) if (r, c) in t.best else tied.format(text) if (r, c) in t.tied else text


def same_value_notes(d: pd.DataFrame, by: str | None = None) -> list[str]:
    """'every model reads 0 in every seed: precision_effnet, recall_effnet (these columns cannot rank them)': the
    metrics where two or more ranked models (not the calibration rows) read exactly one value in every record (a
    trained space's precision of small models' samples, all 0), so that a column of equal numbers is said to hold
    no ranking rather than read as a tie found; with ``by``, one line per value of that column."""
    if d.empty:
        return []
    ranked = d[~d["model"].isin([m for m, g in d.groupby("model") if verdicts.is_calibration(g)])]
    found: dict[tuple, list[str]] = {}
    for keys, g in ranked.groupby(["metric"] + ([by] if by else []), sort=False):
        metric, *where = keys
        values = g["value"].astype(float)
        if g["model"].nunique() >= 2 and values.nunique() == 1:
            found.setdefault((*where, float(values.iloc[0])), []).append(str(metric))
    return [f"every model reads {v:g} in every seed{', ' + where[0] if where else ''}: {', '.join(metrics)} "
            f"({'these columns' if len(metrics) > 1 else 'this column'} cannot rank them)"
            for (*where, v), metrics in found.items()]


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
    three protocols. A metric measured under more than one protocol in the table (a row from another commit,
    a calibration row re-scored) names the rows of every protocol but the one most rows share: 'kid_rand
    46d73765ebe5, kid_rand 87b9f24cecca (real-heldout)'."""
    by_pid: dict[str, list[tuple[str, str | None]]] = {}  # id -> (metric, its rows where they need naming)
    first_seeds: set[int] = set()
    for metric in metrics:
        d = ok[ok["metric"] == metric]
        if d.empty:
            continue
        families = [g for _, g in d.groupby(d.apply(_family, axis=1), sort=False)]
        most = max(range(len(families)), key=lambda i: families[i]["model"].nunique())
        for i, g in enumerate(families):
            label = (metric, None if i == most else ", ".join(dict.fromkeys(g["model"])))
            per_seed = g.groupby("seed", sort=True)["protocol_id"].unique()
            ids = tuple(dict.fromkeys(v[0] for v in per_seed))
            if len(ids) > 1 and all(len(v) == 1 for v in per_seed):
                first_seeds.add(int(per_seed.index[0]))
                by_pid.setdefault(ids[0], []).append(label)
            else:  # one id for every seed, or more than one protocol within a seed: list them plainly
                for pid in sorted(set(g["protocol_id"])):
                    by_pid.setdefault(pid, []).append(label)
    if not by_pid:
        return None
    head = "protocol"
    if first_seeds:
        head += (f" (ids of seed {', '.join(map(str, sorted(first_seeds)))}; other seeds' ids differ only in "
                 f"the seed)")
    def named(labels: list[tuple[str, str | None]], pid: str) -> str:  # 'swd/mse 1a2b', 'swd 1a2b (ours, vae)'
        plain = "/".join(metric for metric, rows in labels if rows is None)
        return ", ".join(([f"{plain} {pid}"] if plain else [])
                         + [f"{metric} {pid} ({rows})" for metric, rows in labels if rows is not None])

    return f"{head}: " + ", ".join(named(ms, pid) for pid, ms in by_pid.items())


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
    d = df[df["metric"] == metric]
    hib = direction(d)
    d = d.sort_values("time", kind="stable")
    rows = list(dict.fromkeys(d["row"]))
    # every model evaluated on these rows gets a column, so 'n/a' is visible, not a missing column
    evaluated = list(dict.fromkeys(df[df["row"].isin(rows)].sort_values("time", kind="stable")["model"]))
    models = evaluated if models is None else [m for m in models if m in evaluated]
    na = inapplicable(df, d)
    t = Table(metric, hib, rows, models + ([] if hib is None else ["Δ"]), {})
    judged = []
    for r in rows:
        col = build_column(d[d["row"] == r], models, set(na.loc[na["row"] == r, "model"]), hib, ci, lone=True)
        t.place(col, row=r)
        judged.append(col.verdict)
        if col.verdict is not None:
            t.cells[(r, "Δ")] = _delta(col.verdict.runner_up)
    seeds = d.groupby(["row", "model"])["seed"].nunique()
    better = ("descriptive (no better direction)" if hib is None else
              f"{'higher' if hib else 'lower'} is better; Δ = best vs runner-up")
    t.notes.append(f"{better}; seeds per cell: {seeds.min()}–{seeds.max()}" if len(seeds) else better)
    if hib is not None:
        t.notes += [verdicts.RULE, verdicts.marks_note(judged, "rows")]
    calibration = any(verdicts.is_calibration(d[d["model"] == m]) for m in models)
    t.notes += notes(valued(d), [metric], ci, calibration, by="row" if len(rows) > 1 else None)
    return t


def _delta(runner_up: verdicts.Difference | None) -> str:
    """The Δ cell: best vs runner-up, in the metric's better direction, saying when it is within noise."""
    if runner_up is None:
        return ""
    return _fmt(abs(runner_up.diff)) + (
        "" if runner_up.significant else " (within noise)" if runner_up.tested else " (untested)")


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
        safe = spreadsheet_safe  # names and notes come from files: never a formula in a spreadsheet
        frame = pd.DataFrame([[safe(t.cells[(r, c)]) for c in t.columns] for r in t.rows],
                             index=[safe(r) for r in t.rows], columns=[safe(c) for c in t.columns])
        frame.index.name = safe(t.title or t.metric)
        return frame.to_csv()
    if fmt == "latex":
        esc = lambda s: (s.translate(str.maketrans(_TEX_SPECIAL)).replace("±", r"$\pm$")  # noqa: E731
                         .replace("†", r"$^\dagger$").replace("↑", r"$\uparrow$").replace("↓", r"$\downarrow$")
                         .replace("≈", r"$\approx$").replace("Δ", r"$\Delta$"))
        comment = lambda s: "% " + " ".join(s.splitlines())  # noqa: E731 - a newline would end the comment
        lines = ([comment(t.title)] if t.title else []) + [r"\begin{tabular}{l" + "c" * len(t.columns) + "}",
                                                            r"\toprule",
                 esc(t.metric) + " & " + " & ".join(esc(c) for c in t.columns)
                 + r" \\", r"\midrule"]
        for r in t.rows:
            cells = [mark(t, r, c, r"\textbf{{{}}}", r"{} $\approx$", esc) for c in t.columns]
            lines.append(esc(r) + " & " + " & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines + [comment(n) for n in t.notes if n])
    raise GenbenchError(f"Unknown format '{fmt}'; choose from: {', '.join(FORMATS)}.")


def rich_table(t: Table, plain: bool = False):
    """A rich table; ``plain`` (a console without colour) marks the best with a '*' instead of bold; tied
    leaders end in '≈'."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table as RichTable
    from rich.text import Text

    better = arrow(t.higher_is_better)
    e = escape  # names and cells are text, not markup
    rt = RichTable(title=e(t.title or t.metric + (f" ({better})" if better else "")), title_justify="left")
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
        if valued(d).empty:
            out[m] = "/".join(sorted(set(d["status"])))
    return out
