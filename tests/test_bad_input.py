"""The catalogue of bad input (issue 13): each case is one sentence on stderr, exit code 2, no traceback,
and nothing half-written — the results folder is not created, or what it held is unchanged."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from PIL import Image

from genbench import registry
from genbench.api import Dataset, GenerativeModel, ImageSet, ModelConfig
from genbench.metrics.core.inception import FILENAMES
from genbench.store.runfolder import RunFolder

TINY = ["--preset", "tiny", "--no-progress", "--metrics", "swd"]


def refused(code: int, out: str, err: str, *words: str) -> str:
    """Assert the one-sentence refusal and return it."""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, out + err
    assert "Traceback" not in out + err
    assert len(errors) == 1 and errors[0].rstrip().endswith((".", "?")), err
    assert all(w in errors[0] for w in words), errors[0]
    return errors[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and p.name != ".lock"} if folder.exists() else {}


@pytest.mark.parametrize("args, words", [
    (["--models", "vea"], ["Unknown model 'vea'", "did you mean 'vae'?", "wgan"]),
    (["--models", "vae", "--dataset", "shapez"], ["Unknown dataset 'shapez'", "did you mean 'shapes'?"]),
    (["--models", "vae", "--metrics", "swdd"], ["Unknown metric 'swdd'", "did you mean 'swd'?"]),
    (["--models", "vae", "--set", "lrr=1"], ["'lrr'", "did you mean 'lr'?"]),
    (["--models", "vae", "--set", "vae.lr=fast"], ["vae.lr", "float"]),
    (["--models", "vae", "--steps", "-5"], ["steps = -5", "an integer >= 1"]),
    (["--models", "ours", "--set", "conv_frac=2"], ["conv_frac = 2.0", "(0, 1]"]),
    (["--models", "vae", "--set", "image_size=20"], ["image_size = 20", "8, 16, 32, 64"]),
    (["--models", "vae", "--set", "n_eval=0"], ["n_eval = 0"]),
])
def test_names_overrides_and_domains_are_refused_before_anything_runs(cli, tmp_path, args, words):
    res = tmp_path / "res"
    refused(*cli("run", *args, "--preset", "tiny", "--results", str(res), "--no-progress"), *words)
    assert not res.exists()


def _images(folder: Path, n: int, size=(20, 20)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", size, (10 * i % 255, 100, 200)).save(folder / f"{i:03d}.png")
    return folder


def test_data_folder_too_small_says_the_numbers(cli, tmp_path):
    res = tmp_path / "res"
    msg = refused(*cli("run", "--models", "vae", "--dataset", "folder", "--data-root",
                       str(_images(tmp_path / "one", 1)), "--results", str(res), *TINY),
                  "only 1 training image", "16")
    assert str(tmp_path / "one") in msg
    assert not res.exists()


def test_empty_and_undecodable_data_folders(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    refused(*cli("run", "--models", "vae", "--dataset", "folder", "--data-root", str(tmp_path / "empty"),
                 "--results", str(tmp_path / "res"), *TINY), "No images")
    junk = tmp_path / "junk"
    junk.mkdir()
    for i in range(3):
        (junk / f"{i}.png").write_bytes(b"not a png")
    refused(*cli("run", "--models", "vae", "--dataset", "folder", "--data-root", str(junk),
                 "--results", str(tmp_path / "res"), *TINY), "could be decoded")
    assert not (tmp_path / "res").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_data_folder(cli, tmp_path):
    folder = _images(tmp_path / "locked", 20)
    folder.chmod(0)
    try:
        refused(*cli("run", "--models", "vae", "--dataset", "folder", "--data-root", str(folder),
                     "--results", str(tmp_path / "res"), *TINY), str(folder))
    finally:
        folder.chmod(0o755)


def test_dataset_plugin_giving_images_of_the_wrong_size_or_type(cli, tmp_path, clean_manual_registry):
    class Odd(Dataset):
        description = "images of the wrong size"
        dtype = torch.uint8
        size = 12

        def load(self, split, image_size, n=None, seed=0, **options):
            return ImageSet(torch.zeros(n or 32, 3, self.size, self.size, dtype=self.dtype), "odd", split)

    registry.register_dataset("odd")(Odd)
    refused(*cli("run", "--models", "vae", "--dataset", "odd", "--results", str(tmp_path / "res"), *TINY),
            "Dataset 'odd'", "(256, 3, 12, 12)", "expected uint8 (N, 3, 16, 16)")
    Odd.size, Odd.dtype = 16, torch.float32
    refused(*cli("run", "--models", "vae", "--dataset", "odd", "--results", str(tmp_path / "res"), *TINY),
            "dtype torch.float32")
    assert not (tmp_path / "res").exists()


def _weights_file(tmp_path: Path, content: bytes) -> Path:
    f = tmp_path / FILENAMES[0]
    f.write_bytes(content)
    return f


@pytest.mark.parametrize("flags, words", [
    ([], ["Metric 'fid'", "not the published file"]),
    (["--allow-unverified-weights"], ["not a readable PyTorch file", "truncated"]),
])
def test_truncated_or_wrong_fid_weights_stop_before_training(cli, tmp_path, flags, words):
    buf = tmp_path / "full.pth"
    torch.save({"w": torch.zeros(1000)}, buf)
    truncated = _weights_file(tmp_path, buf.read_bytes()[:500])
    res = tmp_path / "res"
    refused(*cli("run", "--models", "vae", "--preset", "tiny", "--metrics", "fid", "--inception-weights",
                 str(truncated), *flags, "--results", str(res), "--no-progress"), *words)
    assert not res.exists()


@dataclass
class _Cfg(ModelConfig):
    pass


class _Broken(GenerativeModel):
    """A model plugin whose methods break one promise of the interface at a time."""

    Config = _Cfg
    provides = ("generator", "inferrer")
    fault = "shape"

    def __init__(self, config, data):
        super().__init__(config, data)
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.size = data.image_size

    def train_step(self, batches, step):
        return {"loss": 0.0}

    def generate(self, z):
        size = self.size // 2 if self.fault == "shape" else self.size
        x = torch.tanh(self.w + z[:, :1, None, None]).expand(-1, 3, size, size)
        return {"range": 5 * x, "dtype": (x > 0).to(torch.uint8)}.get(self.fault, x)

    def sample(self, n, seed=None, batch_size=256):  # a plugin may override sample, unclamped
        return self.generate(self.prior(n))

    def infer(self, x, index=None):
        z = torch.zeros(len(x), self.latent_dim, device=x.device)
        return z[:, :3] if self.fault == "latent" else z


@pytest.mark.parametrize("fault, words", [
    ("shape", ["sample(2) returned shape (2, 3, 8, 8), expected shape (2, 3, 16, 16)"]),
    ("range", ["expected [-1, 1]"]),
    ("dtype", ["dtype torch.uint8"]),
    ("latent", ["infer(x) returned shape (2, 3)", "latent_dim"]),
])
def test_plugin_breaking_the_interface_is_named_before_training(cli, tmp_path, clean_manual_registry, fault, words):
    registry.register_model("broken")(type("Broken", (_Broken,), {"fault": fault}))
    res = tmp_path / "res"
    refused(*cli("run", "--models", "vae,broken", "--results", str(res), *TINY),
            "Model plugin 'broken' (from in-process register_model) breaks the genbench interface", *words)
    assert not res.exists()  # vae, listed first, did not train either


def test_results_folder_that_cannot_be_written(cli, tmp_path):
    (tmp_path / "afile").write_text("x")
    refused(*cli("run", "--models", "vae", "--results", str(tmp_path / "afile" / "res"), *TINY),
            "cannot be written", "--results")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_results_folder_without_write_permission(cli, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(*cli("run", "--models", "vae", "--results", str(ro), *TINY), "cannot be written")
        refused(*cli("run", "--models", "vae", "--results", str(ro / "sub"), *TINY), "cannot be written")
    finally:
        ro.chmod(0o755)


def _tiny_run(tmp_path_factory, model: str):
    """A results folder with one tiny run of ``model`` (2 steps)."""
    from genbench.cli import main

    res = tmp_path_factory.mktemp(model)
    try:
        main(["run", "--models", model, "--steps", "2", "--results", str(res), *TINY])
    except SystemExit as exc:  # pragma: no cover - shows in the assertions
        assert exc.code in (0, None)
    return res


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _tiny_run(tmp_path_factory, "vae")


def test_corrupt_results_record_is_skipped_with_one_warning(cli, trained, tmp_path):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    bad = res / "shapes" / "wgan" / "tiny-seed0" / "results.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"run": {}, "records": [{"metric": ')  # cut off mid-write by something else
    alien = res / "other" / "thing" / "v1" / "results.json"  # a foreign file where a run folder's would be
    alien.parent.mkdir(parents=True)
    alien.write_text('["not", "ours"]')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = cli("table", "--results", str(res), "--format", "csv", "--metric", "swd")
    assert code == 0 and out.splitlines()[0] == "swd,vae,Δ" and "Traceback" not in err
    warned = sorted(str(w.message) for w in caught)
    assert len(warned) == 2 and str(alien) in warned[0] and str(bad) in warned[1], warned
    assert all(w.startswith("skipped ") and "\n" not in w for w in warned)


def test_checkpoint_that_does_not_load(cli, trained, tmp_path):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    run = res / "shapes" / "vae" / "tiny-seed0"
    (run / "checkpoint.pt").write_bytes(b"\x00garbage")
    before = snapshot(res)
    refused(*cli("run", "--models", "vae", "--steps", "4", "--results", str(res), *TINY),
            "checkpoint.pt cannot be read", "--fresh")
    assert snapshot(res) == before

    # a readable checkpoint of another model (a different state) under the same config
    state = torch.load(trained / "shapes" / "vae" / "tiny-seed0" / "checkpoint.pt", weights_only=False)
    state["model"]["model"] = {"nonsense": torch.zeros(1)}
    torch.save(state, run / "checkpoint.pt")
    before = snapshot(res)
    refused(*cli("run", "--models", "vae", "--steps", "4", "--results", str(res), *TINY),
            "does not fit this model", "--fresh")
    assert snapshot(res) == before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = cli("run", "--models", "vae", "--steps", "4", "--results", str(res), "--fresh", *TINY)
    assert code == 0, err
    assert json.loads((run / "results.json").read_text())["run"]["step"] == 4


# -- issue 20: what probing genbench as an attacker would found besides -----------------------------------
@pytest.mark.parametrize("toml, words", [
    ("lrr = 1\n", ["--config: lrr", "did you mean 'lr'?"]),
    ("[vea]\nlr = 1\n", ["table [vea] is not one of the models in this run", "did you mean 'vae'?"]),
    ("[wgan]\nlr = 1\n", ["table [wgan] is not one of the models in this run (vae)"]),
    ("[vae]\nlrr = 1\n", ["[vae] lrr: model 'vae' has no setting 'lrr'", "did you mean 'lr'?"]),
    ("[vae]\nlr = 'fast'\n", ["--config vae.lr=fast", "float"]),
])
def test_unknown_keys_and_tables_in_a_config_file_are_refused_like_set(cli, tmp_path, toml, words):
    (tmp_path / "c.toml").write_text(toml)
    res = tmp_path / "res"
    refused(*cli("run", "--models", "vae", "--config", str(tmp_path / "c.toml"), "--results", str(res), *TINY), *words)
    assert not res.exists()


def test_a_symlink_loop_in_a_data_folder_lists_each_image_once(tmp_path, monkeypatch):
    from genbench.datasets.imagefolder import DataWarning

    monkeypatch.setenv("GENBENCH_DATA_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    _images(root / "sub", 30)
    (root / "sub" / "loop").symlink_to("..")  # data/sub/loop/sub/loop/... is data again
    (root / "again.png").symlink_to(root / "sub" / "007.png")  # and one image under a second name
    ds = registry.get_dataset("folder")()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = ds.load("train", 16, None, 0, data_root=str(root))
        heldout = ds.load("heldout", 16, None, 0, data_root=str(root))
    names = train.meta["names"] + heldout.meta["names"]
    assert len(names) == len(set(names)) == 30 and not set(train.meta["names"]) & set(heldout.meta["names"])
    said = {str(w.message) for w in caught if issubclass(w.category, DataWarning)}
    assert any("symbolic links" in m and "each image is used once" in m for m in said), said


@pytest.mark.parametrize("device", ["tpu", "", "meta", "cuda:99"]
                         + ([] if torch.backends.mps.is_available() else ["mps"]))
def test_an_unknown_or_empty_device_is_refused(cli, tmp_path, device):
    res = tmp_path / "res"
    refused(*cli("run", "--models", "vae", "--device", device, "--results", str(res), *TINY), "--device")
    assert not res.exists()


def test_a_results_json_of_the_wrong_shape_is_refused_by_run(cli, trained, tmp_path):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    bad = res / "shapes" / "vae" / "tiny-seed0" / "results.json"
    for text in ('["not", "ours"]', '{"run": {}, "records": [{"dataset": 1}]}'):
        bad.write_text(text)
        before = snapshot(res)
        refused(*cli("run", "--models", "vae", "--steps", "4", "--results", str(res), *TINY),
                str(bad), "is damaged or not genbench's", "--fresh")
        assert snapshot(res) == before
    code, _, err = cli("run", "--models", "vae", "--steps", "4", "--results", str(res), "--fresh", *TINY)
    assert code == 0, err


@pytest.fixture(scope="module")
def trained_renderer(tmp_path_factory):
    return _tiny_run(tmp_path_factory, "ours")


def test_a_checkpoint_that_does_not_fit_the_model_in_tree_and_report(cli, trained, trained_renderer, tmp_path):
    res = tmp_path / "res"
    shutil.copytree(trained_renderer, res)
    run = res / "shapes" / "ours" / "tiny-seed0"
    good = RunFolder(run).load_checkpoint()
    vae = RunFolder(trained / "shapes" / "vae" / "tiny-seed0").load_checkpoint()
    for state, words in ((vae, "does not fit model 'ours'"), ({**good, "data": {"bogus": 1}}, "does not fit"),
                         ({**good, "data": {**good["data"], "image_size": "16"}}, "does not fit"),
                         ([1, 2], "cannot be read")):
        torch.save(state, run / "checkpoint.pt")
        refused(*cli("tree", "--run", str(run), "--out", str(tmp_path / "t.png")), words, "checkpoint.pt")
        assert not (tmp_path / "t.png").exists()
    code, out, err = cli("report", "--results", str(res), "--out", str(tmp_path / "page"))
    assert code == 0 and "Traceback" not in out + err, err
    assert "no AND-OR tree: Checkpoint" in (tmp_path / "page" / "report.md").read_text()


def test_a_report_folder_that_cannot_be_written(cli, trained, tmp_path):
    (tmp_path / "afile").write_text("x")
    before = snapshot(trained)
    refused(*cli("report", "--results", str(trained), "--out", str(tmp_path / "afile" / "page")),
            "Report folder", "cannot be written", "--out")
    assert snapshot(trained) == before and (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("env, words", [
    ({"GENBENCH_DIST_TIMEOUT_MIN": "four hours"}, ["GENBENCH_DIST_TIMEOUT_MIN='four hours'", "minutes"]),
    ({"GENBENCH_DIST_TIMEOUT_MIN": "-5"}, ["GENBENCH_DIST_TIMEOUT_MIN='-5'"]),
    ({"RANK": "first"}, ["$RANK='first' is not a process number", "torchrun"]),
])
def test_torchrun_settings_that_are_not_numbers(cli, tmp_path, monkeypatch, env, words):
    from genbench.run import distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1")  # nothing listens: joining would fail, not hang, if it were tried
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    res = tmp_path / "res"
    refused(*cli("run", "--models", "vae", "--results", str(res), "--device", "cpu", *TINY), *words)
    assert distributed.current() is None and not res.exists()


@pytest.mark.parametrize("field", ["models", "datasets", "seeds", "metrics"])
def test_empty_lists_are_refused_not_replaced_by_the_default(tmp_path, field):
    from genbench.errors import GenbenchError
    from genbench.run.plan import RunOptions, make_plan

    options = RunOptions(["vae"], preset="tiny", results=tmp_path / "res")
    setattr(options, field, [])
    with pytest.raises(GenbenchError, match=f"--{field} is empty; name at least one"):
        make_plan(options)
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("args, words", [
    (["run", "--models", "vae", "--seeds", ""], ["--seeds is empty"]),
    (["run", "--models", "vae", "--datasets", ","], ["No datasets given"]),
    (["run", "--models", "vae", "--metrics", ""], ["No metrics given"]),
    (["report", "--figure-seeds", ""], ["--figure-seeds is empty"]),
    (["run", "--models", "vae", "--seed", str(2**32)], ["--seed 4294967296 is outside 0..4294967295", "repeat"]),
    (["run", "--models", "vae", "--seeds", f"0,{2**32 + 1}"], ["--seeds 4294967297 is outside"]),
    (["run", "--models", "vae", "--seed", "-1"], ["--seed -1 is outside"]),
])
def test_empty_lists_and_seeds_numpy_cannot_tell_apart(cli, tmp_path, args, words):
    res = tmp_path / "res"
    refused(*cli(*args, "--results", str(res)), *words)
    assert not res.exists()


def test_a_file_where_a_folder_is_wanted_is_called_a_file(cli, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    refused(*cli("table", "--results", str(afile)), f"'{afile}' is a file, not a folder")
    refused(*cli("report", "--results", str(afile)), f"'{afile}' is a file, not a folder")
    refused(*cli("run", "--models", "vae", "--dataset", "folder", "--data-root", str(afile), "--results",
                 str(tmp_path / "res"), *TINY), f"{afile} is a file, not a folder")
    refused(*cli("run", "--models", "vae", "--config", str(tmp_path), "--results", str(tmp_path / "res"), *TINY),
            f"{tmp_path} is a folder, not a file")
    refused(*cli("run", "--models", "vae", "--metrics", "fid", "--inception-weights", str(tmp_path), "--preset",
                 "tiny", "--results", str(tmp_path / "res")), f"{tmp_path} (from --inception-weights) is a folder")
    assert not (tmp_path / "res").exists()
