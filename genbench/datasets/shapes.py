"""``shapes``: a synthetic image grammar that is itself an AND-OR model, with known parts.

    object (AND)      = head on a smooth background + 4 part slots: left eye, right eye, nose, mouth
    slot (OR)         = one of 3 part types for that slot
    part type (AND)   = a few primitives (bars, discs, arcs) in a fixed arrangement
    instance          = the part type jittered in position, scale and colour

Every image carries its ground-truth parse (type, centre, scale of each slot), and each part type
can be rendered alone (``part_templates``). ``part_masks`` gives, per image, the pixels of each
(slot, part type) concept: the ground truth of the ``dissect`` metric.
Seeded and deterministic: the same (split, image_size, n, seed) gives the same images.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from genbench.api import Dataset, ImageSet, PartMasks

# Slots: name, canonical centre (x, y) in [0, 1] image coordinates (y down), part-type choices.
SLOTS = [
    ("left_eye", (0.34, 0.40), ("eye_disc", "eye_ring", "eye_brow")),
    ("right_eye", (0.66, 0.40), ("eye_disc", "eye_ring", "eye_brow")),
    ("nose", (0.50, 0.57), ("nose_bar", "nose_dots", "nose_hook")),
    ("mouth", (0.50, 0.76), ("mouth_bar", "mouth_smile", "mouth_o")),
]
PART_TYPES = sorted({t for _, _, types in SLOTS for t in types})

# Each part type: (base colour RGB in [0,1], primitives). Primitive coordinates are relative to the
# part centre, in units of the image side; the colour of a primitive may override the part's.
PARTS: dict[str, tuple[tuple[float, float, float], list[tuple]]] = {
    "eye_disc": ((0.10, 0.12, 0.35), [("disc", 0.0, 0.0, 0.075)]),
    "eye_ring": ((0.05, 0.30, 0.10), [("disc", 0.0, 0.0, 0.085), ("disc", 0.0, 0.0, 0.04, (0.95, 0.95, 0.9))]),
    "eye_brow": ((0.25, 0.12, 0.05), [("bar", -0.07, -0.08, 0.07, -0.08, 0.035), ("disc", 0.0, 0.01, 0.05)]),
    "nose_bar": ((0.45, 0.22, 0.10), [("bar", 0.0, -0.08, 0.0, 0.07, 0.045)]),
    "nose_dots": ((0.30, 0.10, 0.10), [("disc", -0.045, 0.0, 0.032), ("disc", 0.045, 0.0, 0.032)]),
    "nose_hook": ((0.40, 0.25, 0.05), [("bar", 0.0, -0.08, 0.0, 0.05, 0.04), ("bar", 0.0, 0.05, 0.07, 0.05, 0.04)]),
    "mouth_bar": ((0.70, 0.08, 0.10), [("bar", -0.13, 0.0, 0.13, 0.0, 0.05)]),
    "mouth_smile": ((0.75, 0.10, 0.20), [("arc", 0.0, -0.09, 0.14, 25.0, 155.0, 0.045)]),
    "mouth_o": ((0.55, 0.05, 0.10), [("arc", 0.0, 0.0, 0.065, 0.0, 360.0, 0.04)]),
}


def _coverage(dist_px: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage from a signed distance in pixels (negative inside)."""
    return np.clip(0.5 - dist_px, 0.0, 1.0)


def _primitive_distance(prim: tuple, cx: float, cy: float, s: float, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Signed distance (image-side units) from each pixel centre to the primitive."""
    kind = prim[0]
    if kind == "disc":
        _, dx, dy, r = prim[:4]
        return np.hypot(X - (cx + s * dx), Y - (cy + s * dy)) - s * r
    if kind == "bar":
        _, x0, y0, x1, y1, t = prim[:6]
        ax, ay, bx, by = cx + s * x0, cy + s * y0, cx + s * x1, cy + s * y1
        vx, vy = bx - ax, by - ay
        h = np.clip(((X - ax) * vx + (Y - ay) * vy) / max(vx * vx + vy * vy, 1e-12), 0.0, 1.0)
        return np.hypot(X - ax - h * vx, Y - ay - h * vy) - s * t / 2
    if kind == "arc":
        _, dx, dy, r, a0, a1, t = prim[:7]
        ox, oy = cx + s * dx, cy + s * dy
        ang = np.degrees(np.arctan2(Y - oy, X - ox)) % 360.0
        inside = (ang >= a0) & (ang <= a1) if a1 - a0 < 360 else np.ones_like(ang, bool)
        ring = np.abs(np.hypot(X - ox, Y - oy) - s * r) - s * t / 2
        ends = []
        for a in (a0, a1):
            ex, ey = ox + s * r * np.cos(np.radians(a)), oy + s * r * np.sin(np.radians(a))
            ends.append(np.hypot(X - ex, Y - ey) - s * t / 2)
        return np.where(inside, ring, np.minimum(*ends))
    raise ValueError(kind)


def _paint(canvas: np.ndarray, part: str, cx: float, cy: float, s: float, colour: np.ndarray,
           X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Alpha-composite one part instance onto canvas (H, W, 3) on the pixel grid X, Y (``_grid``);
    returns the part's coverage."""
    size = X.shape[1]
    total = np.zeros(canvas.shape[:2])
    for prim in PARTS[part][1]:
        override = prim[-1] if isinstance(prim[-1], tuple) else None
        col = np.asarray(override) if override is not None else colour
        a = _coverage(_primitive_distance(prim, cx, cy, s, X, Y) * size)[..., None]
        canvas[:] = canvas * (1 - a) + col * a
        total = np.maximum(total, a[..., 0])
    return total


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    c = (np.arange(size) + 0.5) / size
    return np.meshgrid(c, c)  # X varies along columns, Y along rows


def render_images(n: int, size: int, seed: int, omit_slot: int | None = None
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """n images (n, 3, size, size) uint8 and their parses. The parse's ``cover`` (n, slots, size, size)
    uint8 is each slot's part coverage (255 = pixel fully covered), as painted. ``omit_slot`` leaves
    that slot's part unpainted (same random stream, so every other pixel is identical): for tests."""
    rng = np.random.default_rng(seed)
    X, Y = _grid(size)
    imgs = np.empty((n, 3, size, size), np.uint8)
    types = np.empty((n, len(SLOTS)), np.int64)
    centres = np.empty((n, len(SLOTS), 2))
    scales = np.empty((n, len(SLOTS)))
    cover = np.zeros((n, len(SLOTS), size, size), np.uint8)
    for i in range(n):
        part_cover = np.zeros((len(SLOTS), size, size))
        # smooth background: a linear gradient between two muted colours
        c0, c1 = rng.uniform(0.25, 0.75, 3), rng.uniform(0.25, 0.75, 3)
        ang = rng.uniform(0, 2 * np.pi)
        t = np.clip(0.5 + (X - 0.5) * np.cos(ang) + (Y - 0.5) * np.sin(ang), 0, 1)[..., None]
        canvas = c0 * (1 - t) + c1 * t
        # the object's head: an ellipse in a skin-like tone
        hx, hy = 0.5 + rng.uniform(-0.02, 0.02), 0.56 + rng.uniform(-0.02, 0.02)
        rx, ry = 0.40 * rng.uniform(0.95, 1.05), 0.44 * rng.uniform(0.95, 1.05)
        skin = np.clip(np.array([0.93, 0.76, 0.62]) + rng.uniform(-0.08, 0.08, 3), 0, 1)
        d = (np.hypot((X - hx) / rx, (Y - hy) / ry) - 1.0) * min(rx, ry) * size
        a = _coverage(d)[..., None]
        canvas = canvas * (1 - a) + skin * a
        for j, (_, (sx, sy), choices) in enumerate(SLOTS):
            k = rng.integers(len(choices))
            part = choices[k]
            cx, cy = sx + rng.uniform(-0.03, 0.03), sy + rng.uniform(-0.03, 0.03)
            s = rng.uniform(0.85, 1.15)
            colour = np.clip(np.asarray(PARTS[part][0]) + rng.uniform(-0.08, 0.08, 3), 0, 1)
            if j != omit_slot:
                a = _paint(canvas, part, cx, cy, s, colour, X, Y)
                part_cover[:j] *= 1 - a  # what this part paints over is no longer the earlier parts'
                part_cover[j] = a
            types[i, j] = PART_TYPES.index(part)
            centres[i, j] = (cx, cy)
            scales[i, j] = s
        imgs[i] = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8).transpose(2, 0, 1)
        cover[i] = np.round(part_cover * 255).astype(np.uint8)
    return imgs, {"part_type": types, "centre": centres, "scale": scales, "cover": cover}


def part_template(part: str, size: int) -> np.ndarray:
    """The part type rendered alone at its canonical scale in its base colour, cropped to its
    support, as float (3, h, w) in [-1, 1] on a black (-1) background."""
    X, Y = _grid(size)
    canvas = np.zeros((size, size, 3))
    cover = _paint(canvas, part, 0.5, 0.5, 1.0, np.asarray(PARTS[part][0]), X, Y)
    rows, cols = np.nonzero(cover > 0.01)
    crop = canvas[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return crop.transpose(2, 0, 1) * 2.0 - 1.0


@lru_cache(maxsize=8)
def _cached(split: str, size: int, n: int, seed: int):
    # the held-out split is drawn from an independent stream of the same grammar
    stream = seed * 2 + (1 if split == "heldout" else 0)
    return render_images(n, size, 7919 + stream)


class Shapes(Dataset):
    description = "synthetic AND-OR face grammar with ground-truth parts (embedded, any N, 16-64 px)"
    default_n = 10000

    def load(self, split: str, image_size: int, n: int | None = None, seed: int = 0, **options) -> ImageSet:
        n = self.default_n if n is None else n
        imgs, parse = _cached(split, image_size, n, seed)
        meta = {"parse": parse, "slots": [s[0] for s in SLOTS], "part_types": PART_TYPES}
        return ImageSet(torch.from_numpy(imgs), "shapes", split, meta)

    def part_masks(self, images: ImageSet, index: torch.Tensor) -> PartMasks:
        """The 12 concepts (slot x part type) of images[index]: the pixels, covered at least half by
        that part, of each (slot, type) whose type the image's parse chose for that slot; empty
        otherwise. A concept's group is its slot (the where-only control of ``dissect``)."""
        parse = images.meta["parse"]
        idx = torch.as_tensor(index).long().numpy()
        covered = torch.from_numpy(parse["cover"][idx] >= 128)  # (n, slots, H, W)
        types = torch.from_numpy(parse["part_type"][idx])  # (n, slots)
        masks, concepts, groups = [], [], []
        for j, (slot, _, choices) in enumerate(SLOTS):
            for part in choices:
                chosen = types[:, j] == PART_TYPES.index(part)
                masks.append(covered[:, j] & chosen[:, None, None])
                concepts.append(f"{slot}:{part}")
                groups.append(slot)
        return PartMasks(torch.stack(masks, 1), concepts, groups)

    def part_templates(self, image_size: int) -> dict[str, torch.Tensor]:
        """Ground-truth render of every part type, alone at its canonical scale."""
        return {p: torch.from_numpy(part_template(p, image_size)).float() for p in PART_TYPES}
