"""Holm's step-down adjustment (genbench.present.verdicts.holm, adjust) and where it is used: `genbench compare`'s
verdicts on the adjusted p within one (dataset, preset) family, and the tables' note on how many columns were
tested. statsmodels is not installed here, so the adjustment is checked against hand-worked textbook answers and
against a brute-force closed-testing reimplementation (Holm = closed testing of Bonferroni tests)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from record_files import load_records, write_run

from genbench.present import verdicts

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "small" / "runs"


def _closed_testing(p: list[float]) -> list[float]:
    """Holm's adjusted p by its definition as closed testing: H_i is rejected at level a when every intersection
    containing it is, by Bonferroni (|S| min_{j in S} p_j <= a); so its adjusted p is the largest such value."""
    m = len(p)
    out = []
    for i in range(m):
        subsets = (s for k in range(1, m + 1) for s in itertools.combinations(range(m), k) if i in s)
        out.append(min(1.0, max(len(s) * min(p[j] for j in s) for s in subsets)))
    return out


def test_textbook_examples():
    # Wikipedia's Holm-Bonferroni example: p1..p4 = 0.01, 0.04, 0.03, 0.005 at 5 %: H4, H1 rejected, H3, H2 not
    adjusted = verdicts.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-12)
    assert [q < 0.05 for q in adjusted] == [True, False, False, True]
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") -> 0.05 0.08 0.09 0.09 0.09 (monotone)
    assert verdicts.holm([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09], abs=1e-12)
    # capped at 1
    assert verdicts.holm([0.5, 0.6, 0.01]) == pytest.approx([1.0, 1.0, 0.03])


def test_matches_brute_force_closed_testing():
    rng = np.random.default_rng(0)
    for m in range(1, 8):
        for _ in range(30):
            p = list(rng.uniform(0, 0.3, m) ** 2)
            if m > 2:
                p[1] = p[0]  # a tie
            assert verdicts.holm(p) == pytest.approx(_closed_testing(p), abs=1e-12)


def test_edge_cases_one_p_ties_zero_and_missing():
    assert verdicts.holm([]) == []
    assert verdicts.holm([0.03]) == [0.03]  # one p: unchanged
    assert verdicts.holm([0.02, 0.02]) == [0.04, 0.04]  # ties share the value
    assert verdicts.holm([0.0, 0.3]) == [0.0, 0.3]
    # None and NaN (no test) leave the family: m = 2 here, not 4, and stay None
    assert verdicts.holm([0.01, None, math.nan, 0.04]) == pytest.approx([0.02, None, None, 0.04])
    assert verdicts.holm([None, math.nan]) == [None, None]


def _diff(p, replicates=0, tested=True):
    return verdicts.Difference("a", "b", 1.0, 0.0, (0.1, 0.2) if tested else None, p if tested else None,
                               "Welch's t" if not replicates else "paired bootstrap", (3, 3), replicates=replicates)


def test_adjust_reports_family_size_and_decides_on_the_adjusted_p():
    tests = verdicts.adjust([_diff(0.04), _diff(0.01), _diff(None, tested=False), _diff(0.0, replicates=200)])
    assert [t.family for t in tests] == [3, 3, 0, 3]  # the untested one is not in the family
    assert [t.p_adj for t in tests] == pytest.approx([0.04, 0.02, None, 0.015])  # bootstrap 0 enters as 1/B
    assert tests[3].p_adj_text == "≤ 0.015" and tests[3].p_text == "< 0.005"
    assert all(t.significant for t in (tests[0], tests[1], tests[3])) and not tests[2].significant
    raw_only = verdicts.adjust([_diff(0.04), _diff(0.03)])  # each below 5 % alone, not both as a family
    assert [t.p_adj for t in raw_only] == pytest.approx([0.06, 0.06])
    assert _diff(0.04).significant and not any(t.significant for t in raw_only)


def _rec(model, seed, metric, value):
    return {"dataset": "shapes", "model": model, "preset": "small", "seed": seed, "metric": metric,
            "metric_plugin": metric, "value": value, "status": "ok", "higher_is_better": False, "protocol_id": "p",
            "protocol": {"n": 1}, "extra": {}, "config": {}, "time": f"2026-01-01T00:00:0{seed}"}


def test_compare_turns_a_raw_p_below_5_percent_into_no_difference_shown(tmp_path, cli):
    """Three metrics over 3 seeds: m1 clearly apart (raw p ~ 1e-4), m2 just apart (raw p ~ 0.04), m3 not at all."""
    values = {"alpha": {"m1": (1.0, 1.1, 0.9), "m2": (1.0, 1.2, 0.8), "m3": (1.0, 2.0, 3.0)},
              "beta": {"m1": (2.0, 2.1, 1.9), "m2": (1.4, 1.6, 1.5), "m3": (1.0, 2.0, 3.0)}}
    for model, metrics in values.items():
        for seed in range(3):
            write_run(tmp_path / "shapes" / model / f"small-seed{seed}", {},
                      [_rec(model, seed, m, v[seed]) for m, v in metrics.items()])
    rows = {c.metric: c for c in verdicts.compare(load_records(tmp_path), "alpha", "beta")}
    m2 = rows["m2"].difference
    assert 0.01 < m2.p < 0.05 and m2.family == 3 and m2.p_adj >= 0.05 and rows["m2"].verdict == "within noise"
    assert [rows[m].difference.p_adj for m in ("m1", "m2", "m3")] == pytest.approx(
        verdicts.holm([rows[m].difference.p for m in ("m1", "m2", "m3")]))
    assert rows["m1"].verdict == "alpha better"
    alone = verdicts.compare(load_records(tmp_path), "alpha", "beta", metric="m2")[0]  # a family of one
    assert alone.difference.p_adj == m2.p and alone.verdict == "alpha better"
    code, out, err = cli("compare", "alpha", "beta", "--results", str(tmp_path))
    assert code == 0, err
    assert f"p = {verdicts.fmt(m2.p)}, Holm-adjusted p = {verdicts.fmt(m2.p_adj)}" in out
    assert "(Holm family: 3 tested metrics)" in out and "Holm-adjusted (Holm 1979)" in out


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no reference grid")
def test_reference_grid_ours_vs_dcgan_on_shapes():
    """The issue's case on the reference grid's `shapes` (re-made 2026-12-07 in both feature spaces): 25 metrics
    tested, swd (p = 0.014) and density_rand (p = 0.016) below 5 % alone and not after Holm (on the grid of
    2026-11-30: 12 metrics, swd and coverage_rand)."""
    rows = {c.metric: c.difference for c in verdicts.compare(load_records(REFERENCE), "ours", "dcgan",
                                                            dataset="shapes")}
    assert {t.family for t in rows.values()} == {25}
    assert [t.p_adj for t in rows.values()] == pytest.approx(verdicts.holm([t.p for t in rows.values()]))
    for metric in ("swd", "density_rand"):
        assert rows[metric].p < 0.05 and not rows[metric].significant
