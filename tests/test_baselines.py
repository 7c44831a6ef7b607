"""The baseline plugins (METHOD.md section 4): capabilities, tiny training runs, and each loss function
against a value computed by hand on a fixed tiny batch."""

from __future__ import annotations

import math

import pytest
import torch

from genbench import registry
from genbench.api import DataInfo, ImageSet, capabilities
from genbench.run.config import resolve
from genbench.run.trainer import BatchStream

SIZE = 16
BASELINES = ("vae", "dcgan", "wgan", "coopnet", "cegan", "ali", "alice")
EXPECTED_CAPABILITIES = {
    "vae": {"generator", "inferrer", "tracer"},
    "dcgan": {"generator"},
    "wgan": {"generator", "critic"},
    "coopnet": {"generator", "critic"},
    "cegan": {"generator", "critic"},
    "ali": {"generator", "inferrer", "tracer"},
    "alice": {"generator", "inferrer", "tracer"},
}


def _images(n: int = 64) -> ImageSet:
    """Structured images: one coloured square per image on a dark background, placed at random."""
    gen = torch.Generator().manual_seed(0)
    imgs = torch.full((n, 3, SIZE, SIZE), 20, dtype=torch.uint8)
    for i in range(n):
        s = int(torch.randint(4, 9, (1,), generator=gen))
        r, c = torch.randint(0, SIZE - s, (2,), generator=gen).tolist()
        imgs[i, :, r:r + s, c:c + s] = torch.randint(80, 256, (3, 1, 1), generator=gen).to(torch.uint8)
    return ImageSet(imgs, "squares")


def _model(name: str, **sets: str):
    cls = registry.get_model(name)
    _, configs = resolve("tiny", [name], {name: cls}, sets=sets)
    return cls(configs[name], DataInfo("squares", SIZE, 64))


def _train(name: str, steps: int, seed: int = 0, hold: tuple[str, ...] = (), **sets: str):
    """Train a tiny model; the optimizers named in ``hold`` get lr 0, so one player's objective is seen alone."""
    torch.manual_seed(seed)
    model = _model(name, **sets)
    for key in hold:
        for group in model.optimizers[key].param_groups:
            group["lr"] = 0.0
    stream = BatchStream(_images(), model.config.batch_size, torch.device("cpu"), seed)
    log = [model.train_step(stream, step) for step in range(1, steps + 1)]
    return model, log


@pytest.mark.parametrize("name", BASELINES)
def test_capabilities_are_declared_honestly(name):
    cls = registry.get_model(name)
    assert set(capabilities(cls)) == EXPECTED_CAPABILITIES[name]
    assert name in registry.names("models")  # loaded through its entry point and validated


# (model, logged loss, +1 if the objective drives it up / -1 down, steps, optimizers held, --set overrides)
TRENDS = [
    ("vae", "loss", -1, 15, (), {}),
    ("dcgan", "loss_d", -1, 15, (), {}),  # D learns to tell the squares from G's early blobs
    ("wgan", "w_dist", +1, 8, (), {}),  # the critic's Wasserstein estimate grows as it learns
    ("coopnet", "loss_des", -1, 10, (), {}),  # the descriptor scores data above the revised samples
    ("cegan", "nll", -1, 15, (), {}),  # q learns to invert G
    # ALI's players sit near log 4 together at tiny scale, so D is checked against a held G/E (and see below)
    ("ali", "loss_d", -1, 12, ("ge",), {"lr": "1e-3"}),
    ("alice", "cycle", -1, 12, (), {}),  # the cycle-consistency terms are minimised
]


@pytest.mark.parametrize("name,key,sign,steps,hold,sets", TRENDS, ids=[f"{t[0]}-{t[1]}" for t in TRENDS])
def test_tiny_run_trains(name, key, sign, steps, hold, sets):
    model, log = _train(name, steps, hold=hold, **sets)
    assert all(math.isfinite(v) for losses in log for v in losses.values())
    k = 3
    first = sum(lg[key] for lg in log[:k]) / k
    last = sum(lg[key] for lg in log[-k:]) / k
    assert sign * (last - first) > 0, f"{name}: {key} went {first:.4g} -> {last:.4g}"
    model.eval()
    with torch.no_grad():
        raw = model.generate(model.prior(6))
    assert raw.shape == (6, 3, SIZE, SIZE)
    assert torch.isfinite(raw).all() and raw.abs().max() <= 1.0  # tanh output, before any clamp
    assert torch.equal(model.sample(6, seed=3), model.sample(6, seed=3))


def test_ali_generator_and_encoder_fool_a_held_discriminator():
    model, _ = _train("ali", 8, hold=("ge",), lr="1e-3")  # first a D that separates the pairs
    for group in model.optimizers["ge"].param_groups:
        group["lr"] = 1e-3
    for group in model.optimizers["d"].param_groups:
        group["lr"] = 0.0
    stream = BatchStream(_images(), model.config.batch_size, torch.device("cpu"), 1)
    log = [model.train_step(stream, step)["loss_ge"] for step in range(9, 19)]
    assert sum(log[-3:]) / 3 < sum(log[:3]) / 3, log


@pytest.mark.parametrize("name", ["vae", "ali", "alice"])
def test_inferrers_reconstruct(name):
    model, _ = _train(name, 2)
    x = _images(5).as_float()
    model.eval()
    z = model.infer(x)
    assert z.shape == (5, model.latent_dim)
    rec = model.reconstruct(x)
    assert rec.shape == x.shape and torch.isfinite(rec).all()
    assert torch.equal(rec, model.reconstruct(x))  # the encoder mean: deterministic


@pytest.mark.parametrize("name", ["dcgan", "wgan", "coopnet", "cegan"])
def test_non_inferrers_do_not_reconstruct(name):
    with pytest.raises(NotImplementedError):
        _model(name).infer(_images(2).as_float())


@pytest.mark.parametrize("name", ["cegan", "alice"])
def test_training_state_round_trips(name):
    model, _ = _train(name, 2)
    clone = _model(name)
    clone.load_training_state(model.training_state())
    for key, value in model.state_dict().items():
        assert torch.equal(value, clone.state_dict()[key]), key
    for k, opt in model.optimizers.items():
        assert opt.state_dict()["state"].keys() == clone.optimizers[k].state_dict()["state"].keys()
        assert len(opt.state_dict()["state"]) > 0  # Adam moments exist and were carried over


# -- each loss against a value computed by hand ----------------------------------------------------
def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def sp(v: float) -> float:
    return math.log1p(math.exp(v))  # softplus


def test_vae_loss_by_hand():
    vae = registry.get_model("vae")
    x, rec = t(0.5, -0.5).view(1, 1, 1, 2), torch.zeros(1, 1, 1, 2, dtype=torch.float64)
    mu, logvar = t(1.0, 0.0).view(1, 2), t(0.0, math.log(2.0)).view(1, 2)
    sse, kl = vae.loss(x, rec, mu, logvar)
    assert sse.item() == pytest.approx(0.5)
    # KL = -1/2 sum(1 + log s2 - mu^2 - s2) = -1/2 ((1 + 0 - 1 - 1) + (1 + ln 2 - 0 - 2))
    assert kl.item() == pytest.approx(1.0 - math.log(2.0) / 2)


def test_dcgan_losses_by_hand():
    dcgan = registry.get_model("dcgan")
    real, fake = t(0.0, 2.0), t(-1.0, 1.0)
    expect_d = (sp(-0.0) + sp(-2.0)) / 2 + (sp(-1.0) + sp(1.0)) / 2
    assert dcgan.d_loss(real, fake).item() == pytest.approx(expect_d)
    assert dcgan.g_loss(fake).item() == pytest.approx((sp(1.0) + sp(-1.0)) / 2)


def test_wgan_loss_and_critic_schedule_by_hand():
    wgan = registry.get_model("wgan")
    assert wgan.critic_loss(t(1.0, 3.0), t(0.0, -2.0)).item() == pytest.approx(3.0)
    model = _model("wgan", n_critic_warmup="100", warmup_iters="25")
    # reference: 100 critic steps while gen_iterations < 25 or gen_iterations % 500 == 0 (step = gen_iterations + 1)
    assert [model.critic_iters(s) for s in (1, 25, 26, 27, 500, 501, 502)] == [100, 100, 5, 5, 5, 100, 5]


def test_wgan_clips_the_critic():
    model, _ = _train("wgan", 1)
    model.critic_iters = lambda step: 1
    model.train_step(BatchStream(_images(), 16, torch.device("cpu"), 0), 2)  # clips, then one update
    lr, clip = model.config.lr, model.config.clip
    # RMSprop moves each weight by at most about lr / sqrt(1 - alpha) = 10 lr after the clip
    assert max(p.abs().max().item() for p in model.critic.parameters()) <= clip + 10 * lr + 1e-7


def test_coopnet_losses_and_energy_by_hand():
    coop = registry.get_model("coopnet")
    assert coop.descriptor_loss(t(1.0, 3.0), t(0.0, 1.0)).item() == pytest.approx(0.5 - 2.0)
    target, generated = torch.ones(2, 1, 1, 2, dtype=torch.float64), torch.zeros(2, 1, 1, 2, dtype=torch.float64)
    # per-image SSE 2, / (2 * 0.5^2)
    assert coop.regression_loss(target, generated, 0.5).item() == pytest.approx(4.0)
    model = _model("coopnet")
    x = _images(3).as_float()
    with torch.no_grad():
        reference = x.pow(2).flatten(1).sum(1) / (2 * 0.016**2)
        assert torch.allclose(model.energy(x) + model.score(x), reference, rtol=1e-5)


def test_coopnet_revision_follows_the_descriptor_langevin_update():
    model = _model("coopnet", des_steps="1")
    y = torch.zeros(2, 3, SIZE, SIZE, requires_grad=True)
    grad_score = torch.autograd.grad(model.score(y).sum(), y)[0]
    from genbench.langevin import langevin

    torch.manual_seed(1)
    revised = langevin(y, model.energy, 0.002, 1)
    torch.manual_seed(1)
    eps = torch.randn_like(y)
    # Y <- Y - delta^2/2 (Y / sigma_ref^2 - d score/dY) + delta eps, at Y = 0
    assert torch.allclose(revised, 0.5 * 0.002**2 * grad_score + 0.002 * eps, atol=1e-7)


def test_cegan_losses_and_schedule_by_hand():
    cegan = registry.get_model("cegan")
    # E_T - E_F + 0.01 (mean E_T^2 + mean E_F^2) = 0 - 1 + 0.01 (1 + 2)
    assert cegan.d_loss(t(1.0, -1.0), t(2.0, 0.0), 0.01).item() == pytest.approx(-0.97)
    z, mu, logvar = t(1.0, 0.0).view(1, 2), t(0.0, 0.0).view(1, 2), t(0.0, math.log(4.0)).view(1, 2)
    nll = cegan.gaussian_nll(z, mu, logvar).item()
    assert nll == pytest.approx(0.5 * (1.0 + math.log(4.0)))
    exact = -torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum().item()
    assert nll == pytest.approx(exact - math.log(2 * math.pi))  # up to the constant d/2 log(2 pi)
    model = _model("cegan", steps="50", epochs="50", decay_after="25")  # one step per epoch
    assert model.schedule(1) == pytest.approx((0.5, 2e-4))
    assert model.schedule(4) == pytest.approx((0.5 * 0.9**3, 2e-4))
    # c stops decaying at the first value <= 0.1 (0.5 * 0.9^16 = 0.0926); lr decays after epoch 26
    assert model.schedule(50) == pytest.approx((0.5 * 0.9**16, 2e-4 * 0.9**(49 - 26)))
    assert model.schedule(28) == pytest.approx((0.5 * 0.9**16, 2e-4 * 0.9))
    z = model.prior(1000)
    assert z.min() >= -1 and z.max() <= 1 and z.mean().abs() < 0.05  # U(-1, 1), as the reference


def test_ali_and_alice_losses_by_hand():
    ali, alice = registry.get_model("ali"), registry.get_model("alice")
    real, fake = t(0.0, 2.0), t(-1.0, 1.0)
    assert ali.d_loss(real, fake).item() == pytest.approx((sp(0.0) + sp(-2.0)) / 2 + (sp(-1.0) + sp(1.0)) / 2)
    assert ali.ge_loss(real, fake).item() == pytest.approx((sp(0.0) + sp(2.0)) / 2 + (sp(1.0) + sp(-1.0)) / 2)
    x, x_rec = t(1.0, -1.0).view(1, 1, 1, 2), torch.zeros(1, 1, 1, 2, dtype=torch.float64)
    z, z_rec = t(2.0, 0.0).view(1, 2), t(0.5, 0.0).view(1, 2)
    # mean |x - x_rec| = 1, mean |z - z_rec| = 0.75
    assert alice.cycle_loss(x, x_rec, z, z_rec).item() == pytest.approx(1.75)
    assert issubclass(alice, ali) and alice.Config().latent_dim == 64 and ali.Config().latent_dim == 256
