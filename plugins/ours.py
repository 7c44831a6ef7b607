"""The paper's model (Xing et al., CVPR 2020): a sparsely activated AND-OR generator, learned by
alternating back-propagation (ABP) with Langevin inference of Z and an energy-based critic
(Algorithm 1; docs/method.md sections 1-3 and 5). One implementation, four registered models:

    ours        sparse generator + critic      (the paper's method)
    ours-dense  dense generator  + critic      (Fig. 7, second row: "w/o sparsity")
    abp-sparse  sparse generator, no critic
    abp         dense generator,  no critic    (Fig. 7, first row: plain ABP, Han et al. 2017)

Each iteration (Algorithm 1, with docs/method.md section 3's choices):
1. critic f (Eqn. 21): minimise mean f(Y) - mean f(g(Z_hat)) + 10 GP + 1e-3 mean f(Y)^2, Z_hat ~ N(0, I);
2. Langevin on the batch's persistent chains Z_i (Eqns. 13-14), sigma = 1 on the per-image SSE;
3. generator (Eqns. 15 and 20): minimise lambda_rec * mean_i ||Y_i - g(Z_i)||^2 + mean_j f(g(Z_hat_j)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from genbench.api import DataInfo, GenerativeModel, ModelConfig, UnitRender
from genbench.backbones import Sparsity, Table1EnergyNet, Table1Generator
from genbench.domains import adam_beta, count, fraction, non_negative, non_negative_count, positive
from genbench.langevin import langevin
from genbench.render import render_units, trace_layer

from ._common import frozen


@dataclass
class OursConfig(ModelConfig):
    # Eqn. 6 / Table 1: k = 8 over the FC layer's channels per position, k = HW/4 per conv channel
    # (conv_frac scales k with each layer's resolution). The small preset loosens both (see PRESETS).
    fc_k: int = 8
    conv_frac: float = 0.25
    # Eqns. 13-14 (docs/method.md section 3): per-image sigma on the SSE, step size delta.
    sigma: float = 1.0
    delta: float = 0.1
    langevin_steps: int = 20
    infer_steps: int = 200  # noise-free steps from the persistent chain (training images, docs/method.md 5)
    infer_steps_unseen: int = 300  # noise-free steps from z = 0 (unseen images)
    lambda_rec: float = 0.1  # on the per-image SSE (authors' beta = 0.1)
    gp: float = 10.0
    drift: float = 1e-3
    lr: float = 7e-4  # generator
    beta1: float = 0.0
    beta2: float = 0.99
    critic_lr: float = 7e-4
    critic_beta1: float = 0.0
    # Algorithm 1 does not say how the chains start; B draws N(0, I) (bank_std = 1).
    bank_std: float = 1.0
    batch_size: int = 100
    PRESETS = {
        "tiny": {"langevin_steps": 5, "infer_steps": 20, "infer_steps_unseen": 40},
        # The paper trains 2000 epochs; 2 CPU cores allow about two (600 steps of 32 over 10,000 images,
        # 3 Langevin steps per visit). Measured on shapes (benchmarks/ours_small_preset.py): with Table 1's
        # k and A's optimiser the sparse generator does no better than the mean image (its chains, visited about
        # once, carry no information, so it learns the average face). What made it fit in that budget:
        # a faster generator optimiser (Adam 5e-3, beta1 0.9) and a critic at least as fast (5e-3, beta1
        # 0.5; with A's 7e-4 the generator outran it and samples collapsed in 3 of 5 runs), a
        # stronger data term (sigma 0.2), chains started near 0 so the data term is not drowned by the
        # N(0, I) start (bank_std 0.1), and a looser top-k (32 of the 400 FC channels at width 1/8,
        # half of each conv map), which the issue allows for smaller presets. The paper preset keeps
        # Table 1's k and docs/method.md's values.
        "small": {"steps": 600, "batch_size": 32, "langevin_steps": 3, "sigma": 0.2, "bank_std": 0.1,
                  "fc_k": 32, "conv_frac": 0.5, "lr": 5e-3, "beta1": 0.9, "critic_lr": 5e-3,
                  "critic_beta1": 0.5, "infer_steps": 20,
                  "infer_steps_unseen": 40},
    }
    DOMAINS = {"fc_k": count, "conv_frac": fraction, "sigma": positive, "delta": positive, "langevin_steps": count,
               "infer_steps": non_negative_count, "infer_steps_unseen": non_negative_count,
               "lambda_rec": non_negative, "gp": non_negative, "drift": non_negative, "lr": positive,
               "beta1": adam_beta, "beta2": adam_beta, "critic_lr": positive, "critic_beta1": adam_beta,
               "bank_std": non_negative}


class _SparseABP(GenerativeModel):
    """Shared implementation; subclasses set ``sparse`` and ``with_critic``."""

    Config = OursConfig
    example_buffers = ("bank",)
    sparse: ClassVar[bool] = True
    with_critic: ClassVar[bool] = True
    # train_step reports the chains' energy, latent norm and SSE before/after (``_chain_diagnostics``); False
    # leaves them out (the training numbers are the same either way: tests/test_ours.py checks it bit for bit)
    langevin_diagnostics: ClassVar[bool] = True

    def __init__(self, config: OursConfig, data: DataInfo):
        super().__init__(config, data)
        sparsity = Sparsity(config.fc_k, config.conv_frac) if self.sparse else None
        self.generator = Table1Generator(config.latent_dim, data.image_size, config.width, sparsity=sparsity,
                                         out_channels=data.channels)
        betas = (config.beta1, config.beta2)
        self.optimizers["g"] = torch.optim.Adam(self.generator.parameters(), lr=config.lr, betas=betas)
        if self.with_critic:
            self.critic = Table1EnergyNet(data.image_size, config.width, in_channels=data.channels)
            self.optimizers["f"] = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr,
                                                    betas=(config.critic_beta1, config.beta2))
        # Algorithm 1's persistent chains: one Z_i per training example, Z_i ~ bank_std * N(0, I) at the start.
        self.register_buffer("bank", config.bank_std * torch.randn(max(data.n_train, 1), config.latent_dim))

    # -- Eqn. 14: the posterior energy -log p(Z | Y) up to a constant -------------------------
    def posterior_energy(self, y: Tensor):
        sigma2 = self.config.sigma ** 2

        def energy(z: Tensor) -> Tensor:
            sse = (y - self.generator(z)).pow(2).flatten(1).sum(1)
            return sse / (2 * sigma2) + 0.5 * z.pow(2).sum(1)

        return energy

    # -- Algorithm 1 --------------------------------------------------------------------------
    def train_step(self, batches, step: int) -> dict[str, float]:
        c = self.config
        y, index = next(batches)
        z_hat = self.prior(len(y))
        log: dict[str, Tensor] = {}  # tensors until the end of the step: one host sync, not one per value
        if self.with_critic:
            log.update(self._critic_step(y, self.generator(z_hat).detach()))

        # Eqn. 13: Langevin revision of the persistent chains, written back to the bank. Langevin needs
        # gradients with respect to z only: frozen parameters keep autograd from saving for their gradients.
        z0 = self.bank[index]
        energies: list[Tensor] | None = [] if self.langevin_diagnostics else None
        with frozen(self.generator):
            z = langevin(z0, self.posterior_energy(y), c.delta, c.langevin_steps, energies=energies)
        self.bank[index] = z

        # Eqns. 15 + 20: reconstruction of Y from the inferred Z, plus the critic's energy of g(Z_hat)
        # (minimised: lower energy = more data-like; Algorithm 1's "L - H" lost its minus sign).
        sse_i = (y - self.generator(z)).pow(2).flatten(1).sum(1)
        sse = sse_i.mean()
        g_loss = c.lambda_rec * sse
        if self.with_critic:
            self.critic.requires_grad_(False)
            f_gen = self.critic(self.generator(z_hat)).mean()
            self.critic.requires_grad_(True)
            g_loss = g_loss + f_gen
            log["f_gen"] = f_gen.detach()
        opt = self.optimizers["g"]
        opt.zero_grad(set_to_none=True)
        g_loss.backward()
        opt.step()
        log.update(g_loss=g_loss.detach(), mse=sse.detach(), z_norm=z.norm(dim=1).mean())
        if energies:
            log.update(self._chain_diagnostics(z0, energies[0], z, sse_i))
        out = dict(zip(log, torch.stack(list(log.values())).tolist(), strict=True))
        for k in ("mse", "mse_before"):
            if k in out:
                out[k] /= y[0].numel()
        return out

    def _chain_diagnostics(self, z0: Tensor, energy0: Tensor, z: Tensor, sse: Tensor) -> dict[str, Tensor]:
        """Whether this step's Langevin chains did their job, from values the step computed anyway: the latent
        norm, the posterior energy (Eqn. 14) and the per-image SSE of the chains before (``z0``, the energy
        langevin took its first gradient of) and after (``z``, ``sse`` from the generator pass of the loss).
        ``z_norm`` and ``mse`` are the after-values; the SSE before is the energy less its prior term."""
        sigma2 = self.config.sigma ** 2
        prior0, prior = 0.5 * z0.pow(2).sum(1), 0.5 * z.detach().pow(2).sum(1)
        return {"z_norm_before": z0.norm(dim=1).mean(), "mse_before": (2 * sigma2 * (energy0 - prior0)).mean(),
                "energy_before": energy0.mean(), "energy_after": (sse.detach() / (2 * sigma2) + prior).mean()}

    def _critic_step(self, y: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Eqn. 21 with docs/method.md section 3's regulariser: WGAN-GP penalty on real/fake interpolates
        (|grad| -> 1) and a small drift term keeping f(Y) near 0 (the objective is otherwise unbounded)."""
        c = self.config
        f_real, f_fake = self.critic(y), self.critic(fake)
        eps = torch.rand(len(y), 1, 1, 1, device=y.device)
        mix = (eps * y + (1 - eps) * fake).requires_grad_(True)
        grad = torch.autograd.grad(self.critic(mix).sum(), mix, create_graph=True)[0]
        gp = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        loss = f_real.mean() - f_fake.mean() + c.gp * gp + c.drift * f_real.pow(2).mean()
        opt = self.optimizers["f"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"f_loss": loss.detach(), "f_real": f_real.mean().detach(), "f_fake": f_fake.mean().detach()}

    # -- capabilities -------------------------------------------------------------------------
    def generate(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def infer(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        """Noise-free Langevin (gradient descent on Eqn. 14): training images start from their
        persistent chain, unseen ones from a fixed draw of the prior with more steps (docs/method.md
        section 3, "Inference for evaluation": not z = 0, which with the FC bias at its initial 0 is a
        stationary point of the ReLU generator: every unit is off and the gradient vanishes)."""
        c = self.config
        if index is not None:
            z0, steps = self.bank[index.to(self.bank.device)], c.infer_steps
        else:
            z0, steps = self.prior(len(x), torch.Generator().manual_seed(0)), c.infer_steps_unseen
        with torch.enable_grad(), frozen(self.generator):  # callers (metrics) may run under torch.no_grad
            return langevin(z0, self.posterior_energy(x), c.delta, steps, noise=False)

    def energy(self, x: Tensor) -> Tensor:
        return self.critic(x).squeeze(1)

    def render_units(self, z: Tensor, layer: str, top: int = 1) -> list[UnitRender]:
        return render_units(self.generator, z, layer, top)

    def trace_layer(self, z, layer, edit=None):
        return trace_layer(self.generator, z, layer, edit)


class Ours(_SparseABP):
    """Sparse AND-OR generator + energy critic, learned by ABP (Xing et al., CVPR 2020)."""

    provides = ("generator", "inferrer", "critic", "renderer", "tracer")
    sparse, with_critic = True, True


class OursDense(_SparseABP):
    """Ours without the top-k sparsity (paper Fig. 7, second row)."""

    provides = ("generator", "inferrer", "critic", "renderer", "tracer")
    sparse, with_critic = False, True


class ABPSparse(_SparseABP):
    """Sparse generator learned by ABP, no critic (ablation)."""

    provides = ("generator", "inferrer", "renderer", "tracer")
    sparse, with_critic = True, False


class ABP(_SparseABP):
    """Alternating back-propagation (Han et al., AAAI 2017), dense generator (paper Fig. 7, first row)."""

    provides = ("generator", "inferrer", "renderer", "tracer")
    sparse, with_critic = False, False
