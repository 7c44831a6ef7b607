"""``genbench table`` is a pure aggregation: exact means, stds, best marks and Δ from records."""

from __future__ import annotations

import math

import pytest
from record_files import load_records, write_run

from genbench.tables import build_table, render


def _write(root, model, seed, metric, value, hib=False, status="ok", dataset="shapes", note=""):
    recs = [{"dataset": dataset, "model": model, "preset": "small", "seed": seed, "metric": metric,
             "metric_plugin": metric, "value": value, "status": status, "note": note, "higher_is_better": hib,
             "protocol_id": "p1", "protocol": {"n": 1}, "config": {"model": {"lr": 0.1}},
             "time": f"2026-01-01T00:00:0{seed}"}]
    write_run(root / dataset / model / f"small-seed{seed}", {}, recs)


@pytest.fixture
def records(tmp_path):
    for seed, (a, b, c) in enumerate([(1.0, 2.0, 5.0), (3.0, 2.5, 5.0)]):
        _write(tmp_path, "alpha", seed, "fid", a)
        _write(tmp_path, "beta", seed, "fid", b)
        _write(tmp_path, "gamma", seed, "fid", c, status="warn", note="only 100 samples")
    _write(tmp_path, "alpha", 0, "ncc", 0.8, hib=True, dataset="other")
    _write(tmp_path, "beta", 0, "ncc", 0.3, hib=True, dataset="other")
    _write(tmp_path, "gamma", 0, "ncc", None, hib=True, status="n/a", dataset="other")
    return load_records(tmp_path)


def test_mean_std_best_and_delta(records):
    t = build_table(records, "fid")
    assert t.columns == ["alpha", "beta", "gamma", "Δ"]
    assert t.means[("shapes", "alpha")] == 2.0 and t.means[("shapes", "beta")] == 2.25
    assert t.cells[("shapes", "alpha")] == f"2.00 ± {math.sqrt(2):.2f}"  # sample std over seeds
    assert t.best == {("shapes", "alpha")}  # lower is better
    assert t.cells[("shapes", "Δ")] == "0.250"
    assert t.cells[("shapes", "gamma")].endswith("†") and any("only 100 samples" in n for n in t.notes)
    assert "config.model.lr" in records.columns  # config flattened into the tidy records


def test_higher_is_better_and_na(records):
    t = build_table(records, "ncc")
    assert t.best == {("other", "alpha")} and t.cells[("other", "Δ")] == "0.500"
    assert t.cells[("other", "gamma")] == "n/a"


def test_formats(records):
    t = build_table(records, "fid")
    md = render(t, "md")
    assert "| shapes | **2.00 ± 1.41** | 2.25 ± 0.35 |" in md
    csv = render(t, "csv").splitlines()
    assert csv[0] == "fid,alpha,beta,gamma,Δ"
    tex = render(t, "latex")
    assert r"\textbf{2.00 $\pm$ 1.41}" in tex and r"$\Delta$" in tex


def test_descriptive_metric_has_no_best_and_no_delta(tmp_path):
    _write(tmp_path, "alpha", 0, "sparsity_b8", 0.25, hib=None)
    _write(tmp_path, "beta", 0, "sparsity_b8", 0.5, hib=None)
    t = build_table(load_records(tmp_path), "sparsity_b8")
    assert t.best == set() and "Δ" not in t.columns and "descriptive" in t.notes[0]


def test_metrics_without_any_value_get_one_line_not_a_table(cli, tmp_path):
    from genbench.tables import metric_order, valueless

    _write(tmp_path, "alpha", 0, "fid", None, status="unavailable")
    _write(tmp_path, "beta", 0, "swd", 3.0)
    df = load_records(tmp_path)
    assert metric_order(df) == ["fid", "swd"]  # the paper's metrics first
    assert valueless(df, ["fid", "swd"]) == {"fid": "unavailable"}
    code, out, err = cli("table", "--results", str(tmp_path), "--layout", "paper")
    assert code == 0 and "no values for: fid (unavailable)" in err and "swd" in out and "fid" not in out
    code, out, err = cli("table", "--results", str(tmp_path), "--format", "md")  # overview: no fid column
    assert code == 0 and "| model | swd ↓ |" in out and "no values for: fid (unavailable)" in out
