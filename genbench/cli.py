"""The ``genbench`` command line: a thin layer over genbench's functions.

Bad input gets one sentence saying what is wrong and how to fix it, and a non-zero exit code
(2 for bad input), never a traceback.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from genbench import registry
from genbench.errors import GenbenchError
from genbench.io import printable
from genbench.run.config import PRESET_NAMES, parse_sets
from genbench.run.plan import DEFAULT_RESULTS

# Text is text: names, paths and messages (from results folders, data, options) are printed as they are,
# never read as rich markup or :emoji: codes. Markup appears only in the fixed text around them, escaped.
console = Console(highlight=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


def _say(text: str) -> None:
    """The progress lines of ``genbench run`` (the runner's and the trainer's echo), printed as plain text."""
    console.print(printable(text), markup=False)


def _fail(msg: str, code: int = 2):
    err.print(f"[red]error:[/] {escape(printable(msg))}", soft_wrap=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="genbench")
def cli():
    """Train and compare generative image models; print the paper's tables."""


@cli.command("list")
def list_cmd():
    """Models, datasets, metrics and feature spaces known (built-in and third-party), and where each space's
    weights are."""
    from rich.table import Table

    from genbench.api import capabilities

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # problems are listed below instead
        entries = {k: registry.discover(k) for k in registry.KINDS}
    for kind, ents in entries.items():
        if kind == "spaces":
            console.print(_spaces_table(ents))
            continue
        if kind == "metrics":
            ents = _one_per_family(ents)
        t = Table(title=kind, title_justify="left")
        t.add_column("name")
        t.add_column("provides" if kind == "models" else "requires" if kind == "metrics" else "")
        t.add_column("description")
        t.add_column("from")
        for name in sorted(ents):
            e = ents[name]
            if not e.ok:
                t.add_row(f"[red]{escape(name)}[/]", "", f"[red]failed to load: {escape(e.error)}[/]",
                          escape(e.source))
                continue
            obj = e.obj
            if kind == "models":
                doc = obj.__doc__ or sys.modules[obj.__module__].__doc__ or ""
                col, desc = ", ".join(sorted(capabilities(obj))), doc.strip().split("\n")[0]
            elif kind == "metrics":
                col, desc = ", ".join(sorted(obj.requires)), obj.description
            else:
                col, desc = "", obj.description
            t.add_row(*(escape(str(v)) for v in (name, col, desc, e.source)))
        console.print(t)
    problems = [p for k in registry.KINDS for p in registry.problems(k)]
    for p in problems:
        err.print(f"[yellow]warning:[/] {escape(p)}", soft_wrap=True)


def _one_per_family(entries: dict) -> dict:
    """Metric entries with each per-space family shown once, as ``fd_<space>`` (its names say the rest)."""
    out = {}
    for name, e in entries.items():
        if e.ok and e.obj.family:
            key = f"{e.obj.family}_<space>"
            out.setdefault(key, registry.Entry(key, e.kind, e.source, e.target, e.obj))
        else:
            out[name] = e
    return out


def _spaces_table(entries: dict):
    """The feature spaces: network, dimension, whether their weights are here (installed, cached, found,
    downloadable, missing), licence, and what their values compare with."""
    from rich.table import Table

    from genbench.metrics.core.weights import availability

    t = Table(title="feature spaces (metrics named <stem>_<space>; fid, kid, precision, ... in inception, "
                    "cmmd in clip, copying in rand)", title_justify="left")
    for col in ("name", "network", "dims", "weights", "licence", "compares with"):
        t.add_column(col)
    for name in sorted(entries):
        e = entries[name]
        if not e.ok:
            t.add_row(f"[red]{escape(name)}[/]", f"[red]failed to load: {escape(e.error)}[/]", "", "", "", "")
            continue
        space = e.obj()
        licence = space.weights.licence if space.weights else ""
        t.add_row(*(escape(str(v)) for v in (name, space.network, space.dims, availability(space), licence,
                                             space.comparable)))
    return t


def _weights_files(ctx, param, values) -> dict[str, Path]:
    """``--weights SPACE=FILE`` (repeatable) -> {space: path}, each space known to the registry."""
    out: dict[str, Path] = {}
    for value in values:
        space, sep, path = value.partition("=")
        if not (sep and space and path):
            raise GenbenchError(f"--weights '{value}' is not SPACE=FILE; e.g. --weights "
                                f"dinov2=dinov2_vitl14_pretrain.pth (`genbench list` shows the spaces).")
        registry.get_space(space)
        out[space] = Path(path)
    return out


def _space_options(command):
    """The options that choose feature spaces and find their weights (run, eval, stats)."""
    options = [
        click.option("--features", callback=_names("spaces"),
                     help="Comma-separated feature spaces for FD, KID, P/R/D/C, copying, CMMD, FD∞ and AuthPct "
                          "(default: inception and every space whose weights are here; `genbench list`)."),
        click.option("--weights", "weights", multiple=True, metavar="SPACE=FILE", callback=_weights_files,
                     help="A feature space's weights file (repeatable), e.g. dinov2=dinov2_vitl14_pretrain.pth."),
        click.option("--offline", is_flag=True,
                     help="Never download weights (also GENBENCH_OFFLINE=1); a missing file is named with where "
                          "to put it."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _names(kind: str):
    """A click callback: 'a,b' -> ['a', 'b'], each name known to the registry."""
    return lambda ctx, param, value: registry.parse_names(kind, value) if value is not None else None


def _seeds(ctx, param, value):
    from genbench.run.plan import parse_seeds

    return parse_seeds(value, "--" + param.name) if value is not None else None


def _shard(ctx, param, value):
    from genbench.run.plan import parse_shard

    return parse_shard(value) if value is not None else (0, 1)


@cli.command()
@click.option("--models", "-m", required=True, callback=_names("models"),
              help="Comma-separated model names, e.g. ours,wgan.")
@click.option("--dataset", "-d", default="shapes", show_default=True, help="Dataset name.")
@click.option("--preset", "-p", default="small", show_default=True, type=click.Choice(PRESET_NAMES))
@click.option("--seed", "-s", default=0, show_default=True, type=int)
@click.option("--results", "-r", default=str(DEFAULT_RESULTS), show_default=True, type=click.Path(file_okay=False,
              path_type=Path))
@click.option("--steps", type=int, help="Training steps (overrides the preset).")
@click.option("--metrics", callback=_names("metrics"),
              help="Comma-separated metrics (default: all; those that do not apply read n/a).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", callback=lambda c, p, v: parse_sets(v),
              help="Override a setting: key=value for every model that has it, or model.key=value.")
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="TOML file of settings ([model] tables allowed).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--data-root", type=click.Path(path_type=Path), help="Folder holding the dataset's files.")
@click.option("--limit", type=int, help="Use the first N training images (sorted order).")
@click.option("--inception-weights", type=click.Path(path_type=Path),
              help="pytorch-fid Inception weights file for FID.")
@click.option("--allow-unverified-weights", is_flag=True,
              help="Use a weights file failing the SHA-256 check; scores are named fid_unverified, ...")
@click.option("--fresh", is_flag=True, help="Start over instead of resuming an existing run folder.")
@click.option("--no-progress", "progress", is_flag=True, flag_value=False, default=True, help="No progress bar.")
@click.option("--datasets", callback=_names("datasets"),
              help="Comma-separated datasets: one run per dataset x model x seed (replaces --dataset).")
@click.option("--seeds", callback=_seeds, help="Comma-separated seeds, e.g. 0,1,2 (replaces --seed).")
@click.option("--shard", callback=_shard,
              help="i/n: run only slice i (0..n-1) of the dataset x model x seed grid (n machines).")
@click.option("--amp", default="none", show_default=True, type=click.Choice(["none", "bf16"]),
              help="Mixed precision for the training passes.")
@click.option("--compile", is_flag=True, help="torch.compile the generator.")
@click.option("--log", "log", default="jsonl,tensorboard", show_default=True, metavar="KINDS",
              callback=lambda c, p, v: v.split(","),
              help="Watch logs in each run folder: jsonl (metrics.jsonl), tensorboard (tb/: `tensorboard --logdir "
                   "RESULTS`), comma-separated, or none.")
@_space_options
def run(**options):
    """Train and evaluate models on a dataset; records go to RESULTS/<dataset>/<model>/<preset>-seed<S>/."""
    from genbench.run import distributed, signals
    from genbench.run.plan import RunOptions, make_plan
    from genbench.run.runner import run_plan
    from genbench.store.runfolder import load_records

    plan = make_plan(RunOptions(**options))
    with signals.handled():  # SIGTERM/SIGINT/SIGUSR1: finish the step, checkpoint, exit 128+signum
        outcomes = run_plan(plan, echo=_say)
    if not distributed.is_main():
        return  # rank 0 prints the tables
    df = load_records(plan.results)
    if not df.empty:
        df = df[df["dataset"].isin(plan.grid.datasets) & (df["preset"] == plan.preset)]
        _print_overviews(df, None, "rich", models=plan.grid.models)
    failed = [o for o in outcomes if o.status != "finished"]
    if failed:
        _fail("; ".join(o.message for o in failed), code=1)


@cli.command("eval")
@click.option("--images", type=click.Path(path_type=Path),
              help="Images made elsewhere: a folder tree of images, an .npz or a .pt tensor (uint8 or [-1, 1]).")
@click.option("--key", help="Which array of the .npz holds the images (needed when it holds several).")
@click.option("--value-range", type=click.Choice(["-1,1", "0,1", "0,255"]),
              help="What an array's values mean, where they fit more than one (floats all in [0, 1]; 0/1 integers).")
@click.option("--layout", type=click.Choice(["nchw", "nhwc"]),
              help="Where an array's channels are, where its shape fits both (e.g. (N, 3, 3, 3)).")
@click.option("--generator", type=click.Path(path_type=Path),
              help="A TorchScript generator: latents (N, d) ~ N(0, I) -> images in [-1, 1] (with --latent-dim).")
@click.option("--latent-dim", type=int, help="The generator's latent size d.")
@click.option("--n", type=int, help="Use at most N images (or generator samples) per metric.")
@click.option("--real", type=click.Choice(["heldout"]),
              help="Score the dataset's own held-out images: the calibration row (what a perfect model gets).")
@click.option("--dataset", "-d", default="shapes", show_default=True, help="Dataset to score against.")
@click.option("--name", help="Row name in the tables (default: the file or folder name, or real-heldout).")
@click.option("--preset", "-p", default="small", show_default=True, type=click.Choice(PRESET_NAMES))
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="The protocol's seed (as a run's).")
@click.option("--results", "-r", default=str(DEFAULT_RESULTS), show_default=True, type=click.Path(file_okay=False,
              path_type=Path))
@click.option("--metrics", callback=_names("metrics"), help="Comma-separated metrics (default: all).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", callback=lambda c, p, v: parse_sets(v),
              help="Override a run setting (e.g. n_fid=1000).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--data-root", type=click.Path(path_type=Path), help="Folder holding the dataset's files.")
@click.option("--inception-weights", type=click.Path(path_type=Path),
              help="pytorch-fid Inception weights file for FID, KID, IS and prdc.")
@click.option("--allow-unverified-weights", is_flag=True,
              help="Use a weights file failing the SHA-256 check; scores are named fid_unverified, ...")
@click.option("--fresh", is_flag=True, help="Replace the scores another source left under the same --name.")
@_space_options
def eval_cmd(**options):
    """Score images or a generator made outside genbench: a row NAME beside the trained models."""
    from genbench.eval.outside import EvalOptions, score_outside
    from genbench.run import distributed
    from genbench.store.runfolder import load_records

    o = EvalOptions.of(**options)
    score_outside(o, echo=_say)
    if not distributed.is_main():
        return  # rank 0 prints the tables
    df = load_records(o.run.results)
    df = df[(df["dataset"] == o.run.dataset) & (df["preset"] == o.run.preset)]
    if not df.empty:
        _print_overviews(df, None, "rich")


@cli.command()
@click.option("--dataset", "-d", default="shapes", show_default=True, help="Dataset name.")
@click.option("--preset", "-p", default="small", show_default=True, type=click.Choice(PRESET_NAMES))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .npz to write (pytorch-fid's format: mu, sigma).")
@click.option("--features", "space", default="inception", show_default=True,
              help="The feature space (`genbench list`): inception (as FID; needs its verified weights), rand, "
                   "effnet, dinov2, clip, ...")
@click.option("--network", "space", hidden=True, help="Older name of --features.")
@click.option("--results", "-r", default=str(DEFAULT_RESULTS), show_default=True, type=click.Path(file_okay=False,
              path_type=Path), help="Results folder whose feature cache is used.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--data-root", type=click.Path(path_type=Path), help="Folder holding the dataset's files.")
@click.option("--inception-weights", type=click.Path(path_type=Path), help="pytorch-fid Inception weights file.")
@click.option("--weights", "weights", multiple=True, metavar="SPACE=FILE", callback=_weights_files,
              help="A feature space's weights file, e.g. dinov2=dinov2_vitl14_pretrain.pth.")
@click.option("--offline", is_flag=True, help="Never download weights (also GENBENCH_OFFLINE=1).")
def stats(dataset, preset, out, space, results, device, data_root, inception_weights, weights, offline):
    """Reference statistics of a dataset (the first n training images, as FID's protocol) in a feature space, for
    other tools (pytorch-fid's .npz: mu, sigma)."""
    from genbench.eval.stats import reference_stats, stats_plan, write_stats
    from genbench.run.validate import check_writable

    registry.get_dataset(dataset)
    registry.get_space(space)
    check_writable(Path(out).absolute().parent, "--out", "The folder of --out")  # before the work, not after
    plan = stats_plan(dataset, preset, results, device, data_root=data_root, inception_weights=inception_weights,
                      features=[space], weights=weights, offline=offline)
    mu, sigma, protocol = reference_stats(plan, dataset, space, echo=_say)
    write_stats(out, mu, sigma, protocol)
    _say(f"wrote {out}: mu {mu.shape}, sigma {sigma.shape} from {protocol['n']} {dataset} training images "
         f"in the {space} space")


@cli.command()
@click.option("--metric", help="Metric to tabulate (default: every recorded metric).")
@click.option("--results", "-r", default=str(DEFAULT_RESULTS), show_default=True, type=click.Path())
@click.option("--format", "fmt", default="rich", show_default=True, type=click.Choice(["rich", "md", "csv", "latex"]))
@click.option("--dataset", help="Only this dataset.")
@click.option("--preset", help="Only this preset.")
@click.option("--layout", type=click.Choice(["overview", "paper"]),
              help="overview: per dataset and preset, rows models x columns metrics (default without --metric); "
                   "paper: one table per metric, rows datasets x columns models with Δ (default with --metric).")
@click.option("--ci", is_flag=True, help="Show each value's 95% interval beside it.")
@click.option("--models", help="Only these models, in this order (comma-separated); best and tie marks are "
                               "decided among them. Calibration rows (genbench eval --real) stay.")
def table(metric, results, fmt, dataset, preset, layout, ci, models):
    """Comparison tables (mean ± std over seeds) from the recorded results."""
    from genbench.io import path_problem
    from genbench.store.runfolder import load_records

    if (problem := path_problem(results, "folder")) is not None:
        raise GenbenchError(f"Results folder '{results}' {problem}; run `genbench run` first or pass --results.")
    df = load_records(results)
    if df.empty:
        raise GenbenchError(f"No results under '{results}'; run `genbench run --models vae,wgan` first.")
    if dataset:
        df = df[df["dataset"] == dataset]
    if preset:
        df = df[df["preset"] == preset]
    if df.empty:
        raise GenbenchError(f"No results for dataset={dataset or 'any'} preset={preset or 'any'} under '{results}'.")
    names = None
    if models is not None:
        from genbench.present.tables import only_models

        df, names = only_models(df, models)
    if (layout or ("paper" if metric else "overview")) == "paper":
        _print_tables(df, [metric] if metric else None, fmt, ci, names)
        return
    if metric and metric not in set(df["metric"]):
        from genbench.present.tables import build_table

        build_table(df, metric)  # raises the one-sentence error naming the recorded metrics
    _print_overviews(df, [metric] if metric else None, fmt, names, ci=ci)


def _print_overviews(df, metrics, fmt, models=None, ci=False):
    """One overview (rows models x columns metrics) per dataset and preset."""
    from genbench.present.overview import build_overviews, fit_width
    from genbench.present.tables import render, rich_table

    for i, t in enumerate(build_overviews(df, metrics, models, ci)):
        if fmt == "rich":
            for part in fit_width(t, console.width):
                console.print(rich_table(part, plain=console.color_system is None))
        else:
            click.echo(("\n" if i else "") + render(t, fmt))


def _print_tables(df, metrics, fmt, ci=False, models=None):
    """One table per metric. Without an explicit metric list, metrics that have no value in any cell
    (e.g. FID without weights) get one line instead of a table of 'unavailable'."""
    from genbench.present.tables import build_table, metric_order, no_values, render, rich_table, valueless

    if metrics is None:
        metrics = metric_order(df)
        empty = valueless(df, metrics)
        metrics = [m for m in metrics if m not in empty]
        if empty:
            err.print(no_values(empty), style="dim", markup=False)
    for i, m in enumerate(metrics):
        t = build_table(df, m, ci, models)
        if fmt == "rich":
            console.print(rich_table(t, plain=console.color_system is None))
        else:
            click.echo(("\n" if i else "") + render(t, fmt))


@cli.command()
@click.argument("model_a")
@click.argument("model_b")
@click.option("--metric", help="Only this metric (default: every metric both have).")
@click.option("--dataset", help="Only this dataset (default: every dataset both have).")
@click.option("--results", "-r", default=str(DEFAULT_RESULTS), show_default=True, type=click.Path())
def compare(model_a, model_b, metric, dataset, results):
    """MODEL_A against MODEL_B: the difference, its 95% interval and the test's p-value per metric and dataset,
    raw and Holm-adjusted across the metrics tested within each dataset and preset (the verdict reads the latter)."""
    from rich.markup import escape

    from genbench.present.verdicts import COMPARE_FAMILY, HOLM_RULE, fmt
    from genbench.present.verdicts import compare as compare_models
    from genbench.store.records import arrow
    from genbench.store.runfolder import load_records

    if not Path(results).is_dir():
        raise GenbenchError(f"Results folder '{results}' does not exist; run `genbench run` first or pass --results.")
    rows = compare_models(load_records(results), model_a, model_b, metric, dataset)
    group = None
    for c in rows:
        if (c.dataset, c.preset) != group:
            group = (c.dataset, c.preset)
            family = max(r.difference.family for r in rows if (r.dataset, r.preset) == group)
            console.print(escape(f"{c.dataset} · {c.preset}: {model_a} vs {model_b} (Holm family: {family} "
                                 f"tested metric{'s' * (family != 1)})"), style="bold", soft_wrap=True)
        d, name = c.difference, c.metric + arrow(c.higher_is_better, " ")
        where = f"; each value from {c.samples}" if c.samples else ""
        if d.tested:
            p = d.p_text if d.p_text.startswith("<") else f"= {d.p_text}"
            adj = d.p_adj_text if d.p_adj_text.startswith("≤") else f"= {d.p_adj_text}"
            test = (f"95% interval [{fmt(d.ci[0])}, {fmt(d.ci[1])}], p {p}, Holm-adjusted p {adj} ({d.method} on "
                    f"{d.seeds[0]} / {d.seeds[1]} seeds{where})")
        else:
            test = f"not tested: {d.why}{where}"
        console.print(escape(f"  {name}: {model_a} {fmt(d.mean_a)}, {model_b} {fmt(d.mean_b)}; "
                             f"{model_a} − {model_b} = {fmt(d.diff)}, {test}: {c.verdict}"), soft_wrap=True)
    console.print(escape(f"verdict: {HOLM_RULE}; {COMPARE_FAMILY}"), style="dim", soft_wrap=True)


@cli.command()
@click.option("--run", "run_dir", required=True, type=click.Path(), help="A run folder written by `genbench run`.")
@click.option("--sample", default=0, show_default=True, type=int, help="Which image of the run's samples.png.")
@click.option("--out", type=click.Path(dir_okay=False), help="PNG to write (default: RUN/tree.png).")
def tree(run_dir, sample, out):
    """The learned AND-OR tree of one generated image (paper Fig. 1) and a dictionary view, as a PNG."""
    from genbench.present.tree import tree_figure

    _say(f"wrote {tree_figure(run_dir, sample, out)}")


@cli.command()
@click.option("--results", "-r", default=str(DEFAULT_RESULTS), show_default=True, type=click.Path())
@click.option("--out", "-o", type=click.Path(file_okay=False), help="Folder to write (default: RESULTS/report).")
@click.option("--figure-seeds", help="Show figures for runs of these seeds only, e.g. 0 (tables still use every "
                                     "seed).")
def report(results, out, figure_seeds):
    """A page of tables and figures: OUT/report.html (self-contained) and OUT/report.md (+ OUT/images/)."""
    from genbench.present.report import write_report
    from genbench.run.plan import parse_seeds

    seeds = parse_seeds(figure_seeds, "--figure-seeds") if figure_seeds is not None else None  # "" is refused
    page, md = write_report(results, out, seeds)
    _say(f"wrote {page} and {md}")


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"  # a sentence for the user, not a source line


class _OncePerCommand:
    """``warnings.showwarning`` that prints each distinct message once per command, however often
    the code raises it (e.g. missing Inception weights, once per model and metric) and however often
    ``warnings.catch_warnings`` resets Python's own once-registry."""

    def __init__(self, show):
        self.show, self.seen = show, set()

    def __call__(self, message, category, filename, lineno, file=None, line=None):
        key = (category, str(message))
        if key not in self.seen:
            self.seen.add(key)
            self.show(message, category, filename, lineno, file, line)


def main(argv=None):
    warnings.formatwarning = _one_line_warning
    show = warnings.showwarning
    warnings.showwarning = _OncePerCommand(show)
    try:
        _main(argv)
    finally:
        warnings.showwarning = show


def _main(argv):
    from genbench.run.signals import Interrupted

    try:
        cli.main(args=argv, prog_name="genbench", standalone_mode=False)
    except GenbenchError as exc:
        _fail(str(exc), exc.exit_code)
    except Interrupted as exc:
        _stopped(str(exc), exc.exit_code)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C outside genbench's own handling into Abort
        _stopped("interrupted (SIGINT)." if isinstance(exc.__context__, KeyboardInterrupt) else "aborted.", 130)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except KeyboardInterrupt:
        _stopped("interrupted (SIGINT).", 130)


def _stopped(msg: str, code: int):
    """A run stopped by a signal: one line from rank 0 (every rank exits with the same code)."""
    from genbench.run import distributed

    if distributed.is_main():
        err.print(printable(msg), style="yellow", markup=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
