"""The overview table (rows models x columns metrics per dataset and preset), chance levels, and one
print per distinct warning, on synthetic records."""

from __future__ import annotations

import copy
import warnings

import pytest
from record_files import load_records, write_run

from genbench.present.overview import build_overviews, fit_width
from genbench.present.tables import build_table, render
from genbench.store.records import protocol_id


def _rec(model, seed, metric, value, hib=False, status="ok", dataset="shapes", preset="small", plugin=None,
         extra=None, pid="p1", note="", t=None):
    return {"dataset": dataset, "model": model, "preset": preset, "seed": seed, "metric": metric,
            "metric_plugin": plugin or metric, "value": value, "status": status, "note": note,
            "higher_is_better": hib, "protocol_id": pid, "protocol": {"n": 1}, "extra": extra or {},
            "config": {}, "time": f"2026-01-01T00:00:0{seed if t is None else t}"}


@pytest.fixture
def df(tmp_path):
    runs = {
        ("ours", 0): [_rec("ours", 0, "swd", 10.0), _rec("ours", 0, "mse", 0.1),
                      _rec("ours", 0, "ncc", 0.5, hib=True, extra={"chance": 0.2}, pid="p2"),
                      _rec("ours", 0, "fid", None, status="unavailable")],
        ("ours", 1): [_rec("ours", 1, "swd", 14.0), _rec("ours", 1, "mse", 0.3),
                      _rec("ours", 1, "ncc", 0.7, hib=True, extra={"chance": 0.24}, pid="p2"),
                      _rec("ours", 1, "fid", None, status="unavailable")],
        ("wgan", 0): [_rec("wgan", 0, "swd", 11.0), _rec("wgan", 0, "mse", None, status="n/a"),
                      _rec("wgan", 0, "ncc", None, hib=True, status="n/a"),
                      _rec("wgan", 0, "fid", None, status="unavailable")],
        ("ours-dense", 0): [_rec("ours-dense", 0, "ncc", 0.4, hib=True, extra={"chance": 0.1}, pid="p2")],
    }
    for i, ((model, seed), recs) in enumerate(runs.items()):
        for r in recs:
            r["time"] = f"2026-01-01T00:00:0{i}"
        write_run(tmp_path / "shapes" / model / f"small-seed{seed}", {}, recs)
    write_run(tmp_path / "lfw" / "vae" / "small-seed0", {}, [_rec("vae", 0, "swd", 3.0, dataset="lfw", t=9)])
    return load_records(tmp_path)


def test_overview_rows_models_columns_metrics(df):
    shapes, lfw = build_overviews(df)
    assert shapes.title == "shapes · small" and lfw.title == "lfw · small"
    assert shapes.rows == ["ours", "wgan", "ours-dense"]
    assert shapes.columns == ["swd ↓", "mse ↓", "ncc ↑"]  # paper metrics first; fid has no value anywhere
    assert shapes.cells[("ours", "swd ↓")] == "12.00 ± 2.83"  # mean ± sample std over the two seeds
    assert shapes.cells[("wgan", "mse ↓")] == "n/a" and shapes.cells[("wgan", "ncc ↑")] == "n/a"
    assert shapes.cells[("ours-dense", "swd ↓")] == ""  # never evaluated: blank, not n/a
    # a column with one value has no "best"; the others are not decided (ours over two seeds against one wgan
    # seed, one seed each without bootstrap replicates): tied leaders
    assert shapes.best == set()
    assert shapes.tied == {("wgan", "swd ↓"), ("ours", "swd ↓"), ("ours", "ncc ↑"), ("ours-dense", "ncc ↑")}
    notes = "\n".join(shapes.notes)
    assert "ncc chance (untrained generator): ours 0.220, ours-dense 0.100" in notes
    assert "no values for: fid (unavailable)" in notes
    assert "protocol: swd/mse p1, ncc p2" in notes
    assert notes.index("no values for") < notes.index("protocol:")


def test_overview_formats(df):
    t = build_overviews(df, models=["wgan", "ours"])[0]
    assert t.rows == ["wgan", "ours"]  # the order asked for
    md = render(t, "md")
    assert "**shapes · small**" in md and "| model | swd ↓ | mse ↓ | ncc ↑ |" in md
    assert "| wgan | 11.00 ≈ | n/a | n/a |" in md and "Welch" in md
    csv = render(t, "csv").splitlines()
    assert csv[0] == "shapes · small,swd ↓,mse ↓,ncc ↑" and csv[1] == "wgan,11.00,n/a,n/a"
    tex = render(t, "latex")
    assert r"swd $\downarrow$" in tex and r"ncc $\uparrow$" in tex and r"11.00 $\approx$" in tex


def test_paper_layout_shows_chance_line(df):
    t = build_table(df, "ncc")
    assert "ncc chance (untrained generator): ours 0.220, ours-dense 0.100" in t.notes


def test_wide_overview_is_split_to_fit_the_terminal(df):
    t = build_overviews(df)[0]
    parts = fit_width(t, 40)
    assert len(parts) > 1 and [c for p in parts for c in p.columns] == t.columns
    assert all(not p.notes for p in parts[:-1]) and parts[-1].notes == t.notes
    assert fit_width(t, 200) == [t]


def test_ties_all_marked_and_counts_read_as_counts(tmp_path):
    for model, n, mse in (("ours", 11.0, 0.05), ("vae", 11.0, 0.08), ("ali", 9.0, 0.05)):
        write_run(tmp_path / "shapes" / model / "small-seed0", {},
                  [_rec(model, 0, "dissect_detectors", n, hib=True, extra={"of": 12}), _rec(model, 0, "mse", mse)])
    df = load_records(tmp_path)
    t = build_overviews(df)[0]  # equal values cannot differ: tied leaders, whatever else is known
    assert {("ours", "dissect_detectors ↑"), ("vae", "dissect_detectors ↑"), ("ours", "mse ↓"),
            ("ali", "mse ↓")} <= t.tied and not t.best
    assert t.cells[("ours", "dissect_detectors ↑")] == "11" and t.cells[("ali", "dissect_detectors ↑")] == "9"
    assert t.cells[("ours", "mse ↓")] == "0.050"  # not a count: keeps its decimals
    paper = build_table(df, "dissect_detectors")
    assert {("shapes", "ours"), ("shapes", "vae")} <= paper.tied and not paper.best
    assert paper.cells[("shapes", "Δ")] == "0.000 (untested)"  # no bootstrap replicates in these records


def test_count_averaged_over_seeds_keeps_decimals(tmp_path):
    for seed, n in ((0, 11.0), (1, 12.0)):
        write_run(tmp_path / "shapes" / "ours" / f"small-seed{seed}", {},
                  [_rec("ours", seed, "dissect_detectors", n, hib=True, extra={"of": 12})])
    t = build_overviews(load_records(tmp_path))[0]
    assert t.cells[("ours", "dissect_detectors ↑")] == "11.50 ± 0.71"


def test_protocol_ids_that_differ_only_in_the_seed_read_as_one_protocol(tmp_path):
    def rec(model, seed, n=500):
        r = _rec(model, seed, "swd", 10.0 + seed)
        r["protocol"] = {"n": n, "seed": seed, "split_seed": seed}
        r["protocol_id"] = protocol_id("swd", 1, r["protocol"])
        return r

    for model in ("ours", "vae"):
        for seed in (0, 1, 2):
            write_run(tmp_path / "shapes" / model / f"small-seed{seed}", {}, [rec(model, seed)])
    df = load_records(tmp_path)
    seed0 = protocol_id("swd", 1, {"n": 500, "seed": 0, "split_seed": 0})
    note = build_overviews(df)[0].notes[-1]
    assert note == f"protocol (ids of seed 0; other seeds' ids differ only in the seed): swd {seed0}"
    assert build_table(df, "swd").notes[-1] == note
    # a protocol that differs in more than the seed is a second protocol, named as such
    write_run(tmp_path / "shapes" / "wgan" / "small-seed0", {}, [rec("wgan", 0, n=100)])
    note = build_overviews(load_records(tmp_path))[0].notes[-1]
    other = protocol_id('swd', 1, {'n': 100, 'seed': 0, 'split_seed': 0})
    assert note.endswith(f"swd {seed0}, swd {other} (wgan)")  # the rows of the protocol fewer rows share


def test_cli_table_layouts(df, tmp_path, cli):
    code, out, _ = cli("table", "--results", str(tmp_path), "--format", "md")
    assert code == 0 and out.count("| model |") == 2 and "no values for: fid (unavailable)" in out
    code, out, _ = cli("table", "--results", str(tmp_path), "--format", "md", "--metric", "swd")
    assert code == 0 and "| swd | ours | wgan | ours-dense | vae | Δ |" in out  # paper: rows datasets
    code, out, _ = cli("table", "--results", str(tmp_path), "--format", "md", "--layout", "paper")
    assert code == 0 and "| ncc | ours | wgan | ours-dense | Δ |" in out and "ncc chance" in out
    code, out, _ = cli("table", "--results", str(tmp_path), "--format", "csv", "--layout", "overview",
                       "--metric", "ncc", "--dataset", "shapes")
    assert code == 0 and out.splitlines()[0] == "shapes · small,ncc ↑"
    code, _, err = cli("table", "--results", str(tmp_path), "--layout", "overview", "--metric", "nope")
    assert code == 2 and "No records for metric 'nope'" in err


def test_each_distinct_warning_printed_once_per_command(tmp_path, cli, monkeypatch):
    from genbench import Metric, Score, registry

    monkeypatch.setattr(registry, "_manual", copy.deepcopy(registry._manual))

    @registry.register_metric("noisy")
    class Noisy(Metric):
        description = "warns twice per model"

        def compute(self, ctx):
            for _ in range(2):
                with warnings.catch_warnings():  # resets Python's once-registry, as lpips does
                    warnings.simplefilter("ignore", DeprecationWarning)
                warnings.warn("weights missing", RuntimeWarning, stacklevel=1)
            warnings.warn("another problem", RuntimeWarning, stacklevel=1)
            return [Score("noisy", 1.0)]

    shown = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *a, **k: shown.append(str(message)))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code, out, _ = cli("run", "--models", "vae,wgan", "--preset", "tiny", "--steps", "1", "--metrics", "noisy",
                           "--results", str(tmp_path), "--no-progress")
    assert code == 0, out
    assert shown == ["weights missing", "another problem"]
    assert out.count("noisy ↓") == 1 and "│ vae " in out and "│ wgan " in out  # the overview, once
