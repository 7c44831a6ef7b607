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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from genbench.cli import main

    res = tmp_path_factory.mktemp("trained")
    try:
        main(["run", "--models", "vae", "--steps", "2", "--results", str(res), *TINY])
    except SystemExit as exc:  # pragma: no cover - shows in the assertions
        assert exc.code in (0, None)
    return res


def test_corrupt_results_record_is_skipped_with_one_warning(cli, trained, tmp_path):
    res = tmp_path / "res"
    shutil.copytree(trained, res)
    bad = res / "shapes" / "wgan" / "tiny-seed0" / "results.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"run": {}, "records": [{"metric": ')  # cut off mid-write by something else
    alien = res / "other" / "results.json"
    alien.parent.mkdir()
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
