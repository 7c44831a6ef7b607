"""``genbench tree``: the learned AND-OR tree of one generated image (the paper's Fig. 1), plus a
dictionary view of each layer's most used basis functions.

Tree (top-down): the image is an AND node over the Layer-3 grid (block 'b8', 8x8); at each shown
position an OR node has chosen one basis function (the most active channel there); its children are
the Layer-2 units it contributes most to (by linearity of the masked, bias-free layers, a child's
activation is the sum of its parents' contributions), and theirs the Layer-1 primitives. Every
node is drawn as its basis function rendered to image space (genbench.render), cropped to its
support and min-max normalised (docs/method.md section 5, step 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from genbench import registry
from genbench.api import LAYER3, GenerativeModel, capabilities
from genbench.errors import GenbenchError
from genbench.io import atomic_path
from genbench.render import (
    find_generator,
    layer_names,
    layer_resolution,
    propagate,
    render_units_at,
    support_box,
    trace_generator,
)
from genbench.run.trainer import grid_latents
from genbench.store.runconfig import RunConfig
from genbench.store.runfolder import RunFolder

TILE, GAP, LABEL_W = 64, 14, 150
LAYER_TITLES = {0: "Layer 3", 1: "Layer 2", 2: "Layer 1"}  # the paper's numbering, from 'b8' down


@dataclass
class Node:
    layer: str
    channel: int
    y: int
    x: int
    activation: float
    image: Tensor  # pre-tanh render (C, H, W)
    children: list[Node] = field(default_factory=list)


def load_run(run_dir: str | Path) -> tuple[GenerativeModel, RunConfig]:
    """The trained model of a ``genbench run`` folder (on CPU) and its config; one that cannot render its
    basis functions has no AND-OR tree."""
    folder = RunFolder(Path(run_dir))
    name = folder.require_config().model_name
    if "renderer" not in capabilities(registry.get_model(name)):
        raise GenbenchError(f"Model '{name}' cannot render its basis functions (it is not a renderer), so it "
                            f"has no AND-OR tree; pass a run of ours, ours-dense, abp-sparse or abp.")
    model, config = folder.load_model("cpu")
    if find_generator(model) is None:
        raise GenbenchError(f"Model '{name}' declares the renderer capability but has no single Table-1 generator "
                            f"(genbench.backbones.Table1Generator) to draw an AND-OR tree from.")
    return model, config


def _pick_positions(values: Tensor, n: int) -> list[tuple[int, int]]:
    """The n positions with the strongest top-1 activation, at least 2 cells apart so the tree shows
    different parts of the image."""
    order = values.flatten().argsort(descending=True)
    w = values.shape[1]
    chosen: list[tuple[int, int]] = []
    for i in order.tolist():
        y, x = divmod(i, w)
        if values[y, x] <= 0:
            break
        if all(max(abs(y - a), abs(x - b)) >= 2 for a, b in chosen):
            chosen.append((y, x))
        if len(chosen) == n:
            break
    return sorted(chosen, key=lambda p: (p[1], p[0]))  # left to right, so the tree's edges do not cross


@torch.no_grad()
def build_tree(model: GenerativeModel, z: Tensor, top: str = LAYER3, n_parts: int = 4,
               n_children: int = 2, depth: int = 3) -> tuple[Tensor, list[Node]]:
    """The generated image (C, H, W) in [-1, 1] and the OR nodes at ``n_parts`` positions of ``top``,
    each with its ``n_children`` strongest children per layer, ``depth`` layers deep in all."""
    gen = find_generator(model)
    names = layer_names(gen)
    layers = names[names.index(top):][:depth]
    trace = trace_generator(gen, z[:1])
    out = trace[names.index(top)]["out"][0]
    vals, chans = out.max(dim=0)
    roots = [Node(top, int(chans[y, x]), y, x, float(vals[y, x]), None) for y, x in _pick_positions(vals, n_parts)]
    level = roots
    for parent_layer, child_layer in zip(layers, layers[1:], strict=False):
        nxt = []
        for node in level:
            one = torch.zeros_like(trace[names.index(parent_layer)]["out"][0])
            one[node.channel, node.y, node.x] = node.activation
            contrib = propagate(gen, trace, parent_layer, one[None], 0, until=child_layer)[0]
            best = contrib.flatten().topk(n_children)
            child_out = trace[names.index(child_layer)]["out"][0]
            for v, i in zip(best.values.tolist(), best.indices.tolist(), strict=True):
                if v <= 0:
                    break
                c, rest = divmod(i, contrib.shape[1] * contrib.shape[2])
                y, x = divmod(rest, contrib.shape[2])
                node.children.append(Node(child_layer, c, y, x, float(child_out[c, y, x]), None))
            nxt += node.children
        level = nxt
    _render_nodes(gen, trace, names, roots)
    image = torch.tanh(trace[-1]["out"][0])
    return image, roots


def _render_nodes(gen, trace, names, roots: list[Node]) -> None:
    by_layer: dict[str, list[Node]] = {}
    stack = list(roots)
    while stack:
        node = stack.pop()
        by_layer.setdefault(node.layer, []).append(node)
        stack += node.children
    for layer, nodes in by_layer.items():
        renders = render_units_at(gen, trace, layer, 0, [(n.channel, n.y, n.x) for n in nodes])
        for n, r in zip(nodes, renders, strict=True):
            n.image = r


@torch.no_grad()
def dictionary(model: GenerativeModel, n_samples: int = 64, per_layer: int = 8,
               seed: int = 0) -> dict[str, list[tuple[int, float, Tensor]]]:
    """Per layer, the ``per_layer`` channels active most often over ``n_samples`` samples, each as
    (channel, share of (sample, position) slots where it is active, its strongest instance's render)."""
    gen = find_generator(model)
    names = layer_names(gen)
    z = model.prior(n_samples, torch.Generator().manual_seed(seed))
    trace = trace_generator(gen, z)
    view = {}
    for i, layer in enumerate(names):
        out = trace[i]["out"]  # (B, C, H, W)
        usage = (out > 0).float().mean(dim=(0, 2, 3))
        entries = []
        for c in usage.argsort(descending=True)[:per_layer].tolist():
            if usage[c] == 0:
                break
            flat = out[:, c].flatten()
            s, rest = divmod(int(flat.argmax()), out.shape[2] * out.shape[3])
            y, x = divmod(rest, out.shape[3])
            entries.append((c, float(usage[c]), render_units_at(gen, trace, layer, s, [(c, y, x)])[0]))
        view[layer] = entries
    return view


# -- drawing ----------------------------------------------------------------------------------
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _to_pil(img: Tensor, size: int) -> Image.Image:
    """A render cropped to its support, min-max normalised, scaled to ``size`` (nearest: crisp pixels)."""
    box = support_box(img)
    if box is not None:
        y0, y1, x0, x1 = box
        img = img[:, y0:y1, x0:x1]
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if hi > lo else torch.zeros_like(img)
    return _tensor_image(img, size)


def _tensor_image(img01: Tensor, size: int) -> Image.Image:
    arr = (img01.clamp(0, 1) * 255).round().byte()
    if arr.shape[0] == 1:
        arr = arr.expand(3, -1, -1)
    pil = Image.fromarray(arr.permute(1, 2, 0).cpu().numpy())
    h, w = pil.height, pil.width
    s = size / max(h, w)
    return pil.resize((max(1, round(w * s)), max(1, round(h * s))), Image.NEAREST)


def draw_tree(image: Tensor, roots: list[Node], grid: int, title: str) -> Image.Image:
    levels: list[list[Node]] = [roots]
    while any(n.children for n in levels[-1]):
        levels.append([c for n in levels[-1] for c in n.children])
    n_leaves = max(len(levels[-1]), 1)
    width = LABEL_W + max(n_leaves * (TILE + GAP), 4 * (TILE + GAP)) + GAP
    img_size = 2 * TILE + 32
    row_h = TILE + 46
    height = 40 + img_size + 40 + len(levels) * row_h
    canvas = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(canvas)
    d.text((GAP, 8), title, fill="black", font=_font(16))

    # the image, with the Layer-3 grid (the AND node) and the chosen positions
    x_img = LABEL_W + (width - LABEL_W - img_size) // 2
    y_img = 36
    canvas.paste(_tensor_image((image + 1) / 2, img_size), (x_img, y_img))
    cell = img_size / grid
    for k in range(grid + 1):
        d.line([(x_img + k * cell, y_img), (x_img + k * cell, y_img + img_size)], fill=(200, 200, 200))
        d.line([(x_img, y_img + k * cell), (x_img + img_size, y_img + k * cell)], fill=(200, 200, 200))
    colours = [(220, 40, 40), (30, 120, 220), (30, 160, 60), (200, 120, 0), (150, 50, 180), (0, 160, 160)]
    for i, n in enumerate(roots):
        col = colours[i % len(colours)]
        d.rectangle([x_img + n.x * cell, y_img + n.y * cell, x_img + (n.x + 1) * cell, y_img + (n.y + 1) * cell],
                    outline=col, width=3)
    d.text((GAP, y_img + img_size // 2 - 20), f"AND: {grid}x{grid}\ngrid of\n{LAYER_TITLES[0]}", fill="black",
           font=_font(13))

    # leaves evenly spaced; each parent centred over its children
    centres: dict[int, float] = {}
    span = width - LABEL_W - GAP
    for i, n in enumerate(levels[-1]):
        centres[id(n)] = LABEL_W + span * (i + 0.5) / n_leaves
    for lvl in reversed(levels[:-1]):
        for i, n in enumerate(lvl):
            centres[id(n)] = (sum(centres[id(c)] for c in n.children) / len(n.children) if n.children
                              else LABEL_W + span * (i + 0.5) / len(lvl))
    y_row = y_img + img_size + 40
    tops: dict[int, tuple[float, float]] = {}
    for depth, lvl in enumerate(levels):
        layer = lvl[0].layer if lvl else ""
        kind = "OR: basis chosen\nat each position" if depth == 0 else "children"
        d.text((GAP, y_row + 8), f"{LAYER_TITLES.get(depth, '')} ({layer})\n{kind}", fill="black", font=_font(13))
        for n in lvl:
            cx = centres[id(n)]
            x0 = int(cx - TILE / 2)
            tile = _to_pil(n.image, TILE)
            canvas.paste(tile, (x0 + (TILE - tile.width) // 2, y_row + (TILE - tile.height) // 2))
            d.rectangle([x0 - 1, y_row - 1, x0 + TILE, y_row + TILE], outline=(120, 120, 120))
            d.text((x0, y_row + TILE + 3), f"({n.y},{n.x}) #{n.channel}", fill="black", font=_font(11))
            tops[id(n)] = (cx, y_row)
        y_row += row_h
    # edges: image position -> OR node, parent -> child
    for i, n in enumerate(roots):
        col = colours[i % len(colours)]
        d.line([(x_img + (n.x + 0.5) * cell, y_img + (n.y + 1) * cell), tops[id(n)]], fill=col, width=2)
    for lvl in levels[:-1]:
        for n in lvl:
            px, py = tops[id(n)]
            for c in n.children:
                d.line([(px, py + TILE + 16), tops[id(c)]], fill=(90, 90, 90), width=1)
    return canvas


def draw_dictionary(view: dict[str, list[tuple[int, float, Tensor]]], title: str) -> Image.Image:
    per = max((len(v) for v in view.values()), default=1)
    width = LABEL_W + per * (TILE + GAP) + GAP
    row_h = TILE + 34
    canvas = Image.new("RGB", (width, 40 + len(view) * row_h), "white")
    d = ImageDraw.Draw(canvas)
    d.text((GAP, 8), title, fill="black", font=_font(16))
    y = 40
    for layer, entries in view.items():
        d.text((GAP, y + 20), layer, fill="black", font=_font(14))
        for j, (c, share, render) in enumerate(entries):
            x = LABEL_W + j * (TILE + GAP)
            tile = _to_pil(render, TILE)
            canvas.paste(tile, (x + (TILE - tile.width) // 2, y + (TILE - tile.height) // 2))
            d.rectangle([x - 1, y - 1, x + TILE, y + TILE], outline=(120, 120, 120))
            d.text((x, y + TILE + 3), f"#{c} {100 * share:.0f}%", fill="black", font=_font(11))
        y += row_h
    return canvas


def tree_images(run_dir: str | Path, sample: int = 0) -> tuple[Image.Image, Image.Image]:
    """The AND-OR tree of sample ``sample`` of the run's samples.png grid, and the dictionary view."""
    model, config = load_run(run_dir)
    z_all = grid_latents(model, config.seed)
    if not 0 <= sample < len(z_all):
        raise GenbenchError(f"--sample {sample} is out of range; samples.png holds samples 0..{len(z_all) - 1}.")
    grid = layer_resolution(find_generator(model), LAYER3)
    image, roots = build_tree(model, z_all[sample:sample + 1])
    name = config.model_name
    tree = draw_tree(image, roots, grid, f"{name}: AND-OR tree of sample {sample} (Fig. 1)")
    dic = draw_dictionary(dictionary(model, seed=config.seed),
                          "Dictionary: most used basis functions per layer (share of positions active)")
    return tree, dic


def tree_figure(run_dir: str | Path, sample: int = 0, out: str | Path | None = None) -> Path:
    """Write the AND-OR tree of sample ``sample`` of the run's samples.png grid, with the dictionary
    view under it, as one PNG (default: RUN_DIR/tree.png). Returns the path written."""
    tree, dic = tree_images(run_dir, sample)
    fig = Image.new("RGB", (max(tree.width, dic.width), tree.height + dic.height + 10), "white")
    fig.paste(tree, (0, 0))
    fig.paste(dic, (0, tree.height + 10))
    path = Path(out) if out is not None else Path(run_dir) / "tree.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.save(tmp, format="png")
    return path
