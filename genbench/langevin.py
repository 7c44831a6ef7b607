"""Langevin dynamics, the one sampler every MCMC-based method in genbench uses.

    x_{t+1} = x_t - (delta^2 / 2) * dE/dx (x_t) + delta * eps_t,   eps_t ~ N(0, I)

which is Eqn. 13 of Xing et al. (CVPR 2020) with E = -log p(Z, Y) (Eqn. 14) when x is the latent
code, and CoopNet's revision of synthesised images when E is the descriptor's energy. ``noise=False``
gives plain gradient descent on E (the noise-free inference used for reconstruction).

``energies`` (a list) watches the chains at no cost: it receives the per-sample energies the gradients are taken
of, E(x_0) ... E(x_{n-1}), detached; the energy before the chains is the first, and ``energies[-1]`` the last
one computed (E of the returned x would need one more pass, which a caller usually makes anyway).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def langevin(x: Tensor, energy: Callable[[Tensor], Tensor], step_size: float, n_steps: int,
             noise: bool = True, generator: torch.Generator | None = None,
             clip_grad: float | None = None, energies: list[Tensor] | None = None) -> Tensor:
    """Run ``n_steps`` of Langevin dynamics from ``x`` on ``energy`` (per-sample energies, shape (B,);
    they are summed, so each sample follows its own gradient). Returns a detached tensor. ``energies``: a
    list that receives each step's per-sample energies, detached (the module docstring); x is the same."""
    x = x.detach().clone()
    for _ in range(n_steps):
        x.requires_grad_(True)
        with torch.enable_grad():
            e = energy(x)
            grad = torch.autograd.grad(e.sum(), x)[0]
        if energies is not None:
            energies.append(e.detach())
        if clip_grad is not None:
            grad = grad.clamp(-clip_grad, clip_grad)
        with torch.no_grad():
            x = x - 0.5 * step_size**2 * grad
            if noise:
                eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) \
                    if generator is not None else torch.randn_like(x)
                x = x + step_size * eps
        x = x.detach()
    return x
