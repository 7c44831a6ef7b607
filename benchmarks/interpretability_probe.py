"""Where is the part identity? A diagnostic beside ``dissect`` (issue 10, section 4).

``dissect`` asks whether single layer-3 units detect single parts. When it reads low, two different
things may be true: the generator does not know which part type an image has (its reconstructions
blur it away), or it knows but spreads that knowledge over many units. A linear probe tells them
apart: per slot, multinomial logistic regression from features to the slot's part type (3 classes,
chance 1/3), fitted on the even-numbered images and scored on the odd ones (``dissect``'s split).

Features, per trained run folder (and per untrained generator of the same config):
    layer-3  the b8 activations of g(z*), z* = infer(x), all units x positions (distributed code)
    slot     each b8 unit's mean activation over the slot's region (all units; location taken out)
    unit     the one b8 unit whose mean over the slot's region reads the type best (chosen on the fit images)
    recon    the pixels of the reconstruction g(z*)         (is the part type in the output at all?)
    image    the pixels of the training image itself         (the probe's ceiling)

The slot's region is where that slot's part covers a pixel in any of the n images, whatever its type (the same
region for every image and type: a region that followed the part's own shape would tell the type by itself),
pooled to the layer's grid as area weights. ``unit`` asks ``dissect``'s question without its spatial test: is
the type held by a single unit at all (one number per image, any firing pattern inside the slot), or only by
many together (``slot``)? ``dissect`` reads low both when units are not type-selective and when they are but
fire beyond the part's pixels; ``unit`` against ``slot`` tells those apart.

    python benchmarks/interpretability_probe.py /work/exp/interp/shapes/*/small-seed0
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch.nn import functional as F

from genbench.api import EvalContext, EvalSettings
from genbench.metrics.core.chance import untrained_twin
from genbench.metrics.dissect import latents_and_activations
from genbench.registry import get_dataset
from genbench.store.runfolder import RunFolder


def _fitted(features: np.ndarray, labels: np.ndarray) -> tuple[StandardScaler, LogisticRegression]:
    """The probe (standardised features, multinomial logistic regression) fitted on the even-numbered images."""
    fit = slice(0, None, 2)
    scaler = StandardScaler().fit(features[fit])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings at max_iter: the accuracy is what we report
        clf = LogisticRegression(max_iter=300, C=0.1).fit(scaler.transform(features[fit]), labels[fit])
    return scaler, clf


def probe(features: np.ndarray, labels: np.ndarray, rows: slice = slice(1, None, 2)) -> float:
    """Accuracy on ``rows`` (default the odd-numbered images) of a probe fitted on the even-numbered ones."""
    scaler, clf = _fitted(features, labels)
    return float(clf.score(scaler.transform(features[rows]), labels[rows]))


def best_unit(features: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """(accuracy on the odd-numbered images, unit) of the one column of ``features`` whose probe fitted on the
    even-numbered images reads them best there: the choice among the units is made on the fit images only."""
    on_fit = [probe(features[:, u:u + 1], labels, rows=slice(0, None, 2)) for u in range(features.shape[1])]
    unit = int(np.argmax(on_fit))  # the first best, as a strict > over the units in order
    return probe(features[:, unit:unit + 1], labels), unit


def slot_means(act: torch.Tensor, covered: np.ndarray) -> list[np.ndarray]:
    """Per slot, (n, units): each unit's mean activation over the slot's region, the pixels its part covers in
    any of the images (``covered`` (n, slots, H, W) bool), pooled to the activations' grid as area weights."""
    region = torch.from_numpy(covered.any(0)).float()  # (slots, H, W)
    weights = F.adaptive_avg_pool2d(region[None], tuple(act.shape[-2:]))[0]  # (slots, h, w)
    weights = weights / weights.sum((1, 2), keepdim=True)
    return [torch.einsum("nchw,hw->nc", act.float(), w).numpy() for w in weights]


def features(model, train, n: int) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """The probes' features of the first n training images, and per slot each unit's mean over the slot."""
    ctx = EvalContext(model, get_dataset("shapes")(), train, None, torch.device("cpu"), 0, EvalSettings(n // 2))
    z, act = latents_and_activations(ctx, n)
    with torch.no_grad():
        recon = torch.cat([model.generate(z[i:i + 200]).clamp(-1, 1) for i in range(0, n, 200)])
    return ({"layer-3": act.flatten(1).numpy(), "recon": recon.flatten(1).numpy(),
             "image": train.as_float(torch.arange(n)).flatten(1).numpy()},
            slot_means(act, train.meta["parse"]["cover"][:n] >= 128))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="genbench run folders (trained on shapes)")
    ap.add_argument("--n", type=int, default=1000, help="training images (half fit, half scored)")
    args = ap.parse_args()
    shapes = get_dataset("shapes")()
    print("| model | generator | slot | layer-3 probe | slot-pooled probe | best single unit (unit) | recon probe "
          "| image probe |\n|---|---|---|---:|---:|---:|---:|---:|")
    for run in args.runs:
        model, config = RunFolder(Path(run)).load_model()
        train = shapes.load("train", model.data.image_size, config.run.n_train, 0)
        types = train.meta["parse"]["part_type"][: args.n]
        slots = train.meta["slots"]
        for which, m in (("trained", model), ("untrained", untrained_twin(model))):
            feats, pooled = features(m, train, args.n)
            accs = {k: [probe(v, types[:, j]) for j in range(len(slots))] for k, v in feats.items()}
            accs["slot"] = [probe(pooled[j], types[:, j]) for j in range(len(slots))]
            unit, which_unit = zip(*(best_unit(pooled[j], types[:, j]) for j in range(len(slots))), strict=True)
            for j, slot in enumerate(slots + ["mean"]):
                pick = np.mean if j == len(slots) else (lambda values, j=j: values[j])
                single = f"{pick(unit):.2f}" + ("" if j == len(slots) else f" ({which_unit[j]})")
                cells = [f"{pick(accs[k]):.2f}" for k in ("layer-3", "slot")] + [single] + [
                    f"{pick(accs[k]):.2f}" for k in ("recon", "image")]
                print(f"| {config.model_name} | {which} | {slot} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
