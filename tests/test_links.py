"""A results folder is foreign ground: a symbolic link planted in it never carries a write outside, and what
genbench reads, copies or shows from it is never a file outside it (each case failed before the link rule)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from test_bad_input import TINY, refused

from genbench.io import append_text, links_below

RUN = ("shapes", "vae", "tiny-seed0")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from genbench.cli import main

    res = tmp_path_factory.mktemp("vae")
    try:
        main(["run", "--models", "vae", "--steps", "2", "--metrics", "swd", "--results", str(res), *TINY])
    except SystemExit as exc:  # pragma: no cover - shows in the assertions
        assert exc.code in (0, None)
    return res


@pytest.fixture
def shared(trained, tmp_path):
    """A copy of the trained results folder, as if it came from elsewhere, and a precious file outside it."""
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    precious = tmp_path / "important.txt"
    precious.write_text("keep me\n")
    return res, precious


def _rerun(cli, res, *more):
    return cli("run", "--models", "vae", "--steps", "3", "--metrics", "swd", "--results", str(res), *TINY, *more)


@pytest.mark.parametrize("name", [".lock", "error.log", "results.json", "config.json", "checkpoint.pt"])
def test_a_file_linked_out_of_a_run_folder_is_never_written_through(cli, shared, name):
    res, precious = shared
    planted = res.joinpath(*RUN, name)
    planted.unlink(missing_ok=True)
    planted.symlink_to(precious)
    refused(*_rerun(cli, res), str(planted), "symbolic link", "remove it")
    assert precious.read_text() == "keep me\n" and planted.is_symlink()


def test_a_folder_linked_out_of_the_results_folder_is_never_written_into(cli, shared, tmp_path):
    res, _ = shared
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (res / "shapes" / "wgan").symlink_to(elsewhere, target_is_directory=True)
    refused(*cli("run", "--models", "wgan", "--steps", "2", "--metrics", "swd", "--results", str(res), *TINY),
            "shapes/wgan", "symbolic link")
    assert list(elsewhere.iterdir()) == []
    shutil.rmtree(res / ".cache", ignore_errors=True)
    (tmp_path / "cache").mkdir()
    (res / ".cache").symlink_to(tmp_path / "cache", target_is_directory=True)  # the evaluation cache, linked out
    refused(*_rerun(cli, res, "--fresh"), ".cache", "symbolic link")
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_report_copies_no_file_from_outside_and_writes_through_no_link(cli, shared, tmp_path):
    res, precious = shared
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG outside the results folder")
    samples = res.joinpath(*RUN, "samples.png")
    samples.unlink()
    samples.symlink_to(secret)
    checkpoint = res.joinpath(*RUN, "checkpoint.pt")
    checkpoint.rename(tmp_path / "outside.pt")
    checkpoint.symlink_to(tmp_path / "outside.pt")  # a checkpoint outside: never loaded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = cli("report", "--results", str(res), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    assert any(str(samples) in str(w.message) and "symbolic link" in str(w.message) for w in caught)
    assert "checkpoint.pt is a symbolic link" in (tmp_path / "rep" / "report.md").read_text()
    copied = [p.read_bytes() for p in (tmp_path / "rep").rglob("*") if p.is_file()]
    assert copied and not any(b"outside the results folder" in b for b in copied)
    (res / "report").symlink_to(tmp_path / "elsewhere-report", target_is_directory=True)
    refused(*cli("report", "--results", str(res)), "report", "symbolic link")
    assert not (tmp_path / "elsewhere-report").exists()


def test_a_linked_results_json_is_skipped_by_the_tables(cli, shared, tmp_path):
    res, _ = shared
    outside = tmp_path / "outside.json"
    shutil.copy(res.joinpath(*RUN, "results.json"), outside)
    other = res / "shapes" / "dcgan" / "tiny-seed0"
    other.mkdir(parents=True)
    (other / "results.json").symlink_to(outside)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = cli("table", "--results", str(res), "--format", "csv")
    assert code == 0 and [line.split(",")[0] for line in out.splitlines()[1:] if line] == ["vae"]
    assert any("symbolic link" in str(w.message) and "dcgan" in str(w.message) for w in caught)


def test_appending_refuses_a_link_and_links_below_names_each_one(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep\n")
    (tmp_path / "log").symlink_to(target)
    with pytest.raises(OSError):
        append_text(tmp_path / "log", "never\n")
    assert target.read_text() == "keep\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").symlink_to(tmp_path / "a", target_is_directory=True)
    assert links_below(tmp_path, tmp_path / "b" / "c" / "d") == [tmp_path / "b"]
    assert links_below(tmp_path / "b", tmp_path / "b" / "c") == []  # the folder a user named is not judged


def test_a_cache_planted_as_a_link_is_neither_read_nor_written_through(tmp_path):
    import torch
    from metric_fakes import imageset

    from genbench.metrics.core.features import chunk_file, chunk_key, reference_features
    from genbench.metrics.core.randcnn import RandCNNExtractor

    images, extractor = imageset(torch.rand(6, 3, 16, 16)), RandCNNExtractor("cpu")
    cache, outside = tmp_path / "res" / ".cache", tmp_path / "outside"
    outside.mkdir()
    cache.mkdir(parents=True)
    (cache / "features").symlink_to(outside, target_is_directory=True)  # the whole features cache, linked out
    with pytest.warns(RuntimeWarning, match="symbolic link"):
        feats, info = reference_features(extractor, images, 6, cache)
    assert info["cache"] == "off" and list(outside.iterdir()) == []
    (cache / "features").unlink()
    (cache / "features").mkdir()
    name = chunk_file(chunk_key(extractor, images), 0)[1]
    planted = outside / "planted.npz"
    np.savez(planted, features=np.zeros((6, feats.shape[1]), np.float32))  # what a planted file would feed in
    (cache / "features" / name).symlink_to(planted)
    with pytest.warns(RuntimeWarning, match="symbolic link"):
        again, info = reference_features(extractor, images, 6, cache)
    assert info["cache"] == "off" and np.array_equal(again, feats)  # computed, not the planted zeros
    assert (cache / "features" / name).is_symlink() and np.load(planted)["features"].sum() == 0


def test_eval_and_compare_meet_planted_links_the_same_way(cli, shared, tmp_path):
    res, precious = shared
    npz = tmp_path / "imgs.npz"
    np.savez(npz, x=np.random.default_rng(0).integers(0, 256, (16, 16, 16, 3), dtype=np.uint8))
    row = res / "shapes" / "theirs" / "tiny-seed0"
    row.mkdir(parents=True)
    (row / ".lock").symlink_to(precious)  # eval: a planted lock is refused, never truncated
    refused(*cli("eval", "--images", str(npz), "--name", "theirs", "--results", str(res), "--preset", "tiny",
                 "--device", "cpu", "--metrics", "swd"),
            ".lock", "symbolic link")
    assert precious.read_text() == "keep me\n"
    other = res / "shapes" / "dcgan" / "tiny-seed0"
    other.mkdir(parents=True)
    (other / "results.json").symlink_to(res.joinpath(*RUN, "results.json"))  # compare: not read through
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = cli("compare", "vae", "dcgan", "--dataset", "shapes", "--results", str(res))
    assert code == 2 and any("symbolic link" in str(w.message) for w in caught)
