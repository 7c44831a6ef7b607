"""Grids of runs: --datasets / --seeds, skipping complete runs, and --shard i/n slices."""

from __future__ import annotations

import json

import pytest

from genbench.run.plan import Cell, Grid


def _grid(shard=(0, 1), models=("a", "b", "c")):
    return Grid(list(models), ["x", "y"], [0, 1, 2], "tiny", shard)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 18, 25])
def test_shards_cover_the_grid_once_and_evenly(n):
    cells = _grid().cells()
    assert len(cells) == 18 and len(set(cells)) == 18
    slices = [_grid((i, n)).mine() for i in range(n)]
    assert sorted(c for s in slices for c in s) == cells  # every run exactly once
    sizes = [len(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1


def test_shard_assignment_ignores_the_order_names_are_given_in():
    a = _grid((1, 4), models=("a", "b", "c")).mine()
    b = _grid((1, 4), models=("c", "a", "b")).mine()
    assert a == b and Cell("x", "a", 1) in _grid((1, 4)).cells()


def _run(cli, results, *extra):
    return cli("run", "--models", "vae,wgan", "--preset", "tiny", "--steps", "2", "--metrics", "swd",
               "--results", str(results), "--no-progress", *extra)


def _folders(results):
    return sorted(str(p.parent.relative_to(results)) for p in results.rglob("config.json"))


def test_shards_fill_one_results_folder_and_complete_runs_are_skipped(tmp_path, cli):
    grid = ("--datasets", "shapes,patches", "--seeds", "0,1")
    code, out, err = _run(cli, tmp_path, *grid, "--shard", "0/3")
    assert code == 0, err
    first = _folders(tmp_path)
    assert "shard 0/3: 3 of 8 runs" in out and len(first) == 3
    for i in (1, 2):
        code, _, err = _run(cli, tmp_path, *grid, "--shard", f"{i}/3")
        assert code == 0, err
    every = _folders(tmp_path)
    assert len(every) == 8 and set(first) <= set(every)
    assert {f.split("/")[0] for f in every} == {"shapes", "patches"}
    assert {f.split("/")[2] for f in every} == {"tiny-seed0", "tiny-seed1"}

    # the whole grid again: everything is complete, nothing is retrained or rescored
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("results.json")}
    code, out, err = _run(cli, tmp_path, *grid)
    assert code == 0, err
    assert out.count("skipped") == 8 and "already trained to step 2" in out
    assert stamps == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("results.json")}

    # a metric not yet scored makes the run incomplete: it is evaluated, not retrained
    code, out, err = _run(cli, tmp_path, "--seeds", "1", "--metrics", "swd,mse")
    assert code == 0, err
    rec = json.loads((tmp_path / "shapes" / "vae" / "tiny-seed1" / "results.json").read_text())
    assert {"mse", "swd"} <= {r["metric"] for r in rec["records"]} and "vae: already trained to step 2 in" in out


@pytest.mark.parametrize("args, words", [
    (["--shard", "3/3"], ["--shard 3/3", "0..n-1"]),
    (["--shard", "two"], ["--shard 'two' is not i/n"]),
    (["--seeds", "0,x"], ["--seeds '0,x'", "integers"]),
    (["--datasets", "shapes,nope"], ["Unknown dataset 'nope'"]),
])
def test_bad_grid_options_are_one_sentence_and_exit_2(tmp_path, cli, args, words):
    code, out, err = _run(cli, tmp_path, *args)
    assert code == 2 and all(w in err for w in words), err
    assert "Traceback" not in err + out and len(err.strip().splitlines()) == 1
