"""Results folders travel (issue 20): nothing read from one runs code, writes outside the folder asked for,
or is read as terminal or markdown markup. A checkpoint or cache is data, a name is text."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from genbench import registry
from genbench.store.runfolder import CHECKPOINT

TINY = ["--preset", "tiny", "--steps", "2", "--metrics", "swd", "--no-progress", "--device", "cpu"]


class _Evil:
    """Unpickling this calls open(path, 'w'): a file appears if the loader executes what it reads."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _craft(folder, marker):
    torch.save({"step": 1, "model": {}, "payload": _Evil(marker)}, folder / CHECKPOINT)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """ours (a renderer) and vae, two steps at the tiny preset, a log row per step."""
    from genbench.cli import main

    res = tmp_path_factory.mktemp("trained")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            main(["run", "--models", "ours,vae", "--results", str(res), "--set", "log_every=1", *TINY])
        except SystemExit as exc:  # pragma: no cover - shows in the assertions
            assert exc.code in (0, None)
    return res


def test_a_crafted_checkpoint_is_refused_by_every_command_that_reads_one(trained, tmp_path, cli):
    results, marker = tmp_path / "results", tmp_path / "pwned"
    shutil.copytree(trained, results)
    folder = results / "shapes" / "ours" / "tiny-seed0"
    _craft(folder, marker)
    run = ("run", "--models", "ours", "--results", str(results), *TINY)
    for argv in (run + ("--steps", "3"),  # resume to step 3 (the last --steps wins)
                 run,  # trained to its steps: the complete-run check and evaluation
                 ("tree", "--run", str(folder), "--out", str(tmp_path / "t.png")),
                 ("report", "--results", str(results), "--out", str(tmp_path / "page"))):
        code, out, err = cli(*argv)
        assert not marker.exists(), argv  # the payload never ran
        assert "Traceback" not in out + err
        if argv[0] != "report":  # the report notes the run it cannot draw and goes on
            assert code == 2 and "cannot be read" in err and CHECKPOINT in err, (argv, err)
    assert "cannot be read" in (tmp_path / "page" / "report.md").read_text()


# -- caches read from a results folder (or the data cache) are data too ------------------------------
def _pickled_npz(path: Path, marker: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bomb = np.empty(1, dtype=object)
    bomb[0] = _Evil(marker)
    with path.open("wb") as f:
        np.savez(f, features=bomb, **arrays)


class _Extractor:
    identity = {"network": "test-mean-colour"}

    def __call__(self, images):
        return images.reshape(len(images), 3, -1).mean(-1).numpy().astype(np.float32)


def test_the_feature_cache_is_read_without_pickle_and_a_foreign_one_is_recomputed(tmp_path):
    """np.load(allow_pickle=False): the object array below would run its payload if unpickled."""
    from genbench.metrics.core.features import chunk_file, chunk_key, reference_features

    images = registry.get_dataset("shapes")().load("train", 16, 32, 0)
    path = tmp_path.joinpath(*chunk_file(chunk_key(_Extractor(), images), 0))
    marker = tmp_path / "pwned"
    for craft in (lambda: _pickled_npz(path, marker),  # pickled objects
                  lambda: np.savez(path, features=np.zeros((5, 3))),  # the wrong number of rows
                  lambda: path.write_bytes(b"PK\x03\x04 not a zip")):
        craft()
        feats, info = reference_features(_Extractor(), images, 32, tmp_path)
        assert not marker.exists() and info["cache"] == "miss" and feats.shape == (32, 3)
        assert reference_features(_Extractor(), images, 32, tmp_path)[1]["cache"] == "hit"  # replaced


def test_a_chance_cache_that_holds_no_number_is_recomputed(tmp_path):
    from genbench.api import DataInfo, EvalContext, EvalSettings
    from genbench.metrics.core.chance import _key, chance_level

    cls = registry.get_model("vae")
    model = cls(cls.Config(latent_dim=8, width=1 / 16, batch_size=8), DataInfo("shapes", 16, 64))
    ctx = EvalContext(model, None, None, None, torch.device("cpu"), 0, EvalSettings(8, None, tmp_path))
    path = tmp_path / "chance" / f"ncc-{_key('ncc', {'n': 1}, model)}.json"
    path.parent.mkdir()
    for text in ('{"value": "../0.9"}', '{"value": [1]}', '["value"]', "{"):
        path.write_text(text)
        assert chance_level(ctx, "ncc", {"n": 1}, lambda c: 0.25) == 0.25
        assert json.loads(path.read_text())["value"] == 0.25


def test_a_data_cache_that_is_not_genbench_s_is_rebuilt(tmp_path, monkeypatch):
    from PIL import Image

    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    for i in range(20):
        Image.new("RGB", (20, 20), (10 * i, 100, 200)).save(data / f"{i:03d}.png")
    monkeypatch.setenv("GENBENCH_DATA_CACHE", str(cache))
    ds = registry.get_dataset("folder")()
    first = ds.load("train", 16, None, 0, data_root=str(data))
    sidecar = next(cache.rglob("train-*.json"))
    npy = sidecar.with_suffix(".npy")
    marker = tmp_path / "pwned"
    key = json.loads(sidecar.read_text())["key"]
    for craft in (lambda: sidecar.write_text("[]"),
                  lambda: sidecar.write_text(json.dumps({"key": key, "count": 18, "names": 7, "errors": {},
                                                         "converted": {}})),
                  lambda: np.save(npy, np.array([_Evil(marker)], dtype=object), allow_pickle=True)):
        craft()
        again = ds.load("train", 16, None, 0, data_root=str(data))
        assert not marker.exists() and not again.meta["cache_hit"] and torch.equal(again.images, first.images)


# -- writes stay inside the output folder -------------------------------------------------------------
def _poison(obj, evil: list[str], i=None):
    """``obj`` with every string (not the keys) replaced by one of ``evil`` in turn."""
    i = i if i is not None else [0]
    if isinstance(obj, str):
        i[0] += 1
        return evil[i[0] % len(evil)]
    if isinstance(obj, dict):
        return {k: _poison(v, evil, i) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_poison(v, evil, i) for v in obj]
    return obj


def test_names_from_config_and_results_never_write_outside_the_output_folder(trained, tmp_path, cli):
    res, page = tmp_path / "res", tmp_path / "page"
    shutil.copytree(trained, res)
    evil = ["../../../escaped", str(tmp_path / "abs-escaped"), "a/b\\c/../../d", "..", "/", "x/../../../e"]
    for name in ("config.json", "results.json"):
        for f in res.rglob(name):
            f.write_text(json.dumps(_poison(json.loads(f.read_text()), evil)))
    before = _files(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = cli("report", "--results", str(res), "--out", str(page))
        assert code == 0 and "Traceback" not in out + err, err
        for run in sorted({p.parent for p in res.rglob("config.json")}):
            code, out, err = cli("tree", "--run", str(run), "--out", str(page / "tree.png"))
            assert code == 2 and "Traceback" not in out + err, err  # its model name is no model
        code, out, err = cli("table", "--results", str(res))
        assert code == 0 and "Traceback" not in out + err, err
    new = sorted(set(_files(tmp_path)) - set(before))
    assert new and all(Path(f).parent in (page, page / "images") for f in new), new
    images = sorted(p.name for p in (page / "images").iterdir())
    assert len(images) >= 4 and all(not n.startswith((".", "-")) and "/" not in n for n in images)
    md = (page / "report.md").read_text()
    assert all(f"(images/{n})" in md for n in images)  # each figure written is the one the page shows


def test_config_and_records_of_the_wrong_types_are_skipped_with_a_warning(trained, tmp_path, cli):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    cfg = res / "shapes" / "vae" / "tiny-seed0" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "seed": "0", "run": "x"}))
    rec = res / "shapes" / "ours" / "tiny-seed0" / "results.json"
    data = json.loads(rec.read_text())
    data["records"][0]["value"] = "../0.5"
    rec.write_text(json.dumps(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = cli("report", "--results", str(res), "--out", str(tmp_path / "page"))
    assert code == 0 and "Traceback" not in out + err, err
    said = sorted(str(w.message) for w in caught if str(w.message).startswith("skipped"))
    assert len(said) == 2 and str(cfg) in said[1] and str(rec) in said[0], said
    md = (tmp_path / "page" / "report.md").read_text()
    assert "ours · seed 0" in md and "vae · seed 0" not in md


# -- text is text ---------------------------------------------------------------------------------------
MARKUP = ["[/x]", "[bold]b", "[link=https://evil.example]l"]


def test_names_with_brackets_print_literally_in_errors(cli, tmp_path):
    from test_bad_input import refused

    refused(*cli("run", "--models", "[/x]", "--results", str(tmp_path / "r")), "Unknown model '[/x]'")
    refused(*cli("run", "--models", "vae", "--dataset", "[bold]b", "--results", str(tmp_path / "r")),
            "Unknown dataset '[bold]b'")
    refused(*cli("table", "--results", str(tmp_path / "[link=evil.example]l")), "[link=evil.example]l' does not exist")


def test_names_with_brackets_print_literally_in_progress_lines_and_tables(cli, tmp_path, clean_manual_registry):
    registry.register_model("[bold]m")(type("Bracketed", (registry.get_model("vae"),), {}))
    res = tmp_path / "r[/x]"  # a path with a closing tag in it
    args = ["run", "--models", "[bold]m", "--results", str(res), "--preset", "tiny", "--metrics", "swd",
            "--device", "cpu"]
    code, out, err = cli(*args, "--steps", "2")  # with the progress bar
    assert code == 0 and "Traceback" not in out + err, out + err
    assert "[bold]m: trained steps 0->2" in out and "[bold]m" in out.split("trained steps")[1]  # and the table
    code, out, err = cli(*args, "--steps", "3", "--no-progress")
    assert code == 0, err
    assert f"[bold]m: resuming from step 2 ({res}" in out.replace("\n", "")


def test_names_from_results_json_print_literally_in_tables_and_the_report(trained, tmp_path, cli):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    for f in res.rglob("results.json"):
        data = json.loads(f.read_text())
        for r in data["records"]:
            r.update(model=MARKUP[0] if "vae" in str(f) else r["model"], dataset=MARKUP[2], metric=MARKUP[1])
        f.write_text(json.dumps(data))
    code, out, err = cli("table", "--results", str(res))
    assert code == 0 and "Traceback" not in out + err, err
    flat = out.replace("\n", "")
    assert all(m in flat for m in MARKUP), out
    code, out, err = cli("table", "--results", str(res), "--format", "md")
    assert code == 0 and r"\[/x\]" in out and r"\[bold\]b" in out and "[link=" not in out.replace(r"\[link=", "")
    code, out, err = cli("report", "--results", str(res), "--out", str(tmp_path / "page"))
    assert code == 0, err
    md = (tmp_path / "page" / "report.md").read_text()
    assert r"\[link=https://evil.example\]l" in md and "[link=" not in md.replace(r"\[link=", "")
    page = (tmp_path / "page" / "report.html").read_text()
    assert "[link=https://evil.example]l" in page and "<a " not in page  # HTML stays escaped
