"""`genbench eval` and `genbench stats`: images and generators made elsewhere get rows in the same tables,
under the same protocol ids; bad input is one sentence."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from test_bad_input import refused, snapshot

from genbench.store.runfolder import RunFolder, load_records

METRICS = "swd,fd_rand,kid_rand,prdc_rand"
EVAL = ["--preset", "tiny", "--device", "cpu", "--metrics", METRICS]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny wgan run and the uint8 images of exactly the samples its feature metrics scored."""
    from genbench.cli import main

    res = tmp_path_factory.mktemp("results")
    main(["run", "--models", "wgan", "--preset", "tiny", "--steps", "10", "--metrics", METRICS, "--results",
          str(res), "--no-progress", "--device", "cpu"])
    model, _ = RunFolder.of(res, "shapes", "wgan", "tiny", 0).load_model()
    x = torch.cat(list(model.sample_chunks(64, seed=0)))  # the 64 samples fd_rand, kid_rand and prdc_rand score
    images = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return res, images


class LinearGen(torch.nn.Module):
    """A seeded generator made elsewhere: latents (N, 8) -> tanh of a linear map, images (N, 3, size, size)."""

    def __init__(self, size: int):
        super().__init__()
        torch.manual_seed(0)
        self.size = size
        self.lin = torch.nn.Linear(8, 3 * size * size)

    def forward(self, z):
        return torch.tanh(self.lin(z)).view(-1, 3, self.size, self.size)


def _row(results, name):
    df = load_records(results)
    d = df[df["model"] == name]
    return dict(zip(d["metric"], d["value"], strict=True)), dict(zip(d["metric"], d["protocol_id"], strict=True))


def _pngs(folder, images):
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return folder


def test_a_folder_of_a_runs_samples_scores_like_the_run(trained, tmp_path, cli):
    res, images = trained
    out = tmp_path / "results"
    shutil.copytree(res, out)
    code, stdout, err = cli("eval", "--images", str(_pngs(tmp_path / "samples", images)), "--name", "wgan-pngs",
                            "--results", str(out), *EVAL)
    assert code == 0, err
    own, own_pid = _row(out, "wgan")
    ext, ext_pid = _row(out, "wgan-pngs")
    for m in ("fd_rand", "kid_rand", "precision_rand", "recall_rand", "density_rand", "coverage_rand"):
        assert ext_pid[m] == own_pid[m], m  # the same protocol: the two rows are comparable
    # the only difference is the uint8 rounding of the samples
    assert ext["fd_rand"] == pytest.approx(own["fd_rand"], rel=0.02)
    assert ext["coverage_rand"] == pytest.approx(own["coverage_rand"], abs=0.05)
    assert "wgan-pngs" in stdout
    cfg = json.loads((out / "shapes" / "wgan-pngs" / "tiny-seed0" / "config.json").read_text())
    assert cfg["source"]["kind"] == "folder" and cfg["source"]["count"] == 64 and len(cfg["source"]["sha256"]) == 64


def test_an_npz_in_either_layout_scores_exactly_as_the_same_pngs(trained, tmp_path, cli):
    _, images = trained
    res = tmp_path / "results"
    np.savez(tmp_path / "nhwc.npz", samples=images.permute(0, 2, 3, 1).numpy())
    np.savez(tmp_path / "nchw.npz", x=images.numpy(), other=np.zeros(3))
    assert cli("eval", "--images", str(_pngs(tmp_path / "pngs", images)), "--results", str(res), *EVAL)[0] == 0
    assert cli("eval", "--images", str(tmp_path / "nhwc.npz"), "--results", str(res), *EVAL)[0] == 0
    code, _, err = cli("eval", "--images", str(tmp_path / "nchw.npz"), "--key", "x", "--results", str(res), *EVAL)
    assert code == 0, err
    pngs, nhwc, nchw = _row(res, "pngs")[0], _row(res, "nhwc")[0], _row(res, "nchw")[0]
    assert pngs == nhwc == nchw  # PNG is lossless: the same pixels, the same numbers


def test_the_calibration_row_beats_an_undertrained_model_and_reads_as_a_perfect_model(trained, tmp_path, cli):
    res, _ = trained
    out = tmp_path / "results"
    shutil.copytree(res, out)
    code, _, err = cli("eval", "--real", "heldout", "--results", str(out), *EVAL)
    assert code == 0, err
    real, _ = _row(out, "real-heldout")
    wgan, _ = _row(out, "wgan")
    # held-out images of the same distribution: high precision/recall, density about 1, coverage about
    # 1 - 2^-5 (measured at tiny: 0.98, 0.95, 1.07, 0.95); a 10-step wgan is far off on all of them
    assert real["precision_rand"] > 0.8 and real["recall_rand"] > 0.8 and real["coverage_rand"] > 0.8
    assert 0.7 < real["density_rand"] < 1.3
    for m in ("precision_rand", "recall_rand", "coverage_rand"):
        assert real[m] > wgan[m] + 0.3, m
    assert real["fd_rand"] < wgan["fd_rand"] / 5 and real["swd"] < wgan["swd"]
    code, _, err = cli("report", "--results", str(out), "--out", str(tmp_path / "page"))
    page = (tmp_path / "page" / "report.md").read_text()
    assert code == 0 and "| real-heldout |" in page and "64 images from real shapes:heldout" in page, err


def test_a_torchscript_generator_is_sampled_under_the_seed(tmp_path, cli):
    path = tmp_path / "gen.pt"
    torch.jit.save(torch.jit.script(LinearGen(32)), str(path))  # 32x32: brought to tiny's 16x16
    res = tmp_path / "results"
    for name in ("a", "b"):
        code, _, err = cli("eval", "--generator", str(path), "--latent-dim", "8", "--name", name, "--results",
                           str(res), *EVAL)
        assert code == 0, err
    a, b = _row(res, "a")[0], _row(res, "b")[0]
    assert a == b and np.isfinite(a["fd_rand"])  # the same seed, the same samples
    code, _, err = cli("eval", "--generator", str(path), "--latent-dim", "8", "--name", "c", "--seed", "1",
                       "--results", str(res), *EVAL)
    assert code == 0 and _row(res, "c")[0]["fd_rand"] != a["fd_rand"]


def test_python_evaluate_returns_the_records(tmp_path):
    import genbench

    rng = np.random.default_rng(0)
    records = genbench.evaluate(rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8), "shapes", ["swd", "mse"],
                                name="noise", preset="tiny", results=tmp_path, device="cpu")
    by = {r.metric: r for r in records}
    assert by["swd"].status == "warn" and "fewer than" in by["swd"].note  # 40 images < the protocol's 64
    assert by["mse"].status == "n/a"  # images cannot be inferred
    assert (tmp_path / "shapes" / "noise" / "tiny-seed0" / "results.json").is_file()


def test_non_square_images_are_cropped_with_one_warning(tmp_path, cli):
    rng = np.random.default_rng(0)
    folder = tmp_path / "wide"
    folder.mkdir()
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    with pytest.warns(RuntimeWarning, match="not square") as caught:
        code, _, err = cli("eval", "--images", str(folder), "--results", str(tmp_path / "r"), *EVAL)
    assert code == 0, err
    squares = [str(w.message) for w in caught if "not square" in str(w.message)]
    assert len(squares) == 1 and "20 of 20 images" in squares[0] and "centred square" in squares[0]


def _bad_inputs(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "x.npy", np.zeros(3))
    np.savez(tmp_path / "rank3.npz", x=np.zeros((4, 16, 16), np.uint8))
    np.savez(tmp_path / "int32.npz", x=np.zeros((4, 16, 16, 3), np.int32))
    np.savez(tmp_path / "range.npz", x=rng.normal(0, 3, (4, 16, 16, 3)).astype(np.float32))
    np.savez(tmp_path / "two.npz", a=np.zeros((4, 16, 16, 3), np.uint8), b=np.zeros((4, 16, 16, 3), np.uint8))
    (tmp_path / "junk.pt").write_bytes(b"not a torchscript file")
    torch.jit.save(torch.jit.script(torch.nn.Linear(8, 5)), str(tmp_path / "flat.pt"))
    return [
        (["--images", str(tmp_path / "nowhere")], ["does not exist"]),
        (["--images", str(tmp_path / "empty")], ["holds no image"]),
        (["--images", str(tmp_path / "x.npy")], ["cannot read as images"]),
        (["--images", str(tmp_path / "rank3.npz")], ["rank 4"]),
        (["--images", str(tmp_path / "int32.npz")], ["dtype int32"]),
        (["--images", str(tmp_path / "range.npz")], ["expected floats in [-1, 1]"]),
        (["--images", str(tmp_path / "two.npz")], ["--key"]),
        (["--generator", str(tmp_path / "junk.pt"), "--latent-dim", "8"], ["not a loadable TorchScript"]),
        (["--generator", str(tmp_path / "flat.pt"), "--latent-dim", "8"], ["cannot be scored", "shape"]),
        (["--generator", str(tmp_path / "flat.pt")], ["--latent-dim"]),
        (["--real", "heldout", "--name", "ours"], ["registered model"]),
        ([], ["exactly one of"]),
    ]


def test_bad_eval_input_is_one_sentence_and_writes_nothing(tmp_path, cli):
    res = tmp_path / "results"
    for args, words in _bad_inputs(tmp_path):
        code, out, err = cli("eval", *args, "--results", str(res), *EVAL)
        refused(code, out, err, *words)
        assert not [p for p in snapshot(res) if not p.startswith(".cache")], args  # no run folder written


def test_stats_files_give_pytorch_fids_distance_the_same_value(tmp_path, cli):
    from pytorch_fid.fid_score import calculate_frechet_distance

    from genbench.metrics.core.frechet import feature_stats
    from genbench.metrics.core.randcnn import RandCNNExtractor
    from genbench.registry import get_dataset

    res, out = tmp_path / "results", tmp_path / "shapes-tiny.npz"
    code, _, err = cli("stats", "--network", "rand", "--preset", "tiny", "--out", str(out), "--results", str(res),
                       "--device", "cpu")
    assert code == 0, err
    assert cli("eval", "--real", "heldout", "--results", str(res), *EVAL)[0] == 0
    fd_rand = _row(res, "real-heldout")[0]["fd_rand"]
    with np.load(out) as f:
        mu_r, sigma_r = f["mu"], f["sigma"]
    heldout = get_dataset("shapes")().load("heldout", 16, 64, 0)
    feats = RandCNNExtractor("cpu")(heldout.as_float()).astype(np.float32).astype(np.float64)
    mu_g, sigma_g = feature_stats(feats)
    assert calculate_frechet_distance(mu_g, sigma_g, mu_r, sigma_r) == pytest.approx(fd_rand, rel=1e-6)


def test_a_row_never_pairs_one_source_with_another_sources_scores(tmp_path, cli, monkeypatch):
    """The same --name with other images asks for --fresh; and an eval killed after it wrote the new source
    leaves no scores behind, so the rerun computes the new images' scores instead of reusing the old ones."""
    from genbench.eval import evaluation

    rng = np.random.default_rng(0)
    first, second = (tmp_path / "a.npz", tmp_path / "b.npz")
    np.savez(first, x=rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8))
    np.savez(second, x=np.full((64, 16, 16, 3), 128, dtype=np.uint8))
    res, clean = tmp_path / "results", tmp_path / "clean"
    args = ["--name", "row", *EVAL, "--metrics", "swd"]
    assert cli("eval", "--images", str(first), "--results", str(res), *args)[0] == 0
    old = _row(res, "row")[0]["swd"]
    before = snapshot(res)
    refused(*cli("eval", "--images", str(second), "--results", str(res), *args), "--fresh", "another source")
    assert snapshot(res) == before  # refused before anything was written

    def killed(*a, **k):
        raise KeyboardInterrupt  # the process dies while scoring the new images

    monkeypatch.setattr(evaluation, "evaluate_cell", killed)
    assert cli("eval", "--images", str(second), "--results", str(res), *args, "--fresh")[0] != 0
    assert not (res / "shapes" / "row" / "tiny-seed0" / "results.json").exists()  # no stale scores left
    monkeypatch.undo()
    assert cli("eval", "--images", str(second), "--results", str(res), *args)[0] == 0
    assert cli("eval", "--images", str(second), "--results", str(clean), *args)[0] == 0
    new = _row(res, "row")[0]["swd"]
    assert new == _row(clean, "row")[0]["swd"] and new != old
    cfg = json.loads((res / "shapes" / "row" / "tiny-seed0" / "config.json").read_text())
    assert cfg["source"]["path"] == str(second)


def _readme_export_recipe() -> str:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rest = text[text.index("`tests/test_eval.py` runs this recipe"):]
    body = rest[rest.index("```python"):].split("\n", 1)[1]
    return "\n".join(line.strip() for line in body[:body.index("```")].splitlines())


@pytest.mark.parametrize("dynamic", [True, False])
def test_an_exported_generator_scores_as_its_torchscript_twin(tmp_path, cli, monkeypatch, dynamic):
    """The README's torch.export recipe (and a program traced at one fixed batch size) scores exactly as the
    same generator saved as TorchScript."""
    g, latent_dim = LinearGen(16), 8
    monkeypatch.chdir(tmp_path)
    recipe = _readme_export_recipe()
    if not dynamic:
        recipe = recipe.replace(', dynamic_shapes=({0: torch.export.Dim("batch")},)', "")
    exec(recipe, {"torch": torch, "g": g, "latent_dim": latent_dim})
    torch.jit.save(torch.jit.script(g), str(tmp_path / "gen.pt"))
    res = tmp_path / "results"
    for path, name in (("gen.pt2", "exported"), ("gen.pt", "scripted")):
        code, _, err = cli("eval", "--generator", str(tmp_path / path), "--latent-dim", "8", "--name", name,
                           "--results", str(res), *EVAL)
        assert code == 0, err
    exported, scripted = _row(res, "exported")[0], _row(res, "scripted")[0]
    assert exported.keys() == scripted.keys() and all(
        exported[k] == pytest.approx(scripted[k], rel=1e-4, abs=1e-6) for k in exported)


def test_a_changed_generator_file_is_another_source(tmp_path, cli):
    path, res = tmp_path / "gen.pt", tmp_path / "results"
    args = ["--generator", str(path), "--latent-dim", "8", "--name", "g", "--results", str(res), *EVAL]
    torch.jit.save(torch.jit.script(LinearGen(16)), str(path))
    assert cli("eval", *args)[0] == 0
    retrained = LinearGen(16)
    with torch.no_grad():
        retrained.lin.bias.add_(0.5)
    torch.jit.save(torch.jit.script(retrained), str(path))  # the same path, another generator
    refused(*cli("eval", *args), "another source", "--fresh")
    assert cli("eval", *args, "--fresh")[0] == 0
