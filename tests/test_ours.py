"""The paper's model (plugins/ours.py): S of Eqn. 6, Langevin inference, Algorithm 1's training,
checkpointed latent bank, the sparsity metric and `genbench tree`. Tiny configs only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from genbench import registry
from genbench.api import DataInfo, EvalContext, EvalSettings
from genbench.cli import main
from genbench.errors import GenbenchError
from genbench.io import write_json
from genbench.present.tree import tree_figure
from genbench.run.config import resolve
from genbench.run.trainer import Schedule, train
from genbench.sparsity import channel_topk_mask, spatial_topk_mask
from genbench.store.runconfig import RunConfig, RunSettings
from genbench.store.runfolder import CHECKPOINT, CONFIG, RunFolder

N_TRAIN = 32


# -- S(.; k), Eqn. 6 ------------------------------------------------------------------------------
def _relu_input(seed: int = 0) -> torch.Tensor:
    return torch.relu(torch.randn(3, 20, 4, 4, generator=torch.Generator().manual_seed(seed)))


def test_channel_topk_keeps_k_largest_channels_per_position():
    x, k = _relu_input(), 5
    mask = channel_topk_mask(x, k)
    assert torch.all(mask.sum(dim=1) == k)  # per sample and position, over channels
    kept_min = torch.where(mask.bool(), x, torch.inf).amin(dim=1)
    dropped_max = torch.where(mask.bool(), -torch.inf, x).amax(dim=1)
    assert torch.all(kept_min >= dropped_max)


def test_spatial_topk_keeps_k_largest_positions_per_channel():
    x, k = _relu_input(1), 4  # k = HW / 4, Table 1
    mask = spatial_topk_mask(x, k).flatten(2)
    assert torch.all(mask.sum(dim=2) == k)  # per sample and channel, over positions
    flat = x.flatten(2)
    kept_min = torch.where(mask.bool(), flat, torch.inf).amin(dim=2)
    dropped_max = torch.where(mask.bool(), -torch.inf, flat).amax(dim=2)
    assert torch.all(kept_min >= dropped_max)


@pytest.mark.parametrize("mask_fn", [channel_topk_mask, spatial_topk_mask])
def test_gradient_reaches_only_kept_units(mask_fn):
    x = _relu_input(2).requires_grad_(True)
    weights = torch.randn(x.shape)
    (x * mask_fn(x, 4) * weights).sum().backward()  # S(x; k) = x * mask, as the backbones apply it
    mask = mask_fn(x.detach(), 4)
    assert torch.equal(x.grad, weights * mask)
    assert torch.all(x.grad[mask == 0] == 0) and torch.all(x.grad[mask == 1] != 0)


# -- the model ----------------------------------------------------------------------------------
def _model(name: str = "ours", n_train: int = N_TRAIN, **sets):
    cls = registry.get_model(name)
    run, cfgs = resolve("tiny", [name], {name: cls}, sets={k: str(v) for k, v in sets.items()})
    torch.manual_seed(0)
    return cls(cfgs[name], DataInfo("shapes", run.image_size, n_train)), run


@pytest.fixture(scope="module")
def shapes():
    return registry.get_dataset("shapes")().load("train", 16, N_TRAIN, 0)


def test_variants_share_one_implementation_with_flags():
    caps = {n: set(registry.get_model(n).provides) for n in ("ours", "ours-dense", "abp", "abp-sparse")}
    assert caps["ours"] == caps["ours-dense"] == {"generator", "inferrer", "critic", "renderer", "tracer"}
    assert caps["abp"] == caps["abp-sparse"] == {"generator", "inferrer", "renderer", "tracer"}
    ours, _ = _model("ours")
    abp, _ = _model("abp")
    assert ours.generator.sparsity is not None and ours.generator.fc_k == 8
    assert abp.generator.sparsity is None and not hasattr(abp, "critic")
    assert ours.bank.shape == (N_TRAIN, 100) and "bank" in ours.state_dict()


def test_small_preset_scales_k_and_separates_the_critic_optimiser():
    cls = registry.get_model("ours")
    _, cfgs = resolve("small", ["ours"], {"ours": cls})
    cfg = cfgs["ours"]
    model = cls(cfg, DataInfo("shapes", 32, 4000))
    g = model.generator
    assert (g.c0, g.fc_k) == (400, 32)  # width 1/8: 32 of 400 FC channels per position
    assert [b.k for b in g.blocks] == [32, 128, None]  # half of the 8x8 and 16x16 maps; output block dense
    (gen_group,), (critic_group,) = model.optimizers["g"].param_groups, model.optimizers["f"].param_groups
    assert (gen_group["lr"], gen_group["betas"]) == (cfg.lr, (cfg.beta1, cfg.beta2)) == (5e-3, (0.9, 0.99))
    assert (critic_group["lr"], critic_group["betas"]) == (5e-3, (0.5, 0.99))
    assert model.bank.std().item() == pytest.approx(cfg.bank_std, rel=0.05)  # chains start at 0.1 N(0, I)
    paper, _ = _model("ours", bank_std=1.0)
    assert paper.bank.std().item() == pytest.approx(1.0, rel=0.1) and paper.generator.fc_k == 8
    assert paper.optimizers["f"].param_groups[0]["lr"] == 7e-4  # A's value outside the small preset


def test_langevin_lowers_posterior_energy(shapes):
    model, _ = _model("ours")
    y = shapes.as_float(slice(0, 16))
    energy = model.posterior_energy(y)
    z0 = model.bank[:16].clone()
    from genbench.langevin import langevin

    torch.manual_seed(1)
    z = langevin(z0, energy, model.config.delta, 10)
    with torch.no_grad():
        before, after = energy(z0), energy(z)
    assert after.mean() < before.mean()


def test_langevin_reports_each_step_s_energies_without_changing_its_chains(shapes):
    model, _ = _model("ours")
    energy, z0 = model.posterior_energy(shapes.as_float(slice(0, 8))), model.bank[:8].clone()
    from genbench.langevin import langevin

    energies: list[torch.Tensor] = []
    plain = langevin(z0, energy, 0.1, 3, generator=torch.Generator().manual_seed(1))
    watched = langevin(z0, energy, 0.1, 3, generator=torch.Generator().manual_seed(1), energies=energies)
    assert torch.equal(plain, watched) and len(energies) == 3
    with torch.no_grad():
        assert torch.equal(energies[0], energy(z0)) and not energies[0].requires_grad


def test_langevin_diagnostics_change_no_training_number(shapes, monkeypatch):
    """ours reports the chains' energy, latent norm and SSE before and after; training with them is bit for bit
    training without them (the same losses, parameters, chains), and the diagnostics agree with the step's own
    values: the SSE after is ``mse``, the norm after ``z_norm``, the energy after that SSE plus the prior term."""
    from genbench.run.trainer import BatchStream

    def steps(diagnose: bool) -> tuple[list[dict], dict]:
        model, _ = _model("ours")
        monkeypatch.setattr(model, "langevin_diagnostics", diagnose)
        torch.manual_seed(3)
        stream = BatchStream(shapes, 16, torch.device("cpu"), 0)
        return [model.train_step(stream, s) for s in range(1, 5)], model.state_dict()

    (plain, state), (watched, state_w) = steps(False), steps(True)
    sigma2, numel = _model("ours")[0].config.sigma ** 2, 3 * 16 * 16
    diagnostics = {"z_norm_before", "mse_before", "energy_before", "energy_after"}
    for a, b in zip(plain, watched, strict=True):
        assert set(b) == set(a) | diagnostics and all(a[k] == b[k] for k in a)  # ==: bit for bit
        assert b["mse_before"] > 0 and b["z_norm_before"] > 0
        assert b["energy_after"] == pytest.approx(b["mse"] * numel / (2 * sigma2) + 0.5 * b["z_norm"] ** 2, rel=0.05)
    assert all(torch.equal(state[k], state_w[k]) for k in state)


def test_infer_works_under_no_grad_and_fits_better_than_its_start(shapes):
    model, _ = _model("abp-sparse")
    y = shapes.as_float(slice(0, 8))
    with torch.no_grad():
        z_seen = model.infer(y, torch.arange(8))
        z_new = model.infer(y)
        energy = model.posterior_energy(y)
        assert energy(z_seen).mean() < energy(model.bank[:8]).mean()
        start = model.prior(8, torch.Generator().manual_seed(0))  # unseen images' fixed start
        assert energy(z_new).mean() < energy(start).mean()
        assert model.reconstruct(y, torch.arange(8)).shape == y.shape


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shapes):
    """A tiny `ours` run folder (as `genbench run` writes it) trained for 30 steps."""
    model, run = _model("ours", steps=30)
    run_dir = tmp_path_factory.mktemp("runs") / "ours"
    config = RunConfig("shapes", "tiny", 0, "ours", dataclasses.replace(run, n_train=N_TRAIN),
                       model.config.to_dict())
    x, idx = shapes.as_float(slice(0, 16)), torch.arange(16)
    mse_before = (model.reconstruct(x, idx) - x).pow(2).mean().item()
    bank_before = model.bank.clone()
    res = train(model, shapes, RunFolder(run_dir), Schedule(0, ckpt_every=100, sample_every=100, log_every=10),
                config, progress=False)
    mse_after = (model.reconstruct(x, idx) - x).pow(2).mean().item()
    return {"model": model, "run_dir": run_dir, "config": config, "res": res, "mse": (mse_before, mse_after),
            "bank_before": bank_before}


def test_tiny_training_lowers_reconstruction_error(trained):
    assert trained["res"].status == "finished" and trained["res"].step == 30
    before, after = trained["mse"]
    assert after < 0.8 * before, trained["mse"]


def test_checkpoint_keeps_the_latent_bank_and_resume_continues(trained, shapes):
    model, run_dir = trained["model"], trained["run_dir"]
    assert not torch.equal(model.bank, trained["bank_before"])  # the chains moved and were written back
    state = RunFolder(run_dir).load_checkpoint()["model"]
    rebuilt, _ = RunFolder(run_dir).load_model()  # as `genbench tree` does: the DataInfo saved in the checkpoint
    assert torch.equal(rebuilt.bank, model.bank)
    fresh, _ = _model("ours", n_train=N_TRAIN, steps=32)
    fresh.load_training_state(state)
    assert torch.equal(fresh.bank, model.bank)
    res = train(fresh, shapes, RunFolder(run_dir), Schedule(0, ckpt_every=100, sample_every=100, log_every=10),
                dataclasses.replace(trained["config"], model=fresh.config.to_dict()), progress=False)
    assert res.resumed_from == 30 and res.step == 32


def test_sparsity_metric_reports_each_layer_within_the_topk_budget(trained):
    model = trained["model"]
    ctx = EvalContext(model, None, None, None, torch.device("cpu"), 0, EvalSettings(32))
    scores = {s.name: s.value for s in registry.get_metric("sparsity")().compute(ctx)}
    assert set(scores) == {"sparsity_fc", "sparsity_b8", "sparsity_b16"}
    assert 0 < scores["sparsity_fc"] <= model.generator.fc_k / model.generator.c0 + 1e-6
    assert 0 < scores["sparsity_b8"] <= 0.25 + 1e-6  # k = HW/4 per channel
    dense, _ = _model("abp")
    scores_dense = {s.name: s.value for s in registry.get_metric("sparsity")().compute(
        dataclasses.replace(ctx, model=dense))}
    assert scores_dense["sparsity_fc"] > scores["sparsity_fc"]


# -- genbench tree --------------------------------------------------------------------------------
def test_tree_command_writes_a_png(trained, tmp_path):
    out = tmp_path / "tree.png"
    main(["tree", "--run", str(trained["run_dir"]), "--sample", "3", "--out", str(out)])
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width > 400 and img.height > 400
        assert len(np.unique(np.asarray(img.convert("L")))) > 20  # renders, not a blank canvas


def test_tree_refuses_missing_and_non_renderer_runs(tmp_path):
    with pytest.raises(GenbenchError, match="not a genbench run folder"):
        tree_figure(tmp_path / "nowhere")
    write_json(tmp_path / CONFIG, RunConfig("shapes", "tiny", 0, "vae", RunSettings(image_size=16), {}).to_json())
    with pytest.raises(GenbenchError, match="not a renderer"):
        tree_figure(tmp_path)
    write_json(tmp_path / CONFIG, RunConfig("shapes", "tiny", 0, "ours", RunSettings(image_size=16), {}).to_json())
    assert not (tmp_path / CHECKPOINT).exists()
    with pytest.raises(GenbenchError, match="no checkpoint.pt"):
        tree_figure(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["tree", "--run", str(tmp_path / "nowhere")])
    assert exc.value.code == 2
