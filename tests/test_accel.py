"""--amp bf16 and --compile: each gives the float32 / eager run's numbers within a stated tolerance."""

from __future__ import annotations

import csv
import json
import os

import pytest
import torch

# Measured on tiny `ours` (CPU, 3 steps from the same initialisation): bf16 autocast moves the
# losses of order 1-20 (g_loss, mse, f_loss, z_norm) by at most 0.33%; the near-zero critic means
# (f_real, f_fake, f_gen) by about 3e-3 in absolute terms, which says nothing relative.
AMP_RTOL = 0.02
AMP_COMPARED = ("g_loss", "mse", "f_loss", "z_norm")
# torch.compile (inductor) changes only the order of floating-point operations: measured on CPU,
# the same losses agree to 4e-5 relative after 3 steps.
COMPILE_RTOL = 1e-3

COMPILE_ON_CPU = os.environ.get("GENBENCH_TEST_COMPILE") == "1"


def _losses(cli, results, device, *extra) -> list[dict[str, float]]:
    code, _, err = cli("run", "--models", "ours", "--preset", "tiny", "--steps", "3", "--set", "log_every=1",
                       "--metrics", "swd", "--device", device, "--results", str(results), "--no-progress", *extra)
    assert code == 0, err
    with (results / "shapes" / "ours" / "tiny-seed0" / "train_log.csv").open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _max_rel(a, b, keys) -> float:
    return max(abs(x[k] - y[k]) / abs(y[k]) for x, y in zip(a, b, strict=True) for k in keys)


def _check_amp(cli, tmp_path, device):
    ref = _losses(cli, tmp_path / "fp32", device)
    amp = _losses(cli, tmp_path / "bf16", device, "--amp", "bf16")
    assert len(ref) == len(amp) == 3
    err = _max_rel(amp, ref, AMP_COMPARED)
    assert 0 < err < AMP_RTOL, err  # not identical: autocast really ran in bf16
    cfg = json.loads((tmp_path / "bf16" / "shapes" / "ours" / "tiny-seed0" / "config.json").read_text())
    assert cfg["train"] == {"amp": "bf16"}  # a run records its precision (and resumes only under it)


def test_amp_bf16_on_cpu_follows_float32(cli, tmp_path):
    _check_amp(cli, tmp_path, "cpu")


@pytest.mark.gpu
def test_amp_bf16_on_cuda_follows_float32(cli, tmp_path):
    _check_amp(cli, tmp_path, "cuda")


def _check_compile(cli, tmp_path, device):
    ref = _losses(cli, tmp_path / "eager", device)
    comp = _losses(cli, tmp_path / "compiled", device, "--compile")
    assert _max_rel(comp, ref, AMP_COMPARED) < COMPILE_RTOL


@pytest.mark.skipif(not COMPILE_ON_CPU, reason="torch.compile on CPU compiles C++ for about 1.5 minutes, over "
                    "this suite's budget; GENBENCH_TEST_COMPILE=1 runs it (it passes here)")
def test_compile_on_cpu_gives_the_eager_numbers(cli, tmp_path):
    _check_compile(cli, tmp_path, "cpu")


@pytest.mark.gpu
def test_compile_on_cuda_gives_the_eager_numbers(cli, tmp_path):
    _check_compile(cli, tmp_path, "cuda")


@pytest.mark.gpu
def test_every_model_trains_on_cuda(cli, tmp_path):
    code, _, err = cli("run", "--models", "vae,dcgan,wgan,coopnet,cegan,ali,alice,ours", "--preset", "tiny",
                       "--steps", "3", "--metrics", "swd,mse", "--device", "cuda", "--results", str(tmp_path),
                       "--no-progress")
    assert code == 0, err
    ckpt = torch.load(tmp_path / "shapes" / "ours" / "tiny-seed0" / "checkpoint.pt", weights_only=False)
    assert ckpt["model"]["model"]["bank"].device.type == "cuda"
