"""Basis-function rendering for the Table-1 generator (docs/method.md section 5; authors' ``eval.py``).

A forward pass records every ReLU mask and top-k mask (``Table1Generator.forward(trace=...)``).
With those masks held fixed, the layers above any layer l are a *linear* map: bias-free 3x3 convs,
nearest upsampling, elementwise 0/1 masks, and the bias-free output conv. So a unit u of layer l,
rendered alone (a tensor that is zero except for u's activation), gives its basis function B(e_u)
in image space, and the renders of all active units of l add up exactly to the pre-tanh output.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from genbench.api import GenerativeModel, UnitRender
from genbench.backbones import Table1Generator

SUPPORT_EPS = 1e-4  # a render's support: |mean over channels| above this (docs/method.md section 5, step 6)


def find_generator(model: GenerativeModel) -> Table1Generator | None:
    """The model's Table-1 generator, if it has exactly one."""
    found = [m for m in model.modules() if isinstance(m, Table1Generator)]
    return found[0] if len(found) == 1 else None


@torch.no_grad()
def trace_generator(gen: Table1Generator, z: Tensor) -> list[dict]:
    """One forward pass recording the per-layer masks and outputs ('fc', 'b8', ..., 'out')."""
    trace: list[dict] = []
    gen(z, trace=trace, pre_tanh=True)
    return trace


def layer_names(gen: Table1Generator) -> list[str]:
    return ["fc"] + [f"b{b.res}" for b in gen.blocks]


def layer_resolution(gen: Table1Generator, layer: str) -> int:
    """The side of ``layer``'s grid ('b8' -> 8; 'fc' -> the 4x4 seed grid)."""
    names = layer_names(gen)
    if layer not in names:
        raise ValueError(f"unknown layer {layer!r}; this generator has {names}")
    return gen.blocks[0].res // 2 if layer == "fc" else gen.blocks[names.index(layer) - 1].res


def trace_layer(gen: Table1Generator, z: Tensor, layer: str,
                edit: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """The ``tracer`` capability for a Table-1 generator: images g(z) in [-1, 1] and the output of
    conv block ``layer`` ('b8', 'b16', ...: after ReLU and top-k); ``edit`` replaces that output
    before the blocks above run. Works with any normalisation (nothing here needs linearity)."""
    names = [f"b{b.res}" for b in gen.blocks]
    if layer not in names:
        raise ValueError(f"can only trace the conv blocks {names}, not {layer!r}")
    seen: list[Tensor] = []

    def hook(module, inputs, output):
        seen.append(output.detach())
        return edit(output) if edit is not None else None

    handle = gen.blocks[names.index(layer)].register_forward_hook(hook)
    try:
        images = gen(z)
    finally:
        handle.remove()
    return images, seen[0]


def _check_linear(gen: Table1Generator) -> None:
    norms = [m for m in gen.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if norms:
        raise ValueError("basis rendering needs a generator without normalisation layers (norm='none'): "
                         "batch norm makes the layers above a unit affine, not linear")


def propagate(gen: Table1Generator, trace: list[dict], layer: str, h: Tensor, sample: int,
              until: str | None = None) -> Tensor:
    """Push activations ``h`` (U, C, H, W) placed at ``layer`` through the layers above it, with the
    masks recorded for ``sample``. Returns the pre-tanh images (U, C_out, H_img, W_img), or, with
    ``until``, the contributions to that higher layer's output."""
    _check_linear(gen)
    names = layer_names(gen)
    for name in (layer, until):
        if name is not None and name not in names:
            raise ValueError(f"unknown layer {name!r}; this generator has {names}")
    start = names.index(layer)  # blocks[start:] lie above layer (trace[0] is 'fc', trace[i] is blocks[i-1])
    stop = names.index(until) if until is not None else len(names) - 1
    for block, rec in zip(gen.blocks[start:stop], trace[start + 1:stop + 1], strict=True):
        h = block.conv1.upsampled(h) * rec["relu1"][sample]
        h = block.conv2(h) * rec["relu2"][sample]
        if rec["topk"] is not None:
            h = h * rec["topk"][sample]
    return h if until is not None else gen.out(h)


def render_units_at(gen: Table1Generator, trace: list[dict], layer: str, sample: int,
                    units: list[tuple[int, int, int]], chunk: int = 256) -> Tensor:
    """Pre-tanh renders (U, C, H, W) of the given units (channel, y, x) of ``layer`` for ``sample``,
    each carrying its recorded activation value."""
    out = trace[layer_names(gen).index(layer)]["out"][sample]
    renders = []
    for i in range(0, len(units), chunk):
        part = units[i:i + chunk]
        h = torch.zeros((len(part), *out.shape), dtype=out.dtype, device=out.device)
        for j, (c, y, x) in enumerate(part):
            h[j, c, y, x] = out[c, y, x]
        renders.append(propagate(gen, trace, layer, h, sample))
    return torch.cat(renders) if renders else out.new_zeros((0, gen.out.weight.shape[0], gen.image_size,
                                                             gen.image_size))


@torch.no_grad()
def render_units(gen: Table1Generator, z: Tensor, layer: str, top: int = 1) -> list[UnitRender]:
    """For each sample in z and each position (y, x) of ``layer``, the ``top`` most active units
    (ranked by activation, active ones only) rendered alone to image space, pre-tanh (C, H, W).

    This is the ``renderer`` capability's contract: the NCC metric and ``genbench tree`` crop each ``image``
    to where |mean over channels| > 1e-4.
    """
    trace = trace_generator(gen, z)
    names = layer_names(gen)
    out = trace[names.index(layer)]["out"]
    result: list[UnitRender] = []
    for s in range(out.shape[0]):
        vals, chans = out[s].topk(min(top, out.shape[1]), dim=0)  # (top, H, W), ranked per position
        units, meta = [], []
        for y in range(out.shape[2]):
            for x in range(out.shape[3]):
                for r in range(vals.shape[0]):
                    if vals[r, y, x] > 0:
                        units.append((int(chans[r, y, x]), y, x))
                        meta.append((r, float(vals[r, y, x])))
        images = render_units_at(gen, trace, layer, s, units)
        for (c, y, x), (r, v), img in zip(units, meta, images, strict=True):
            result.append(UnitRender(s, layer, (y, x), c, v, img, {"rank": r}))
    return result


def support_box(image: Tensor, eps: float = SUPPORT_EPS) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) bounding the pixels where |mean over channels| > eps; None if empty."""
    on = image.mean(0).abs() > eps
    if not on.any():
        return None
    ys, xs = on.any(1).nonzero().flatten(), on.any(0).nonzero().flatten()
    return int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1


def active_fraction(trace: list[dict], names: list[str]) -> dict[str, float]:
    """Fraction of units with a non-zero output, per generator layer (over samples, channels, positions)."""
    return {n: float((trace[i]["out"] != 0).float().mean()) for i, n in enumerate(names)}
