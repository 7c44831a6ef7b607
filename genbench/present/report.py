"""``genbench report``: one page with everything a results folder holds — the overview tables and the
paper-layout tables (each value with its 95 % interval, best and tie marks by genbench.present.verdicts' rule, the
rule and the protocol ids under each), and per run its sample grid, its fixed-latent samples over training (the
grids the watch logs saved), originals beside reconstructions, training curves (from metrics.jsonl, the watch log,
where there is one: the losses and the quick metrics; else train_log.csv), its first 8 samples beside their 3
nearest training images (in the
``copying`` metric's random-CNN feature space, so a reader can look for copies), and for renderer models the
AND-OR tree and the layer dictionaries — as a self-contained HTML file (images embedded as data URIs,
inline CSS, no script, no network) and the same content as markdown with the images beside it.

(``genbench.present.tables`` is the table module; this one lays tables and figures out on a page.)
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

import genbench
from genbench import registry
from genbench.api import capabilities
from genbench.errors import GenbenchError
from genbench.io import atomic_path, link_refused, path_problem, safe_name, write_text
from genbench.present.overview import build_overviews, fit_width
from genbench.present.plots import interval_plot
from genbench.present.strip import grid_strip, spread
from genbench.present.tables import Table, build_table, mark, md_text, metric_order, render, valueless
from genbench.run.runlog import grid_files, read_rows
from genbench.run.validate import check_writable
from genbench.store.records import arrow, now
from genbench.store.runconfig import RunConfig
from genbench.store.runfolder import (
    CACHE,
    CHECKPOINT,
    CONFIG,
    METRICS_LOG,
    RECONSTRUCTIONS,
    SAMPLES,
    TRAIN_LOG,
    WATCH_DIR,
    RunFolder,
    folders,
    load_records,
    readable,
)

IMAGES = "images"  # folder beside report.md
MIN_IMAGE_PX = 40  # sample grids of smaller images are shown at an integer zoom, pixels kept sharp
# characters of table that fit the page's 1240 px at 13.5 px type: a wider overview is split into column
# groups (as in the terminal) rather than scrolling sideways
PAGE_CHARS = 150
NEAREST_SAMPLES, NEAREST_K = 8, 3  # the nearest-training strip: the first 8 samples of samples.png, 3 neighbours each
PAPER_HEADING = "Paper layout: one table per metric"
PAPER_NOTE = ("The same numbers as the overview, as papers print them: rows datasets, columns models, "
              "Δ = best vs runner-up (\"within noise\" when the two are not shown to differ).")


@dataclass
class Figure:
    caption: str
    name: str  # file name under IMAGES
    png: bytes
    scale: int = 1  # shown at this integer zoom (pixel-exact grids of small images)


@dataclass
class RunSection:
    title: str
    path: Path
    summary: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    results: Path
    overviews: list[Table]
    paper: list[Table]
    runs: dict[str, list[RunSection]]  # "dataset · preset" -> its runs
    figure_seeds: list[int] | None = None  # runs shown with figures: these seeds only (None: all)
    plots: dict[str, Figure] = field(default_factory=dict)  # "dataset · preset" -> its interval plot


# -- figures ----------------------------------------------------------------------------------
def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="png")
    return buf.getvalue()


def curves_frame(folder: RunFolder) -> tuple[pd.DataFrame, str] | None:
    """The run's training curves, a column per logged quantity beside ``step``, and the file they come from:
    metrics.jsonl (the watch log: every value train_step reported, the quick metrics as ``quick <name>``) when it
    holds the losses, else train_log.csv; None when neither is readable. Only numbers are taken from either."""
    jsonl = folder.file(METRICS_LOG)
    rows = read_rows(jsonl) if readable(jsonl) else []
    if any(isinstance(r.get("losses"), dict) for r in rows):
        frame = pd.DataFrame([{"step": r["step"], **_numbers(r.get("losses"), ""), **_numbers(r.get("quick"), "quick ")}
                              for r in rows])
        return frame, METRICS_LOG
    log = folder.file(TRAIN_LOG)
    if not readable(log):
        return None
    try:
        return pd.read_csv(log), TRAIN_LOG
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None


def _numbers(values, prefix: str) -> dict[str, float]:
    """The numbers of a JSON object from metrics.jsonl, named ``prefix + key`` (anything else is skipped: a file
    from elsewhere is data)."""
    if not isinstance(values, dict):
        return {}
    return {prefix + str(k): float(v) for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and str(k) != "step"}


def plot_curves(df: pd.DataFrame, title: str) -> bytes | None:
    """Training curves (``curves_frame``), one small panel per logged quantity, as a PNG; a quantity logged before
    and after something (``x_before`` beside ``x_after`` or ``x``: ours' Langevin chains) shares one panel, the
    before-values dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    cols = [c for c in df.columns if c != "step"]
    if df.empty or not cols or "step" not in df:
        return None
    before = {after: c for c in cols if c.endswith("_before")
              for after in (c.removesuffix("_before") + "_after", c.removesuffix("_before")) if after in cols}
    cols = [c for c in cols if c not in before.values()]
    ncols = min(4, len(cols))
    nrows = math.ceil(len(cols) / ncols)
    fig = MplFigure(figsize=(2.6 * ncols, 1.9 * nrows + 0.4), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=10)
    for i, c in enumerate(cols):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        if c in before:
            _curve(ax, df, before[c], "#ff7f0e", "--", "before")
        _curve(ax, df, c, "#1f77b4", "-", "after" if c in before else None)
        if c in before:
            ax.legend(fontsize=6, loc="best", frameon=False)
        ax.set_title(c.removesuffix("_after") + (" (before/after)" if c in before else ""), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.supxlabel("step", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _curve(ax, df: pd.DataFrame, column: str, color: str, style: str, label: str | None) -> None:
    """One quantity's curve, at the steps it was logged at (the quick metrics: fewer); with 20 points or more as
    TensorBoard shows a curve, the raw values faint and the smoothed ones over them."""
    raw = pd.to_numeric(df[column], errors="coerce")
    step, raw = df["step"][raw.notna()], raw[raw.notna()]
    if len(raw) < 20:
        ax.plot(step, raw, lw=1.2, color=color, ls=style, marker=".", label=label)
    else:
        ax.plot(step, raw, lw=0.8, color=color, ls=style, alpha=0.3)
        ax.plot(step, smoothed(raw.to_numpy(float)), lw=1.4, color=color, ls=style, label=label)


SMOOTHING = 0.6  # TensorBoard's default smoothing weight


def smoothed(values: np.ndarray, weight: float = SMOOTHING) -> np.ndarray:
    """TensorBoard's scalar smoothing: an exponential moving average, debiased for its start (a NaN is skipped,
    its place kept as NaN)."""
    out, last, norm = np.full(len(values), np.nan), 0.0, 0.0
    for i, v in enumerate(values):
        if np.isfinite(v):
            last, norm = last * weight + (1 - weight) * v, norm * weight + (1 - weight)
            out[i] = last / norm
    return out


def _strip_png(samples: torch.Tensor, train: torch.Tensor, idx: np.ndarray) -> bytes:
    """Rows: a sample (in [-1, 1]) | gap | its nearest training images (uint8), nearest first; white padding."""
    size, pad, gap = samples.shape[-1], 1, max(4, samples.shape[-1] // 4)
    cols = idx.shape[1]
    canvas = np.full((len(samples) * (size + pad) + pad, pad + size + gap + cols * (size + pad), 3), 255, np.uint8)
    gen = samples.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    for r, (s, nbrs) in enumerate(zip(gen, idx, strict=True)):
        y = pad + r * (size + pad)
        tiles = [(pad, s)] + [(pad + size + gap + j * (size + pad), train[int(i)]) for j, i in enumerate(nbrs)]
        for x, tile in tiles:
            canvas[y:y + size, x:x + size] = tile.expand(3, -1, -1).permute(1, 2, 0).numpy()
    return _png(Image.fromarray(canvas))


def nearest_strip(folder: RunFolder, cache: Path | None, data: dict) -> tuple[bytes, str]:
    """The first ``NEAREST_SAMPLES`` samples of the run's samples.png, each beside its ``NEAREST_K`` nearest
    training images in the random-CNN feature space of the ``copying`` metric (training features cached under
    ``cache`` as the metric caches them), as a PNG, and its caption. ``data`` memoises each dataset's images."""
    from genbench.metrics.core.copying import nearest_training
    from genbench.metrics.core.features import reference_features
    from genbench.metrics.core.randcnn import RandCNNExtractor
    from genbench.run.trainer import grid_latents

    model, config = folder.load_model("cpu")
    key = (config.dataset, config.run, tuple(sorted(config.data_options.items())))
    if key not in data:
        data[key] = folder.load_data()
    _, train, heldout = data[key]
    extractor = RandCNNExtractor("cpu")
    train_f, _ = reference_features(extractor, train, len(train), cache)
    with torch.no_grad():
        samples = model.generate(grid_latents(model, config.seed)[:NEAREST_SAMPLES]).clamp(-1, 1).float().cpu()
    idx, dist = nearest_training(extractor(samples), train_f, k=min(NEAREST_K, len(train)))
    caption = (f"the first {len(samples)} samples (left) and their {idx.shape[1]} nearest training images, nearest "
               f"first, in the random-CNN feature space of `copying`; median distance to the nearest: samples "
               f"{np.median(dist[:, 0]):.3g}")
    if heldout is not None and len(heldout):
        held_f, _ = reference_features(extractor, heldout, len(heldout), cache)
        caption += f", held-out images {np.median(nearest_training(held_f, train_f, k=1)[1][:, 0]):.3g}"
    return _strip_png(samples, train.images, idx), caption


def _run_section(folder: RunFolder, config: RunConfig, cache: Path | None = None,
                 data: dict | None = None) -> RunSection:
    name, seed = config.model_name, config.seed
    slug = f"{config.dataset}-{config.preset}-{name}-seed{seed}"
    try:
        meta = folder.read_results().run
    except (OSError, ValueError):
        meta = None
    bits = [f"status {meta.status}" if meta is not None and meta.status else "not evaluated yet"]
    if meta is not None:
        bits.append(f"step {meta.step}")
        if meta.train_seconds is not None:
            bits.append(f"last training session {meta.train_seconds:.0f} s")
        if meta.git_commit:
            bits.append(f"genbench {meta.genbench} @ {meta.git_commit}")
    sec = RunSection(f"{name} · seed {seed}", folder.path, "; ".join(bits))
    size = config.run.image_size
    zoom = max(1, round(MIN_IMAGE_PX / size)) if 0 < size <= MIN_IMAGE_PX else 1
    for file, caption in ((SAMPLES, "samples (fixed latents per seed)"),
                          (RECONSTRUCTIONS, "top: training images, bottom: reconstructions")):
        png = _picture(folder.file(file))
        if png is not None:
            sec.figures.append(Figure(caption, f"{slug}-{file}", png, zoom))
        if file == SAMPLES:
            strip = _grid_strip(folder, size)
            if strip is not None:
                sec.figures.append(Figure(strip[1], f"{slug}-fixed_z-strip.png", strip[0], zoom))
    curves = curves_frame(folder)
    png = plot_curves(curves[0], f"{name}: training log") if curves is not None else None
    if png is not None:
        sec.figures.append(Figure(f"training curves ({curves[1]})", f"{slug}-curves.png", png))
    if folder.file(CHECKPOINT).is_file():
        try:
            png, caption = nearest_strip(folder, cache, {} if data is None else data)
        except (GenbenchError, OSError, ValueError, RuntimeError) as exc:
            sec.notes.append(f"no nearest-training strip: {exc}")
        else:
            sec.figures.append(Figure(caption, f"{slug}-nearest.png", png, zoom))
    source = config.source
    if source is not None:  # scored by `genbench eval`: images or a generator made elsewhere
        sec.notes.append(f"scored by genbench eval: {source.count} images from {source.kind} {source.path} "
                         f"(SHA-256 {source.sha256[:12] or '-'})")
        return sec
    try:
        renderer = "renderer" in capabilities(registry.get_model(name))
    except GenbenchError as exc:
        renderer = False
        sec.notes.append(f"model plugin unavailable, no AND-OR tree: {exc}")
    if renderer:
        from genbench.present.tree import tree_images

        try:
            tree, dic = tree_images(folder.path)
        except GenbenchError as exc:
            sec.notes.append(f"no AND-OR tree: {exc}")
        else:
            sec.figures.append(Figure("AND-OR tree of sample 0 (paper Fig. 1)", f"{slug}-tree.png", _png(tree)))
            sec.figures.append(Figure("layer dictionaries: most used basis functions", f"{slug}-dictionary.png",
                                      _png(dic)))
    return sec


def _grid_strip(folder: RunFolder, image_size: int) -> tuple[bytes, str] | None:
    """The run's fixed-latent grids over training (genbench.present.strip) and its caption; None without grids.
    A linked watch/ is not entered (one warning), a linked or damaged grid is skipped (``_picture``)."""
    watch = folder.file(WATCH_DIR)
    if watch.is_symlink():
        readable(watch)  # the one warning naming the link
        return None
    grids = grid_files(watch)
    shown = [(step, png) for step, f in spread(grids) if (png := _picture(f)) is not None]
    strip = grid_strip(shown, image_size)
    if strip is None:
        return None
    return strip, (f"the same 8 latents over training, a row per step ({len(shown)} of the {len(grids)} grids in "
                   f"{WATCH_DIR}/, the first row of each)")


MAX_PICTURE_PIXELS = 4096 * 4096  # far above any sample grid genbench writes; a bigger image is not one of them


def _picture(path: Path) -> bytes | None:
    """The PNG at ``path`` of a run folder, or None: missing, a link, or not a PNG of a sane size (a damaged file,
    another format, a decompression bomb) is skipped with one warning naming it, so the report still writes."""
    if not readable(path):
        return None
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                ok = img.format == "PNG" and w * h <= MAX_PICTURE_PIXELS
                img.verify()
    except Exception as exc:  # whatever the file holds, it is data: one warning, never a crash
        ok, why = False, f"{type(exc).__name__}"
    else:
        why = f"a {img.format} of {w}x{h} pixels"
    if not ok:
        warnings.warn(f"skipped {path}: it is not a PNG picture genbench wrote ({why})", RuntimeWarning, stacklevel=2)
        return None
    return data


def collect(results: Path | str, figure_seeds: list[int] | None = None) -> Report:
    """Everything the page shows, read from a results folder; with ``figure_seeds``, only the runs of
    those seeds get a section with figures (the tables still average over every seed)."""
    results = _results_folder(results)
    df = load_records(results)
    configs = []
    for folder in folders(results):
        try:
            cfg = folder.read_config()
        except ValueError:
            cfg = None
        if cfg is not None:
            configs.append((folder, cfg))
        elif folder.file(CONFIG).exists():
            warnings.warn(f"skipped {folder.file(CONFIG)}: it is damaged or not genbench's; delete it, or rerun "
                          f"that run with --fresh", RuntimeWarning, stacklevel=2)
    if df.empty and not configs:
        raise GenbenchError(f"No runs under '{results}'; run `genbench run --models ours,vae` first.")
    overviews = build_overviews(df, ci=True) if not df.empty else []
    metrics = metric_order(df)
    empty = valueless(df, metrics)
    paper = [build_table(df, m, ci=True) for m in metrics if m not in empty]
    order = {t.title: [*t.rows] for t in overviews}  # runs in the overview's row order
    runs: dict[str, list[RunSection]] = {k: [] for k in order}

    def key(item):
        _, cfg = item
        group = f"{cfg.dataset} · {cfg.preset}"
        rows = order.get(group, [])
        return (list(order).index(group) if group in order else len(order), group,
                rows.index(cfg.model_name) if cfg.model_name in rows else len(rows), cfg.model_name, cfg.seed)

    if figure_seeds is not None:
        seen = sorted({cfg.seed for _, cfg in configs})
        configs = [(folder, cfg) for folder, cfg in configs if cfg.seed in figure_seeds]
        if not configs:
            raise GenbenchError(f"No runs with seed {', '.join(map(str, figure_seeds))} under '{results}'; "
                                f"its runs have seeds {', '.join(map(str, seen))}.")
    data: dict = {}  # each dataset's images, loaded once for every run's nearest-training strip
    for folder, cfg in sorted(configs, key=key):
        runs.setdefault(f"{cfg.dataset} · {cfg.preset}", []).append(
            _run_section(folder, cfg, results / CACHE, data))
    return Report(results, overviews, paper, runs, figure_seeds, _interval_plots(df, overviews))


def _interval_plots(df: pd.DataFrame, overviews: list[Table]) -> dict[str, Figure]:
    """Each overview's dot-and-whisker picture (genbench.present.plots), shown before its table."""
    out = {}
    for (dataset, preset), g in df.groupby(["dataset", "preset"], sort=False) if not df.empty else []:
        title = f"{dataset} · {preset}"
        t = next((t for t in overviews if t.title == title), None)
        png = interval_plot(g, t) if t is not None else None
        if png is not None:
            out[title] = Figure(f"{title}: every metric, value and 95 % interval per model",
                                f"intervals-{dataset}-{preset}.png", png)
    return out


def _code(text: str) -> str:
    """``text`` as a markdown code span (literal: no link, no markup), fenced by more backticks than it holds."""
    text = " ".join(text.splitlines())
    fence = "`" * (max((len(r) for r in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or name-2, name-3 ... when another figure of the page already has it."""
    stem, dot, ext = name.rpartition(".")
    stem, ext = (stem, dot + ext) if stem else (name, "")
    out, i = name, 1
    while out in taken:
        i += 1
        out = f"{stem}-{i}{ext}"
    taken.add(out)
    return out


def _results_folder(results: Path | str) -> Path:
    results = Path(results)
    if (problem := path_problem(results, "folder")) is not None:
        raise GenbenchError(f"Results folder '{results}' {problem}; run `genbench run` first or pass --results.")
    return results


def _scope(rep: Report) -> str:
    """What the page's figures cover, when not every run."""
    if rep.figure_seeds is None:
        return ""
    return (f" · figures: seed {', '.join(map(str, rep.figure_seeds))} only; tables: every seed")


# -- writing ----------------------------------------------------------------------------------
CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1240px; margin: 1.5em auto; padding: 0 1.2em; line-height: 1.4; }
h1 { font-size: 1.7em; margin-bottom: .2em; }
h2 { border-bottom: 2px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
h3 { margin: 1.2em 0 .4em; } h4 { margin: 0 0 .3em; font-size: 1.05em; }
.meta, .notes { color: #666; font-size: 12.5px; } .notes p { margin: .1em 0; }
table { border-collapse: collapse; font-size: 13.5px; margin: .4em 0 .3em; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: .3em; }
th, td { padding: 4px 11px; text-align: right; border-bottom: 1px solid #e3e3e3; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } thead th { border-bottom: 2px solid #555; background: #f6f6f6; }
td.best { font-weight: 700; background: #e6f4ea; } td.tied { background: #fdf6e0; }
.tables { display: flex; flex-wrap: wrap; gap: .5em 2.5em; align-items: flex-start; }
.run { border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; margin: .9em 0; }
.figs { display: flex; flex-wrap: wrap; gap: 1em 1.6em; align-items: flex-start; margin-top: .6em; }
figure { margin: 0; max-width: 100%; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #555; margin-top: .25em; }
img.px { image-rendering: pixelated; }
"""


def _html_table(t: Table) -> str:
    e = html.escape
    caption = t.title or t.metric + arrow(t.higher_is_better, " ")
    head = "".join(f"<th>{e(c)}</th>" for c in [t.corner if t.title else "dataset", *t.columns])
    def td(r: str, c: str) -> str:
        marked = (r, c) in t.best or (r, c) in t.tied
        return mark(t, r, c, '<td class="best">{}</td>', '<td class="tied">{} ≈</td>', e) if marked \
            else f"<td>{e(t.cells[(r, c)])}</td>"

    body = "".join("<tr><td>" + e(r) + "</td>" + "".join(td(r, c) for c in t.columns) + "</tr>" for r in t.rows)
    notes = "".join(f"<p>{e(n)}</p>" for n in t.notes if n)
    return (f"<div><table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table><div class=\"notes\">{notes}</div></div>")


def _html_figure(f: Figure) -> str:
    uri = "data:image/png;base64," + base64.b64encode(f.png).decode()
    w, h = Image.open(io.BytesIO(f.png)).size
    px = ' class="px"' if f.scale > 1 else ""
    return (f'<figure><img{px} src="{uri}" width="{w * f.scale}" height="{h * f.scale}" alt="{html.escape(f.caption)}">'
            f"<figcaption>{html.escape(f.caption)}</figcaption></figure>")


def to_html(rep: Report, stamp: str) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>genbench report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>genbench report</h1>",
             f'<p class="meta">results: {e(str(rep.results))} · written {e(stamp)} by genbench '
             f"{e(genbench.__version__)}{e(_scope(rep))}</p>"]
    if rep.overviews:
        parts.append("<h2>Overview</h2>")
        for t in rep.overviews:
            if t.title in rep.plots:
                parts.append(f'<div class="figs">{_html_figure(rep.plots[t.title])}</div>')
            parts += [_html_table(part) for part in fit_width(t, PAGE_CHARS)]
    if rep.runs:
        parts.append("<h2>Runs</h2>")
    for group, secs in rep.runs.items():
        parts.append(f"<h3>{e(group)}</h3>")
        for s in secs:
            notes = "".join(f"<p>{e(n)}</p>" for n in s.notes)
            parts.append(f'<div class="run"><h4>{e(s.title)}</h4><div class="meta">{e(s.summary)} · '
                         f'{e(str(s.path))}</div><div class="notes">{notes}</div><div class="figs">'
                         + "".join(_html_figure(f) for f in s.figures) + "</div></div>")
    if rep.paper:
        parts.append(f"<h2>{PAPER_HEADING}</h2><p class=\"meta\">{e(PAPER_NOTE)}</p><div class=\"tables\">")
        parts += [_html_table(t) for t in rep.paper]
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_markdown(rep: Report, stamp: str) -> str:
    """The page as markdown; every name, path and note is text (md_text), never a link, image or markup."""
    e = md_text
    lines = ["# genbench report", "",
             f"results: {_code(str(rep.results))} · written {stamp} by genbench {genbench.__version__}"
             f"{_scope(rep)}", ""]
    if rep.overviews:
        lines += ["## Overview", ""]
        for t in rep.overviews:
            if t.title in rep.plots:
                f = rep.plots[t.title]
                lines += [f"![{e(f.caption)}]({IMAGES}/{f.name})  ", f"*{e(f.caption)}*", ""]
            lines += [render(t, "md"), ""]
    if rep.runs:
        lines += ["## Runs", ""]
    for group, secs in rep.runs.items():
        lines += [f"### {e(group)}", ""]
        for s in secs:
            lines += [f"#### {e(s.title)}", "", f"{e(s.summary)} · {_code(str(s.path))}", ""]
            lines += [f"{e(n)}  " for n in s.notes] + ([""] if s.notes else [])
            for f in s.figures:
                lines += [f"![{e(f.caption)}]({IMAGES}/{f.name})  ", f"*{e(f.caption)}*", ""]
    if rep.paper:
        lines += [f"## {PAPER_HEADING}", "", PAPER_NOTE, ""]
        for t in rep.paper:
            lines += [render(t, "md"), ""]
    return "\n".join(lines)


def write_report(results: Path | str, out: Path | str | None = None,
                 figure_seeds: list[int] | None = None) -> tuple[Path, Path]:
    """Write OUT/report.html (self-contained) and OUT/report.md with its images in OUT/images/
    (default OUT: RESULTS/report); ``figure_seeds`` as in :func:`collect`. Returns the two paths."""
    out = Path(out) if out is not None else _results_folder(results) / "report"
    if out.is_symlink() or (out / IMAGES).is_symlink():
        raise link_refused(out if out.is_symlink() else out / IMAGES, "--out")
    check_writable(out, "--out", "Report folder")
    rep = collect(results, figure_seeds)
    stamp = now()
    names: set[str] = set()
    figures = [*rep.plots.values(), *(f for secs in rep.runs.values() for sec in secs for f in sec.figures)]
    for f in figures:
        f.name = _unique(safe_name(f.name), names)  # names come from run metadata: stay in OUT/images
    page, md = out / "report.html", out / "report.md"
    texts = {page: to_html(rep, stamp), md: to_markdown(rep, stamp)}  # made whole before anything is written
    for f in figures:
        with atomic_path(out / IMAGES / f.name) as tmp:
            tmp.write_bytes(f.png)
    for path, text in texts.items():
        write_text(path, text)
    return page, md
