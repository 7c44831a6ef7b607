"""A run's fixed-latent samples over training as one picture (issue 27), for the report: the grids the trainer
saves as ``watch/fixed_z-<step>.png`` (genbench.run.runlog), the first row of each (the same 8 latents every
time), one row per step in step order, the step written beside it; at most ``MAX_ROWS`` rows, evenly spread over
the run, the first and last always among them. Progress reads down the columns: the same images getting better.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MAX_ROWS = 12
PADDING = 1  # the grids' padding (genbench.run.trainer's make_grid)


def spread(items: list, most: int = MAX_ROWS) -> list:
    """At most ``most`` of ``items``, evenly spread, the first and the last kept."""
    if len(items) <= most:
        return list(items)
    return [items[i] for i in sorted({round(x) for x in np.linspace(0, len(items) - 1, most)})]


def grid_strip(grids: list[tuple[int, bytes]], image_size: int) -> bytes | None:
    """The strip of ``grids`` ((step, PNG bytes of a grid of ``image_size``-pixel samples), in step order) as a
    PNG; None when there is none. A grid whose size does not fit ``image_size`` is shown whole."""
    bands = []
    for step, png in grids:
        with Image.open(io.BytesIO(png)) as img:
            rgb = img.convert("RGB")
        row = image_size + 2 * PADDING  # the first row of samples with the padding above and below it
        bands.append((step, rgb.crop((0, 0, rgb.width, row)) if 0 < row <= rgb.height else rgb))
    if not bands:
        return None
    font = _font(max(9, min(14, bands[0][1].height * 2 // 3)))
    labels = [f"step {step}" for step, _ in bands]
    label_w = max(ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), t, font=font)[2] for t in labels) + 8
    canvas = Image.new("RGB", (label_w + max(b.width for _, b in bands), sum(b.height for _, b in bands)), "white")
    draw, y = ImageDraw.Draw(canvas), 0
    for text, (_, band) in zip(labels, bands, strict=True):
        canvas.paste(band, (label_w, y))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)  # right-aligned, centred on the band
        draw.text((label_w - 4 - right, y + (band.height - top - bottom) / 2), text, fill=(60, 60, 60), font=font)
        y += band.height
    buf = io.BytesIO()
    canvas.save(buf, format="png")
    return buf.getvalue()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType
    except (TypeError, AttributeError, OSError):
        return ImageFont.load_default()
