"""The shared Table-1 backbones: shapes, channel counts, equalised learning rate."""

from __future__ import annotations

import math

import pytest
import torch

from genbench.backbones import UP_TAPS, Conv3x3, Sparsity, Table1EnergyNet, Table1Generator, held_kernels


def test_paper_scale_generator_is_table1():
    g = Table1Generator(100, 64, 1.0, sparsity=Sparsity())
    assert g.c0 == 3200 and g.fc.weight.shape == (3200 * 16, 100)
    assert [b.conv2.weight.shape[0] for b in g.blocks] == [512, 256, 128, 64]
    assert [b.k for b in g.blocks] == [16, 64, 256, None]  # k = HW/4; the 64x64 layer is dense
    assert g.fc_k == 8
    trace = []
    y = g(torch.randn(2, 100), trace=trace)
    assert y.shape == (2, 3, 64, 64) and y.abs().max() <= 1
    assert [t["name"] for t in trace] == ["fc", "b8", "b16", "b32", "b64", "out"]
    # channel top-k at the FC layer: at most k active channels per position
    assert (trace[0]["out"] > 0).sum(1).max() <= 8
    # spatial top-k in b8: at most k = 16 of the 64 positions active per channel
    assert (trace[1]["out"] > 0).flatten(2).sum(2).max() <= 16


def test_paper_scale_energy_net_is_table1():
    f = Table1EnergyNet(64, 1.0)
    convs = [m for m in f.trunk if isinstance(m, Conv3x3)]
    assert [c.weight.shape[0] for c in convs] == [64, 64, 64, 128, 128, 256, 256, 512, 512]
    assert f.feature_dim == 512 * 16
    assert f(torch.randn(2, 3, 64, 64)).shape == (2, 1)


@pytest.mark.parametrize("size", [16, 32])
def test_smaller_resolutions_and_widths(size):
    g = Table1Generator(100, size, 1 / 8)
    x = g(torch.randn(3, 100))
    assert x.shape == (3, 3, size, size)
    f = Table1EnergyNet(size, 1 / 8, out_features=7)
    assert f(x).shape == (3, 7)


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError, match="8, 16, 32 or 64"):
        Table1Generator(10, 48)


def test_equalized_lr_scales_unit_normal_weights():
    c = Conv3x3(8, 4)
    assert c.scale == pytest.approx(math.sqrt(2) / math.sqrt(8 * 9))
    assert abs(c.weight.std().item() - 1) < 0.3  # stored N(0, 1), scaled at run time
    x = torch.randn(1, 8, 5, 5)
    ref = torch.nn.functional.conv2d(x, c.weight * c.scale, padding=1)
    assert torch.allclose(c(x), ref)
    assert not hasattr(c, "bias")  # Table 1 convs are bias-free (exact basis rendering)


@pytest.mark.parametrize("equalized", [True, False])
def test_upsampled_conv_is_the_conv_of_the_nearest_upsampling(equalized):
    """The generator blocks' transposed convolution equals nearest 2x upsampling then the 3x3 convolution, in
    value and in both gradients (float64: exact up to round-off), at every border."""
    torch.manual_seed(0)
    c = Conv3x3(5, 3, equalized).double()
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.functional.conv2d(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"),
                                     c.weight * c.scale, padding=1)
    out = c.upsampled(x)
    assert out.shape == (2, 3, 8, 12)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    w = torch.randn_like(ref)
    gx_ref, gw_ref = torch.autograd.grad((ref * w).sum(), (x, c.weight))
    gx, gw = torch.autograd.grad((out * w).sum(), (x, c.weight))
    torch.testing.assert_close(gx, gx_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(gw, gw_ref, rtol=0, atol=1e-12)
    # a wrong tap order (the kernel flipped) is not the same function: the check can fail
    flipped = torch.nn.functional.conv_transpose2d(
        x, torch.einsum("pi,ocij,qj->copq", UP_TAPS.double().flip(0), c.weight * c.scale, UP_TAPS.double().flip(0)),
        stride=2, padding=1)
    assert (flipped - ref).abs().max() > 1e-3


def test_held_kernels_are_made_once_give_the_same_values_and_are_dropped_after_the_block():
    """Inside ``held_kernels`` a frozen generator's layers make their run-time kernels once (the folded 4x4 one
    of the upsampling convolutions too) and reuse them: outputs and gradients with respect to the input are those
    of the plain forward; after the block a changed weight is seen, and a layer whose weights need gradients
    never reuses a kernel (its graph would be backpropagated twice)."""
    torch.manual_seed(0)
    g = Table1Generator(latent_dim=8, image_size=16, width=1 / 32, sparsity=Sparsity(fc_k=4, conv_frac=0.5))
    z = torch.randn(3, 8, requires_grad=True)

    def run():
        out = g(z)
        return out, torch.autograd.grad(out.square().sum(), z)[0]

    calls = []
    folded = Conv3x3.folded
    Conv3x3.folded = lambda self: calls.append(self) or folded(self)
    try:
        g.requires_grad_(False)
        want, want_grad = run()
        n_plain = len(calls)
        with held_kernels(g):
            got = [run() for _ in range(3)]
        n_held = len(calls) - n_plain
        g.requires_grad_(True)
        with held_kernels(g):  # weights need gradients: no kernel kept, the weights' gradients flow
            g(z).sum().backward()
            g(z).sum().backward()
    finally:
        Conv3x3.folded = folded
    assert n_held == n_plain == len(g.blocks)  # one fold per upsampling convolution for three forwards
    for out, grad in got:
        torch.testing.assert_close(out, want, rtol=0, atol=0)
        torch.testing.assert_close(grad, want_grad, rtol=0, atol=0)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in (g.fc.weight, g.blocks[0].conv1.weight))
    assert all(m.__dict__.get("_held") is None for m in g.modules())
    with torch.no_grad():
        g.out.weight.mul_(2.0)
    assert not torch.equal(g(z), want)
