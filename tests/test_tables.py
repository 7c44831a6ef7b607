"""``genbench table`` is a pure aggregation: exact means, stds, best/tie marks and Δ from records."""

from __future__ import annotations

import math

import pytest
from record_files import load_records, write_run

from genbench.present.tables import build_table, render


def _write(root, model, seed, metric, value, hib=False, status="ok", dataset="shapes", note="", extra=None):
    recs = [{"dataset": dataset, "model": model, "preset": "small", "seed": seed, "metric": metric,
             "metric_plugin": metric, "value": value, "status": status, "note": note, "higher_is_better": hib,
             "protocol_id": "p1", "protocol": {"n": 1}, "config": {"model": {"lr": 0.1}},
             "time": f"2026-01-01T00:00:0{seed}", "extra": extra or {}}]
    write_run(root / dataset / model / f"small-seed{seed}", {}, recs)


@pytest.fixture
def records(tmp_path):
    for seed, (a, b, c) in enumerate([(1.0, 2.0, 5.0), (3.0, 2.5, 5.0)]):
        _write(tmp_path, "alpha", seed, "fid", a)
        _write(tmp_path, "beta", seed, "fid", b)
        _write(tmp_path, "gamma", seed, "fid", c, status="warn", note="only 100 samples")
    boot = [-0.02, -0.01, 0.0, 0.01, 0.02]  # bootstrap spread of a single-seed value, re-centred: far below 0.5
    _write(tmp_path, "alpha", 0, "ncc", 0.8, hib=True, dataset="other", extra={"boot": [0.8 + b for b in boot]})
    _write(tmp_path, "beta", 0, "ncc", 0.3, hib=True, dataset="other", extra={"boot": [0.3 + b for b in boot]})
    _write(tmp_path, "gamma", 0, "ncc", None, hib=True, status="n/a", dataset="other")
    return load_records(tmp_path)


def test_mean_std_best_and_delta(records):
    t = build_table(records, "fid")
    assert t.columns == ["alpha", "beta", "gamma", "Δ"]
    assert t.means[("shapes", "alpha")] == 2.0 and t.means[("shapes", "beta")] == 2.25
    assert t.cells[("shapes", "alpha")] == f"2.00 ± {math.sqrt(2):.2f}"  # sample std over seeds
    # lower is better, but 2.00 ± 1.41 vs 2.25 ± 0.35 over two seeds is noise (Welch p = 0.84): tied leaders,
    # with gamma (5.00 ± 0.00, p = 0.20 against alpha)
    assert t.best == set() and t.tied == {("shapes", "alpha"), ("shapes", "beta"), ("shapes", "gamma")}
    assert t.cells[("shapes", "Δ")] == "0.250 (within noise)"
    assert any("Welch" in n and "5%" in n for n in t.notes)  # the rule and its level under the table
    assert t.cells[("shapes", "gamma")].endswith("†") and any("only 100 samples" in n for n in t.notes)
    assert "config.model.lr" in records.columns  # config flattened into the tidy records


def test_higher_is_better_and_na(records):
    t = build_table(records, "ncc")  # one seed each, bootstrap replicates far apart: a clear best
    assert t.best == {("other", "alpha")} and t.tied == set() and t.cells[("other", "Δ")] == "0.500"
    assert t.cells[("other", "gamma")] == "n/a"


def test_formats(records):
    t = build_table(records, "fid")
    md = render(t, "md")
    assert "| shapes | 2.00 ± 1.41 ≈ | 2.25 ± 0.35 ≈ |" in md and "Welch" in md  # tied leaders, the rule below
    csv = render(t, "csv").splitlines()
    assert csv[0] == "fid,alpha,beta,gamma,Δ"
    tex = render(t, "latex")
    assert r"2.00 $\pm$ 1.41 $\approx$" in tex and r"$\Delta$" in tex and "% best marked only where" in tex
    tex = render(build_table(records, "ncc"), "latex")
    assert r"\textbf{0.800}" in tex


def test_descriptive_metric_has_no_best_and_no_delta(tmp_path):
    _write(tmp_path, "alpha", 0, "sparsity_b8", 0.25, hib=None)
    _write(tmp_path, "beta", 0, "sparsity_b8", 0.5, hib=None)
    t = build_table(load_records(tmp_path), "sparsity_b8")
    assert t.best == set() and "Δ" not in t.columns and "descriptive" in t.notes[0]


def test_metrics_without_any_value_get_one_line_not_a_table(cli, tmp_path):
    from genbench.present.tables import metric_order, valueless

    _write(tmp_path, "alpha", 0, "fid", None, status="unavailable")
    _write(tmp_path, "beta", 0, "swd", 3.0)
    df = load_records(tmp_path)
    assert metric_order(df) == ["fid", "swd"]  # the paper's metrics first
    assert valueless(df, ["fid", "swd"]) == {"fid": "unavailable"}
    code, out, err = cli("table", "--results", str(tmp_path), "--layout", "paper")
    assert code == 0 and "no values for: fid (unavailable)" in err and "swd" in out and "fid" not in out
    code, out, err = cli("table", "--results", str(tmp_path), "--format", "md")  # overview: no fid column
    assert code == 0 and "| model | swd ↓ |" in out and "no values for: fid (unavailable)" in out


def test_a_results_folder_nested_inside_another_is_never_read(tmp_path):
    """`make demo` writes to results/; a reference grid or a copy kept inside it must not enter its tables."""
    _write(tmp_path, "alpha", 0, "fid", 1.0)
    nested = tmp_path / "reference" / "small" / "runs"
    for seed in (0, 1, 2):
        _write(nested, "beta", seed, "fid", 9.0)
        _write(nested, "alpha", seed, "fid", 5.0)
    df = load_records(tmp_path)
    assert sorted(df["model"]) == ["alpha"] and list(df["value"]) == [1.0]
    assert len(load_records(nested)) == 6  # read as a results folder of its own, it is all there
    (tmp_path / "shapes" / "linked").symlink_to(nested / "shapes" / "beta", target_is_directory=True)
    assert sorted(load_records(tmp_path)["model"]) == ["alpha"]  # a linked folder is not entered


def test_one_column_builder_serves_both_layouts(records):
    """build_column makes each layout's cells and marks: the paper layout's row is the overview's column."""
    from genbench.present.overview import build_overview
    from genbench.present.tables import build_column, inapplicable
    from genbench.store.records import Status

    d = records[records["metric"] == "ncc"]
    col = build_column(d, ["alpha", "beta", "gamma", "delta"], set(inapplicable(records, d)["model"]), True)
    assert col.cells == {"alpha": "0.800", "beta": "0.300", "gamma": "n/a", "delta": ""}
    assert col.means == {"alpha": 0.8, "beta": 0.3} and col.seeds == {"alpha": 1, "beta": 1}
    assert col.verdict.best == {"alpha"} and col.verdict.runner_up.b == "beta"
    assert build_column(d, ["alpha", "beta"], set(), None).verdict is None  # descriptive: not judged
    alone = build_column(d, ["alpha"], set(), True)
    assert alone.verdict is None and build_column(d, ["alpha"], set(), True, lone=True).verdict.best == {"alpha"}
    paper, overview = build_table(records, "ncc"), build_overview(records[records["dataset"] == "other"])
    assert {m: paper.cells[("other", m)] for m in ["alpha", "beta", "gamma"]} == {
        m: overview.cells[(m, "ncc ↑")] for m in ["alpha", "beta", "gamma"]} == {
        "alpha": "0.800", "beta": "0.300", "gamma": Status.NA}
    assert paper.best == {("other", "alpha")} and overview.best == {("alpha", "ncc ↑")}


def test_the_notes_under_either_layout_in_their_order(records):
    from genbench.present import verdicts
    from genbench.present.tables import CI_NOTE, notes
    from genbench.store.records import valued

    good = valued(records[records["metric"] == "fid"])
    assert notes(good, ["fid"], True, True, empty={"kid": "unavailable"}) == [
        verdicts.CALIBRATION_NOTE, CI_NOTE, "† only 100 samples", "no values for: kid (unavailable)",
        "protocol: fid p1"]
    assert notes(good, ["fid"], False, False) == ["† only 100 samples", "protocol: fid p1"]


def test_a_column_where_every_model_reads_one_value_is_said_to_rank_nothing(tmp_path):
    from genbench.present.tables import same_value_notes

    for seed in (0, 1):
        for model in ("alpha", "beta"):
            recs = [{"dataset": "shapes", "model": model, "preset": "small", "seed": seed, "metric": metric,
                     "metric_plugin": metric.split("_")[0], "value": value, "status": "ok", "note": "",
                     "higher_is_better": metric != "fd_effnet", "protocol_id": "p1", "protocol": {"n": 1},
                     "config": {}, "time": f"2026-01-01T00:00:0{seed}", "extra": {}}
                    for metric, value in [("precision_effnet", 0.0), ("recall_effnet", 0.0),
                                          ("fd_effnet", 280.0 + seed)]]
            write_run(tmp_path / "shapes" / model / f"small-seed{seed}", {}, recs)
    df = load_records(tmp_path)
    t = build_table(df, "precision_effnet")
    assert "every model reads 0 in every seed: precision_effnet (this column cannot rank them)" in t.notes
    assert not any("every model reads" in n for n in build_table(df, "fd_effnet").notes)
    # the overview's one line for every column that reads one value
    assert same_value_notes(df) == ["every model reads 0 in every seed: precision_effnet, recall_effnet "
                                    "(these columns cannot rank them)"]
    assert same_value_notes(df[df["model"] == "alpha"]) == []  # one model's equal seeds are no such column
