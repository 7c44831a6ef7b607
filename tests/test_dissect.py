"""``dissect``: the IoU maths against brute force, and the protocol validated where the answer is known --
an oracle whose units are the true parts reads 1, where-only units 0, and units that know nothing of
these images' parts (shuffled masks, an untrained generator) read below 0, never above."""

from __future__ import annotations

import pytest
import torch
from metric_fakes import FakeGenerator, single_blas_thread  # noqa: F401

from genbench.api import DataInfo, EvalContext, EvalSettings, GenerativeModel, ModelConfig, PartMasks
from genbench.datasets.shapes import Shapes
from genbench.eval.evaluator import score_metrics
from genbench.metrics.core.dissection import (
    QUANTILE_FRACTIONS,
    causal_share,
    choose_detectors,
    pooled_masks,
    score_detectors,
)
from genbench.metrics.dissect import Dissect, dissect_activations
from genbench.registry import get_metric, get_model
from genbench.render import trace_layer
from genbench.run.config import resolve
from genbench.store.records import Record


@pytest.fixture(scope="module")
def shapes():
    ds = Shapes()
    train = ds.load("train", 32, 400)
    return ds, train, ds.part_masks(train, torch.arange(400))


def test_detector_choice_equals_brute_force_over_units_and_thresholds():
    g = torch.Generator().manual_seed(0)
    act = torch.relu(torch.randn(20, 5, 4, 4, generator=g))  # ReLU: many ties at 0, as in a generator
    masks = torch.rand(20, 3, 8, 8, generator=g) > 0.7
    choice = choose_detectors(act, masks)
    up = torch.nn.functional.interpolate(act, size=(8, 8), mode="bilinear", align_corners=False)
    for c in range(3):
        best = -1.0
        for u in range(5):
            vals = up[:, u].flatten().sort(descending=True).values
            for f in QUANTILE_FRACTIONS:
                t = vals[min(int(round(float(f) * len(vals))), len(vals) - 1)]
                on = up[:, u] > t
                iou = float((on & masks[:, c]).sum()) / float((on | masks[:, c]).sum())
                best = max(best, iou)
        assert float(choice.fit_iou[c]) == pytest.approx(best, abs=1e-12)
        # the chosen (unit, threshold) reproduces its IoU when scored on the same images
        assert float(score_detectors(act, masks, choice)[c]) == pytest.approx(best, abs=1e-12)


def test_masks_as_units_score_one_and_empty_units_zero():
    g = torch.Generator().manual_seed(1)
    masks = torch.rand(10, 2, 8, 8, generator=g) > 0.5
    choice = choose_detectors(masks.float(), masks)
    assert torch.allclose(score_detectors(masks.float(), masks, choice), torch.ones(2, dtype=torch.float64))
    dead = torch.zeros(10, 3, 8, 8)
    assert torch.all(score_detectors(dead, masks, choose_detectors(dead, masks)) == 0)


def test_oracle_reads_one_and_shuffled_masks_read_zero(shapes):
    """An oracle layer whose units are the 12 true part masks (pooled to 8x8) among 52 noise units reads
    1; the same layer scored against masks shuffled across images keeps at most where parts sit, and a
    unit selective for one part type, now on a random third of the images, does worse than a slot unit
    that fires on every image: below 0."""
    _, _, parts = shapes
    g = torch.Generator().manual_seed(2)
    oracle = pooled_masks(parts.masks, (8, 8))
    noise = torch.relu(torch.randn(len(oracle), 52, 8, 8, generator=g))
    layer = torch.cat([noise, oracle], 1)[:, torch.randperm(64, generator=g)]
    res = dissect_activations(layer, parts)
    assert res.normalised == pytest.approx(1.0, abs=0.02)  # measured 1.000 (the ceiling's units, found)
    assert res.detectors == 12
    assert 0.35 < float(res.ceiling.mean()) < 0.6 and 0.1 < float(res.control.mean()) < 0.3
    perm = torch.randperm(len(oracle), generator=g)
    shuffled = PartMasks(parts.masks[perm], parts.concepts, parts.groups)
    res_shuffled = dissect_activations(layer, shuffled)
    assert res_shuffled.normalised < 0.0  # measured -0.46
    assert float(res_shuffled.iou.mean()) < float(res_shuffled.control.mean())


def test_where_only_units_read_zero(shapes):
    """Units that fire on a slot whatever its part type are, by definition, the control: ~0."""
    _, _, parts = shapes
    slots = torch.stack([parts.masks[:, 3 * j:3 * j + 3].any(1) for j in range(4)], 1)
    res = dissect_activations(pooled_masks(slots, (8, 8)), parts)
    assert res.normalised == pytest.approx(0.0, abs=1e-9)


def test_untrained_generator_reads_below_zero(shapes):
    ds, train, _ = shapes
    cls = get_model("ours")
    _, cfgs = resolve("tiny", ["ours"], {"ours": cls}, None, {"image_size": "32"})
    torch.manual_seed(0)
    model = cls(cfgs["ours"], DataInfo("shapes", 32, len(train), 3))
    ctx = EvalContext(model, ds, train, None, torch.device("cpu"), 0, EvalSettings(200))
    scores = {s.name: s for s in Dissect().compute(ctx)}
    d = scores["dissect"]
    assert d.value < 0.0  # measured -0.74: an untrained generator does not even know where parts are
    assert d.extra["chance"] == pytest.approx(d.value, abs=0.25)  # the twin is untrained too (another init)
    assert scores["dissect_detectors"].extra["of"] == 12
    assert set(d.extra["per_concept"]) == set(ds.part_masks(train, torch.arange(2)).concepts)
    assert 0 <= d.extra["causal_share"] <= 1


def test_dissect_applies_to_tracers_that_infer_and_needs_part_masks(shapes):
    ds, train, _ = shapes
    needs = Dissect.requires
    for name in ("ours", "ours-dense", "abp", "abp-sparse", "vae", "ali", "alice"):
        assert needs <= set(get_model(name).provides), name
    for name in ("wgan", "dcgan", "coopnet", "cegan"):
        assert not needs <= set(get_model(name).provides), name
    cls = get_model("vae")
    _, cfgs = resolve("tiny", ["vae"], {"vae": cls}, None, None)
    model = cls(cfgs["vae"], DataInfo("patches", 16, 8, 3))
    no_parts = EvalContext(model, object(), train, None, torch.device("cpu"), 0, EvalSettings(8))
    assert Dissect().unmet_need(no_parts) is not None and Dissect().unmet_need(EvalContext(
        model, ds, train, None, torch.device("cpu"), 0, EvalSettings(8))) is None
    base = Record("patches", "vae", "tiny", 0, "", "", step=1)
    records = score_metrics(no_parts, [get_metric("dissect")], [], base, "now")  # the evaluator reads its needs
    assert [(r.metric, r.status) for r in records] == [(m, "n/a") for m in Dissect.columns]
    assert "part masks" in records[0].note


def test_trace_layer_reads_and_edits_the_layer():
    cls = get_model("ours")
    _, cfgs = resolve("tiny", ["ours"], {"ours": cls}, None, None)
    torch.manual_seed(0)
    gen = cls(cfgs["ours"], DataInfo("shapes", 16, 8, 3)).generator
    z = torch.randn(3, gen.latent_dim)
    with torch.no_grad():
        images, act = trace_layer(gen, z, "b8")
        assert torch.equal(images, gen(z)) and act.shape[-2:] == (8, 8)
        zeroed, act2 = trace_layer(gen, z, "b8", lambda a: torch.zeros_like(a))
    assert torch.equal(act, act2)  # activations are recorded before the edit
    assert not torch.allclose(zeroed, images)
    with pytest.raises(ValueError, match="conv blocks"):
        trace_layer(gen, z, "fc")


class RegionTracer(GenerativeModel):
    """Unit u paints only rows 4u..4u+3 of the image: the causal share of its change inside those rows is 1."""

    provides = ("generator", "tracer")

    def __init__(self):
        super().__init__(ModelConfig(latent_dim=2), DataInfo("fake", 8, 4, 1))
        self.p = torch.nn.Parameter(torch.zeros(1))

    def trace_layer(self, z, layer, edit=None):
        act = torch.ones(len(z), 2, 2, 2)
        out = edit(act) if edit is not None else act
        img = torch.zeros(len(z), 1, 8, 8)
        img[:, :, 0:4] = out[:, 0].mean((1, 2))[:, None, None, None]
        img[:, :, 4:8] = out[:, 1].mean((1, 2))[:, None, None, None]
        return img, act


def test_causal_share_is_one_where_the_unit_paints_only_the_part():
    masks = torch.zeros(5, 2, 8, 8, dtype=torch.bool)
    masks[:, 0, 0:4] = True
    masks[:, 1, 0:2] = True  # concept 1's unit (1) paints rows 4-7: none of its change is inside
    share = causal_share(RegionTracer().trace_layer, torch.zeros(5, 2), "b8", torch.tensor([0, 1]), masks)
    assert share.tolist() == [1.0, 0.0]
