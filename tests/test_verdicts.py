"""Best only when it is (genbench.present.verdicts): the tests against hand-computed cases, a clear difference marked
and one inside the noise marked tied in every layout and format, the pairing of single-seed bootstraps, and
`genbench compare`."""

from __future__ import annotations

import math

import numpy as np
import pytest
from metric_fakes import single_blas_thread  # noqa: F401
from record_files import load_records, write_run
from scipy import stats

from genbench.metrics.core import bootstrap as bs
from genbench.present import verdicts
from genbench.present.overview import build_overviews
from genbench.present.tables import build_table, render, rich_table


def _rec(model, seed, value, metric="swd", hib=False, extra=None, pid="p1", dataset="shapes"):
    return {"dataset": dataset, "model": model, "preset": "small", "seed": seed, "metric": metric,
            "metric_plugin": metric, "value": value, "status": "ok", "higher_is_better": hib, "protocol_id": pid,
            "protocol": {"n": 1}, "extra": extra or {}, "config": {}, "time": f"2026-01-01T00:00:0{seed}"}


def _write(root, model, seed, *recs, dataset="shapes"):
    write_run(root / dataset / model / f"small-seed{seed}", {}, list(recs))


def _errors(mean, n=200, seed=0):
    """Per-image errors of a "model" on the same n images: the common part is the images', the rest its own."""
    rng = np.random.default_rng(seed)
    return mean + np.random.default_rng(99).normal(0, 0.3, n) + rng.normal(0, 0.02, n)


def _single(model, errors, metric="mse"):
    """A one-seed record of the mean of ``errors`` with its bootstrap interval, as the mse metric writes it."""
    value = float(errors.mean())
    return _rec(model, 0, value, metric=metric, extra=bs.mean_interval(value, errors).extra())


# -- the tests, by hand ------------------------------------------------------------------------------------
def test_welch_against_the_formula():
    a, b = np.array([10.0, 10.4, 9.8]), np.array([11.0, 11.9, 11.3, 12.2])
    d = verdicts.difference("a", _frame(a), "b", _frame(b))
    va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 4
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 3)  # Welch-Satterthwaite
    assert d.method == "Welch's t" and d.seeds == (3, 4)
    assert d.p == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-10)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert d.ci == pytest.approx((d.diff - half, d.diff + half), rel=1e-10)
    assert d.diff == pytest.approx(a.mean() - b.mean()) and d.significant  # p = 0.006


def _frame(values, boots=None, pid="p1"):
    import pandas as pd

    return pd.DataFrame([{"seed": i, "value": v, "status": "ok", "protocol_id": pid,
                          "extra": {"boot": list(boots)} if boots is not None else {}} for i, v in enumerate(values)])


def test_one_seed_bootstrap_difference_by_hand():
    ra = np.array([1.0, 1.2, 0.9, 1.1, 1.3, 0.8, 1.0, 1.05])
    rb = np.array([0.5, 0.7, 0.6, 0.4, 0.9, 0.55, 0.65, 0.6])
    d = verdicts.difference("a", _frame([1.04], ra), "b", _frame([0.61], rb))
    diff = ra - rb
    assert d.method == "paired bootstrap" and d.ci == pytest.approx(tuple(np.percentile(diff, [2.5, 97.5])))
    assert d.p == 0.0 and d.significant  # every replicate difference is above 0
    close = verdicts.difference("a", _frame([1.04], ra), "b", _frame([1.0], ra[::-1]))
    assert close.ci[0] < 0 < close.ci[1] and not close.significant
    assert close.p == pytest.approx(2 * min((ra - ra[::-1] <= 0).mean(), (ra - ra[::-1] >= 0).mean()))
    other = verdicts.difference("a", _frame([1.04], ra), "b", _frame([0.61], rb, pid="p2"))
    assert other.method == "bootstrap"  # different protocols: not paired on the same real samples


def test_no_test_without_replicates_or_with_one_seed_against_several():
    bare = verdicts.difference("a", _frame([1.0]), "b", _frame([2.0]))
    assert not bare.tested and "no bootstrap replicates" in bare.why and not bare.significant
    mixed = verdicts.difference("a", _frame([1.0], [1.0, 1.1]), "b", _frame([2.0, 2.1, 2.2]))
    assert not mixed.tested and "1 seed against 3" in mixed.why


def test_pairing_on_the_same_images_sees_what_independent_resampling_cannot():
    """Two models 0.01 apart on 200 images whose errors vary 0.3 from image to image: only the paired bootstrap
    (the same image draws for both, as the fixed stream gives) shows the difference."""
    ea, eb = _errors(1.0, seed=1), _errors(1.01, seed=2)
    a, b = _single("a", ea), _single("b", eb)
    paired = verdicts.difference("a", _frame([a["value"]], a["extra"]["boot"]),
                                 "b", _frame([b["value"]], b["extra"]["boot"]))
    assert paired.method == "paired bootstrap" and paired.significant and paired.ci[1] < 0
    shuffled = np.random.default_rng(0).permutation(b["extra"]["boot"])  # as if drawn independently
    unpaired = verdicts.difference("a", _frame([a["value"]], a["extra"]["boot"]), "b", _frame([b["value"]], shuffled))
    assert not unpaired.significant


# -- marks in the tables -----------------------------------------------------------------------------------
@pytest.fixture
def results(tmp_path):
    """swd over 3 seeds: clear (alpha 10 ± 0.2 vs beta 12 ± 0.2) on shapes, inside the noise (alpha 10 ± 4 vs
    beta 11 ± 3) on lfw; mse from one seed with bootstrap replicates: clear (alpha 1.0 vs beta 1.2 on 200
    images) on shapes, inside the noise (alpha 1.000 vs beta 1.002) on lfw."""
    swd = {"shapes": {"alpha": (10.0, 10.2, 9.8), "beta": (12.0, 12.3, 11.9)},
           "lfw": {"alpha": (10.0, 14.0, 6.0), "beta": (11.0, 8.0, 14.0)}}
    mse = {"shapes": {"alpha": 1.0, "beta": 1.2}, "lfw": {"alpha": 1.0, "beta": 1.002}}
    for dataset in ("shapes", "lfw"):
        for i, model in enumerate(("alpha", "beta")):
            for seed, v in enumerate(swd[dataset][model]):
                recs = [_rec(model, seed, v, dataset=dataset)]
                if seed == 0:
                    recs.append({**_single(model, _errors(mse[dataset][model], seed=i)), "dataset": dataset})
                _write(tmp_path, model, seed, *recs, dataset=dataset)
    return tmp_path


def test_clear_difference_is_marked_and_noise_is_not(results):
    df = load_records(results)
    tables = {t.title: t for t in build_overviews(df)}
    shapes, lfw = tables["shapes · small"], tables["lfw · small"]
    assert shapes.best == {("alpha", "swd ↓"), ("alpha", "mse ↓")} and not shapes.tied
    assert lfw.best == set() and lfw.tied == {("alpha", "swd ↓"), ("beta", "swd ↓"), ("alpha", "mse ↓"),
                                              ("beta", "mse ↓")}
    for metric in ("swd", "mse"):
        paper = build_table(df, metric)
        assert paper.best == {("shapes", "alpha")} and paper.tied == {("lfw", "alpha"), ("lfw", "beta")}
        assert not paper.cells[("shapes", "Δ")].endswith("(within noise)")
        assert paper.cells[("lfw", "Δ")].endswith("(within noise)")


def test_every_format_states_the_rule_and_level_and_marks_ties(results):
    from rich.console import Console

    df = load_records(results)
    for t in [*build_overviews(df), build_table(df, "swd")]:
        md, tex = render(t, "md"), render(t, "latex")
        console = Console(width=250, color_system=None, record=True)
        console.print(rich_table(t, plain=True))
        text = console.export_text()
        for out in (md, tex, text):
            assert "5% level" in out and "Welch" in out and "bootstrap" in out
    lfw = render(build_table(df, "swd"), "md")
    assert "| lfw | 10.00 ± 4.00 ≈ | 11.00 ± 3.00 ≈ | 1.00 (within noise) |" in lfw
    assert "| shapes | **10.00 ± 0.20** | 12.07 ± 0.21 | 2.07 |" in lfw
    assert r"10.00 $\pm$ 4.00 $\approx$" in render(build_table(df, "swd"), "latex")


def test_every_table_says_how_many_columns_it_tested_for_a_best_mark(results):
    df = load_records(results)
    shapes = {t.title: t for t in build_overviews(df)}["shapes · small"]
    assert ("best marks: 2 of 2 ranked columns tested (best vs runner-up), 2 marked, each at the 5% level, not "
            "corrected across columns: were no model truly different, expect at most about 0.05·2 = 0.1 chance "
            "marks") in "\n".join(shapes.notes)
    paper = build_table(df, "swd")
    assert any(n.startswith("best marks: 2 of 2 ranked rows tested (best vs runner-up), 1 marked") for n in paper.notes)
    assert "best marks" not in "\n".join(build_table(df.assign(higher_is_better=None), "swd").notes)  # descriptive


def test_intervals_in_cells_on_request(results):
    df = load_records(results)
    t = build_table(df, "swd", ci=True)
    x = np.array([10.0, 14.0, 6.0])
    lo, hi = stats.t.interval(0.95, 2, loc=x.mean(), scale=x.std(ddof=1) / math.sqrt(3))  # t-interval of the mean
    assert t.cells[("lfw", "alpha")] == f"10.00 ± 4.00 [{lo:.2f}, {hi:.2f}]"
    assert any("95% interval" in n and "B = 200" in n for n in t.notes)
    m = build_table(df, "mse", ci=True)
    rec = df[(df["metric"] == "mse") & (df["model"] == "alpha") & (df["dataset"] == "shapes")].iloc[0]
    lo, hi = rec["extra"]["ci"]
    assert m.cells[("shapes", "alpha")] == f"{rec['value']:.3f} [{lo:.3f}, {hi:.3f}]"
    assert "[" not in build_table(df, "swd").cells[("lfw", "alpha")]  # not by default


# -- genbench compare ----------------------------------------------------------------------------------------
def test_compare_prints_difference_interval_p_seeds_and_samples(results, cli):
    code, out, err = cli("compare", "alpha", "beta", "--results", str(results), "--metric", "swd")
    assert code == 0, err
    assert "alpha − beta" in out and "Welch's t" in out and "3 / 3" in out and "alpha better" in out
    assert "within noise" in out  # lfw
    code, out, err = cli("compare", "alpha", "beta", "--results", str(results), "--dataset", "shapes")
    assert code == 0, err
    assert "paired bootstrap" in out and "images 200" in out and "1 / 1" in out and "mse" in out and "swd" in out
    assert "lfw" not in out and "verdict: a difference is shown where its p, Holm-adjusted" in out
    assert "p < 0.005, Holm-adjusted p ≤ 0.005" in out and "Holm-adjusted p = 0.000491" in out  # bootstrap 0: 1/B
    assert "(Holm family: 2 tested metrics)" in out


def test_compare_with_nothing_to_compare_is_one_sentence_naming_what_exists(results, cli, tmp_path):
    for args, said in ((("alpha", "gamma"), "No records for model 'gamma'; models with records: alpha, beta."),
                       (("alpha", "beta", "--metric", "fid"), "No records for metric 'fid'; recorded metrics: mse, "
                                                              "swd."),
                       (("alpha", "beta", "--dataset", "celeba"), "datasets with records: lfw, shapes."),
                       (("alpha", "bet"), "did you mean 'beta'?")):
        code, out, err = cli("compare", *args, "--results", str(results))
        assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err
    _write(tmp_path / "r", "gamma", 0, _rec("gamma", 0, 1.0, dataset="cars"), dataset="cars")
    _write(tmp_path / "r", "alpha", 0, _rec("alpha", 0, 1.0, metric="mse"))
    code, _, err = cli("compare", "alpha", "gamma", "--results", str(tmp_path / "r"), "--dataset", "shapes")
    assert code == 2 and "Model 'gamma' has no records on dataset 'shapes'; it has records on: cars." in err
    code, _, err = cli("compare", "alpha", "gamma", "--results", str(tmp_path / "r"))
    assert code == 2 and "share no metric" in err and "'gamma' has swd on cars" in err


def test_table_models_decides_best_among_the_named_in_their_order(results, cli):
    for seed, v in enumerate((9.0, 9.2, 8.8)):  # gamma: clearly better than alpha on shapes
        _write(results, "gamma", seed, _rec("gamma", seed, v))
    calibration = {**_rec("real-heldout", 0, 5.0), "config": {"source.kind": "real"}}
    _write(results, "real-heldout", 0, calibration)
    args = ("table", "--results", str(results), "--dataset", "shapes", "--metric", "swd", "--format", "md")
    code, out, err = cli(*args)
    assert code == 0, err
    assert "**9.00 ± 0.20**" in out and "**10.00" not in out
    code, out, err = cli(*args, "--models", "beta,alpha")
    assert code == 0, err
    header = next(line for line in out.splitlines() if line.startswith("| swd |"))
    assert header.index("beta") < header.index("alpha") < header.index("real-heldout") and "gamma" not in out
    assert "**10.00 ± 0.20** | 5.00 |" in out and "calibration rows" in out  # calibration kept, not ranked
    code, out, err = cli(*args[:-4], "--models", "alpha,gama")
    assert code == 0 or code == 2
    assert code == 2 and "no records for model 'gama'" in err and "did you mean 'gamma'" in err
    assert "recorded models: " in err and "Traceback" not in err
