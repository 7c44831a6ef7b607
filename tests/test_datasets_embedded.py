"""Embedded datasets: deterministic, right shapes, ground-truth parses and part renders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genbench.datasets.shapes import PART_TYPES, SLOTS, Shapes, render_images
from genbench.registry import get_dataset


@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_sizes_and_determinism(size):
    a, pa = render_images(12, size, seed=5)
    b, pb = render_images(12, size, seed=5)
    assert a.shape == (12, 3, size, size) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(pa["part_type"], pb["part_type"])
    c, _ = render_images(12, size, seed=6)
    assert not np.array_equal(a, c)


def test_shapes_parse_is_an_and_or_choice_per_slot():
    ds = Shapes().load("train", 32, 300)
    types = ds.meta["parse"]["part_type"]
    assert types.shape == (300, len(SLOTS))
    for j, (_, _, choices) in enumerate(SLOTS):
        used = {PART_TYPES[t] for t in types[:, j]}
        assert used == set(choices)  # each slot is an OR over exactly its part types
    held = Shapes().load("heldout", 32, 300)
    assert not torch.equal(ds.images, held.images)


def test_part_templates_show_the_part_alone():
    templates = Shapes().part_templates(64)
    assert set(templates) == set(PART_TYPES)
    for name, t in templates.items():
        assert t.shape[0] == 3 and t.min() >= -1 and t.max() <= 1
        assert t.shape[1] >= 3 and t.shape[2] >= 3, name
        assert (t > -0.9).any()  # the part is drawn, not just background


def test_a_part_changes_the_pixels_where_its_slot_is():
    """Swapping one slot's part type changes the image near that slot and nowhere far from it."""
    imgs, parse = render_images(200, 64, seed=1)
    mouth = [s[0] for s in SLOTS].index("mouth")
    by_type = {t: imgs[parse["part_type"][:, mouth] == t].astype(float).mean(0) for t in
               set(parse["part_type"][:, mouth])}
    a, b = list(by_type.values())[:2]
    diff = np.abs(a - b).mean(0)
    assert diff[44:54, 20:44].mean() > 3 * diff[5:20, :].mean()


@pytest.mark.parametrize("name, n", [("patches", 20), ("lfw", 90)])
def test_real_embedded_datasets(name, n):
    ds = get_dataset(name)()
    train = ds.load("train", 32, n if name == "patches" else None)
    assert train.images.shape == (n, 3, 32, 32) and train.images.dtype == torch.uint8
    x = train.as_float()
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.05
    assert torch.equal(ds.load("train", 32, train.images.shape[0]).images, train.images)
    held = ds.load("heldout", 32, 10)
    assert held.images.shape[0] == 10 and not torch.equal(held.images[:10], train.images[:10])


def test_part_masks_cover_the_part_and_nothing_else():
    """Removing one slot's part changes exactly the pixels its mask covers (anti-aliased edges aside)."""
    full, parse = render_images(40, 32, seed=3)
    ds = Shapes()
    from genbench.api import ImageSet

    parts = ds.part_masks(ImageSet(torch.from_numpy(full), "shapes", meta={"parse": parse}), torch.arange(40))
    assert parts.masks.shape == (40, 12, 32, 32) and len(parts.concepts) == 12
    assert parts.groups == [s[0] for s in SLOTS for _ in range(3)]
    for j, (slot, _, choices) in enumerate(SLOTS):
        without, _ = render_images(40, 32, seed=3, omit_slot=j)
        changed = torch.from_numpy(np.abs(full.astype(int) - without.astype(int)).max(1) > 0)
        slot_masks = parts.masks[:, 3 * j:3 * j + 3]
        # only the chosen part type's concept is non-empty in each image
        chosen = torch.from_numpy(parse["part_type"][:, j])
        for k, part in enumerate(choices):
            present = slot_masks[:, k].flatten(1).any(1)
            assert not (present & (chosen != PART_TYPES.index(part))).any()
            assert present[chosen == PART_TYPES.index(part)].float().mean() > 0.9  # visible when chosen
        mask = slot_masks.any(1)
        assert (mask & ~changed).sum() == 0  # every masked pixel belongs to the part
        # every pixel the part changes is masked, or at its anti-aliased edge (next to a masked pixel)
        near = torch.nn.functional.max_pool2d(mask.float()[:, None], 3, 1, 1)[:, 0] > 0
        assert (changed & ~near).sum() == 0, slot
        # thin parts at 32 px: about half of what they change is anti-aliased edge (nose measured 0.50)
        assert mask.sum() >= 0.4 * changed.sum(), slot
