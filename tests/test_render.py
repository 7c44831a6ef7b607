"""Basis-function rendering (genbench/render.py, METHOD.md section 5): the decomposition property and
the renderer contract the NCC / parts metrics rely on."""

from __future__ import annotations

import pytest
import torch

from genbench.backbones import Sparsity, Table1Generator
from genbench.render import layer_names, render_units, support_box, trace_generator


def _gen(sparse: bool) -> Table1Generator:
    torch.manual_seed(0)
    return Table1Generator(100, 16, 1 / 16, sparsity=Sparsity() if sparse else None)


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("layer", ["fc", "b8", "b16"])
def test_renders_of_all_active_units_sum_to_the_pre_tanh_output(sparse, layer):
    gen = _gen(sparse)
    z = torch.randn(2, 100, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        target = gen(z, pre_tanh=True)
    out = trace_generator(gen, z)[layer_names(gen).index(layer)]["out"]
    units = render_units(gen, z, layer, top=out.shape[1])  # every active channel at every position
    assert len(units) == int((out > 0).sum())
    for s in range(2):
        total = torch.stack([u.image for u in units if u.sample == s]).sum(0)
        torch.testing.assert_close(total, target[s], atol=1e-4, rtol=1e-4)


def test_render_units_top1_contract():
    gen = _gen(True)
    z = torch.randn(3, 100, generator=torch.Generator().manual_seed(2))
    out = trace_generator(gen, z)[1]["out"]  # b8: (3, C, 8, 8)
    units = render_units(gen, z, "b8", top=1)
    assert len(units) == int((out.amax(1) > 0).sum())  # one per active position
    for u in units[:20]:
        y, x = u.position
        assert u.layer == "b8" and u.extra["rank"] == 0
        assert u.channel == int(out[u.sample, :, y, x].argmax())
        assert u.activation == pytest.approx(float(out[u.sample, u.channel, y, x]))
        assert u.image.shape == (3, 16, 16)
        assert support_box(u.image) is not None


def test_single_unit_support_is_local():
    """A b8 unit reaches the 16x16 image only through two 3x3 convs per block plus the output conv,
    so its support lies within rows/cols [2p - 3, 2p + 1 + 3] of the image."""
    gen = _gen(True)
    z = torch.randn(1, 100, generator=torch.Generator().manual_seed(3))
    for u in render_units(gen, z, "b8", top=1):
        y0, y1, x0, x1 = support_box(u.image)
        cy, cx = 2 * u.position[0], 2 * u.position[1]
        assert y0 >= cy - 3 and y1 <= cy + 5 and x0 >= cx - 3 and x1 <= cx + 5


def test_batch_norm_generator_is_refused():
    gen = Table1Generator(100, 16, 1 / 16, norm="batch").eval()
    with pytest.raises(ValueError, match="normalisation"):
        render_units(gen, torch.randn(1, 100), "b8")
