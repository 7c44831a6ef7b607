"""``genbench report``: a self-contained HTML page and a markdown twin, rendered from a tiny real run."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from genbench.run.plan import RunOptions
from genbench.run.runner import run


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """abp (a renderer that infers) and wgan (a generator only), trained a few steps at the tiny preset."""
    res = tmp_path_factory.mktemp("results")
    outcomes = run(RunOptions(["abp", "wgan"], preset="tiny", results=res, metrics=["swd", "mse"], steps=3,
                              sets={"log_every": "1"}, progress=False), echo=lambda *a, **k: None)
    assert [o.status for o in outcomes] == ["finished", "finished"]
    for o in outcomes:  # sample-based values carry their bootstrap interval
        for r in o.records:
            if r.value is not None:
                assert r.extra["ci"][0] <= r.value <= r.extra["ci"][1] and len(r.extra["boot"]) == 200, r.metric
    return res


def test_report_html_is_self_contained_and_shows_tables_and_figures(results, cli, tmp_path):
    out = tmp_path / "page"
    code, stdout, err = cli("report", "--results", str(results), "--out", str(out))
    assert code == 0, err
    page = (out / "report.html").read_text()
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network
    assert "<script" not in page and "<link" not in page
    # the overview (rows models, columns metrics with arrows) and the paper layout (rows datasets)
    assert "<caption>shapes · tiny</caption>" in page and "<th>swd ↓</th>" in page and "<th>mse ↓</th>" in page
    assert "<caption>mse ↓</caption>" in page and "<th>Δ</th>" in page
    assert re.search(r"protocol: swd [0-9a-f]{12}", page)
    assert "<td>wgan</td>" in page and "abp · seed 0" in page and "wgan · seed 0" in page
    assert page.count("<td>n/a</td>") >= 2  # wgan's mse in both layouts
    imgs = re.findall(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*alt="([^"]*)"', page)
    alts = [a for _, a in imgs]
    for png, _ in imgs:  # every embedded image decodes
        assert Image.open(io.BytesIO(base64.b64decode(png))).format == "PNG"
    assert alts.count("samples (fixed latents per seed)") == 2
    assert alts[0] == "shapes · tiny: every metric, value and 95 % interval per model"  # first on the page
    assert page.index(alts[0]) < page.index("<caption>shapes · tiny</caption>")
    assert alts.count("training curves (metrics.jsonl)") == 2  # the watch log, where there is one
    grids = [(png, a) for png, a in imgs if a.startswith("the same 8 latents over training")]
    assert len(grids) == 2 and all("3 of the 3 grids in watch/" in a for _, a in grids)
    for png, _ in grids:  # steps 1, 2, 3 (watch_every: a tenth of 3 steps, at least 1): 8 samples of 16 px each
        w, h = Image.open(io.BytesIO(base64.b64decode(png))).size
        assert h == 3 * (16 + 2) and w > 8 * 17
    assert alts.count("top: training images, bottom: reconstructions") == 1  # wgan does not infer
    assert alts.count("AND-OR tree of sample 0 (paper Fig. 1)") == 1  # only the renderer
    assert alts.count("layer dictionaries: most used basis functions") == 1
    strips = [(png, a) for png, a in imgs if "nearest training images" in a]
    assert len(strips) == 2 and all("random-CNN feature space" in a and "held-out images" in a for _, a in strips)
    for png, _ in strips:  # 8 rows of [sample | gap | 3 neighbours] of 16 px tiles
        w, h = Image.open(io.BytesIO(base64.b64decode(png))).size
        assert h == 8 * 17 + 1 and w == 1 + 16 + 4 + 3 * 17
    # every value with its 95% interval, the rule and its level under the tables
    assert re.search(r"<td[^>]*>[0-9.]+ \[[0-9.]+, [0-9.]+\]", page) and "5% level" in page and "95% interval" in page


def test_report_markdown_references_images_that_exist(results, tmp_path):
    from genbench.present.report import write_report

    page, md = write_report(results, tmp_path / "r")
    text = md.read_text()
    assert "| model | swd ↓ | mse ↓ |" in text and "| mse | abp | wgan | Δ |" in text
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(refs) == 1 + 2 + 2 + 2 + 1 + 2 + 2  # intervals, samples, grids over time, curves, reconstructions,
    # tree + dict, nearest strips
    assert text.index("intervals-shapes-tiny.png") < text.index("| model | swd ↓ | mse ↓ |")  # the picture first
    for ref in refs:
        with Image.open(md.parent / ref) as img:
            assert img.format == "PNG" and img.width > 50
    curves = Image.open(md.parent / [r for r in refs if "abp" in r and "curves" in r][0])
    assert curves.width > 300  # one panel per logged quantity


def test_report_on_a_missing_folder_is_one_sentence(cli, tmp_path):
    code, _, err = cli("report", "--results", str(tmp_path / "nowhere"))
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("report", "--results", str(tmp_path))
    assert code == 2 and "No runs under" in err


def test_wide_overview_is_split_into_column_groups_on_the_page(tmp_path):
    from genbench.present.report import PAGE_CHARS, Report, to_html
    from genbench.present.tables import Table

    cols = [f"metric_number_{i} ↓" for i in range(14)]  # 14 columns, as the full small evaluation has
    t = Table("model", None, ["ours", "vae"], cols, {(r, c): "123.4 ± 5.6" for r in ("ours", "vae") for c in cols},
              notes=["protocol: x"], title="shapes · small", corner="model")
    page = to_html(Report(tmp_path, [t], [], {}), "now")
    groups = re.findall(r"<caption>shapes · small \((\d)/(\d)\)</caption>", page)
    assert len(groups) >= 2 and all(total == str(len(groups)) for _, total in groups)
    for table in re.findall(r"<thead><tr>(.*?)</tr></thead>", page):  # each group fits the page's width
        heads = re.findall(r"<th>(.*?)</th>", table)[1:]
        assert sum(max(len(h), len("123.4 ± 5.6")) + 3 for h in heads) <= PAGE_CHARS
    assert sum(page.count(f"<th>{c}</th>") for c in cols) == len(cols)  # every column once
    assert page.count("protocol: x") == 1  # notes under the last group only


def test_figure_seeds_limit_the_figures_not_the_tables(results, cli, tmp_path):
    import shutil

    res = tmp_path / "results"
    shutil.copytree(results, res)
    outcomes = run(RunOptions(["wgan"], preset="tiny", seed=1, results=res, metrics=["swd"], steps=3,
                              progress=False), echo=lambda *a, **k: None)
    assert [o.status for o in outcomes] == ["finished"]
    code, _, err = cli("report", "--results", str(res), "--out", str(tmp_path / "all"))
    assert code == 0, err
    assert (tmp_path / "all" / "report.md").read_text().count("#### wgan · seed") == 2
    code, _, err = cli("report", "--results", str(res), "--out", str(tmp_path / "s0"), "--figure-seeds", "0")
    assert code == 0, err
    md = (tmp_path / "s0" / "report.md").read_text()
    assert "#### wgan · seed 0" in md and "#### wgan · seed 1" not in md
    assert "figures: seed 0 only; tables: every seed" in md
    assert re.search(r"\| wgan \| \*?\*?[0-9.]+ ± [0-9.]+", md)  # the overview still averages seeds 0 and 1
    assert not list((tmp_path / "s0" / "images").glob("*seed1*"))
    code, _, err = cli("report", "--results", str(res), "--figure-seeds", "7")
    assert code == 2 and "No runs with seed 7" in err and "seeds 0, 1" in err
    code, _, err = cli("report", "--results", str(res), "--figure-seeds", "zero")
    assert code == 2 and "--figure-seeds 'zero' is not a comma-separated list of integers" in err


def test_the_interval_picture_reads_the_tables_numbers_and_marks():
    """The whisker of one seed is its recorded interval; of several seeds, the t interval of their mean; the best
    and tied marks are the table's."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    from genbench.present.overview import build_overviews
    from genbench.present.plots import _cells, interval, interval_plot

    assert interval(np.array([2.0]), [[1.5, 2.5]]) == (1.5, 2.5) and interval(np.array([2.0]), [None]) is None
    values = np.array([1.0, 2.0, 4.0])
    lo, hi = stats.t.interval(0.95, 2, loc=values.mean(), scale=stats.sem(values))
    assert interval(values, [None] * 3) == pytest.approx((lo, hi))
    rows = []
    for model, vals in (("good", [1.0, 1.1, 0.9]), ("bad", [5.0, 5.2, 4.9]), ("ok", [1.2, 3.0, 0.5])):
        for seed, v in enumerate(vals):
            rows.append(dict(dataset="d", preset="p", model=model, seed=seed, metric="m", value=v, status="ok",
                             higher_is_better=False, note="", time=f"t{seed}", extra={}, protocol_id="x",
                             step=1, metric_plugin="m"))
    df = pd.DataFrame(rows)
    t = build_overviews(df)[0]
    cells, reference = _cells(df, t, t.columns[0])
    marks = {model: mark for model, *_, mark in cells}
    assert reference is None and marks["bad"] == "" and {marks["good"], marks["ok"]} <= {"best", "tied"}
    assert {(r, c) for r, c in t.best} == {(m, t.columns[0]) for m, k in marks.items() if k == "best"}
    assert interval_plot(df, t)[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_are_smoothed_as_tensorboard_smooths_them():
    """A debiased exponential moving average with TensorBoard's weight 0.6: the first value is itself, a constant
    stays constant, a step is approached geometrically."""
    import numpy as np

    from genbench.present.report import smoothed

    assert np.allclose(smoothed(np.full(5, 3.0)), 3.0)
    s = smoothed(np.array([0.0, 0.0, 1.0, 1.0, 1.0]))
    assert s[0] == 0 and s[1] == 0 and 0 < s[2] < s[3] < s[4] < 1
    w = 0.6  # by hand: EMA / (1 - w^k)
    assert s[2] == pytest.approx((1 - w) / (1 - w**3))
    assert np.isnan(smoothed(np.array([1.0, np.nan, 1.0]))[1])


def test_curves_come_from_train_log_csv_without_metrics_jsonl_and_a_linked_watch_folder_is_not_entered(
        results, cli, tmp_path):
    import shutil

    res, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    shutil.copytree(results, res)
    abp = res / "shapes" / "abp" / "tiny-seed0"
    (abp / "metrics.jsonl").unlink()  # a run written before the watch logs
    shutil.move(abp / "watch", elsewhere)
    (abp / "watch").symlink_to(elsewhere)
    code, _, err = cli("report", "--results", str(res), "--out", str(tmp_path / "page"))
    assert code == 0, err
    md = (tmp_path / "page" / "report.md").read_text()
    assert md.count("*training curves (train_log.csv)*") == 1 and md.count("*training curves (metrics.jsonl)*") == 1
    assert md.count("*the same 8 latents over training") == 1  # wgan's; abp's watch/ is a link: skipped


def test_curves_read_metrics_jsonl_s_numbers_with_before_and_after_in_one_panel(tmp_path):
    """metrics.jsonl's losses and quick metrics, at their own steps; anything that is not a number is skipped."""
    import json

    from genbench.present.report import curves_frame, plot_curves
    from genbench.store.runfolder import RunFolder

    rows = [{"step": 10, "losses": {"mse": 0.5, "mse_before": 0.6, "note": "x"}, "images_per_s": 3.0},
            {"step": 15, "quick": {"swd@128": 90.0}},
            {"step": 20, "losses": {"mse": 0.4, "mse_before": 0.45, "flag": True}, "quick": {"swd@128": 80.0}}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 3')
    (tmp_path / "train_log.csv").write_text("step,mse\n10,9\n")
    frame, source = curves_frame(RunFolder(tmp_path))
    assert source == "metrics.jsonl" and list(frame.columns) == ["step", "mse", "mse_before", "quick swd@128"]
    assert frame["step"].tolist() == [10, 15, 20] and frame["quick swd@128"].dropna().tolist() == [90.0, 80.0]
    png = plot_curves(frame, "t")
    assert Image.open(io.BytesIO(png)).width < 2.6 * 90 * 2 + 20  # two panels: mse (before/after), quick swd
