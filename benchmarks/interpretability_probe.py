"""Where is the part identity? A diagnostic beside ``dissect`` (issue 10, section 4).

``dissect`` asks whether single layer-3 units detect single parts. When it reads low, two different
things may be true: the generator does not know which part type an image has (its reconstructions
blur it away), or it knows but spreads that knowledge over many units. A linear probe tells them
apart: per slot, multinomial logistic regression from features to the slot's part type (3 classes,
chance 1/3), fitted on the even-numbered images and scored on the odd ones (``dissect``'s split).

Features, per trained run folder (and per untrained generator of the same config):
    layer-3  the b8 activations of g(z*), z* = infer(x), all units x positions (distributed code)
    recon    the pixels of the reconstruction g(z*)         (is the part type in the output at all?)
    image    the pixels of the training image itself         (the probe's ceiling)

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

from genbench.api import EvalContext, EvalSettings
from genbench.metrics.core.chance import untrained_twin
from genbench.metrics.dissect import latents_and_activations
from genbench.registry import get_dataset
from genbench.store.runfolder import RunFolder


def probe(features: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy on the odd-numbered images of a probe fitted on the even-numbered ones."""
    fit, score = slice(0, None, 2), slice(1, None, 2)
    scaler = StandardScaler().fit(features[fit])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings at max_iter: the accuracy is what we report
        clf = LogisticRegression(max_iter=300, C=0.1).fit(scaler.transform(features[fit]), labels[fit])
    return float(clf.score(scaler.transform(features[score]), labels[score]))


def features(model, train, n: int) -> dict[str, np.ndarray]:
    ctx = EvalContext(model, get_dataset("shapes")(), train, None, torch.device("cpu"), 0, EvalSettings(n // 2))
    z, act = latents_and_activations(ctx, n)
    with torch.no_grad():
        recon = torch.cat([model.generate(z[i:i + 200]).clamp(-1, 1) for i in range(0, n, 200)])
    return {"layer-3": act.flatten(1).numpy(), "recon": recon.flatten(1).numpy(),
            "image": train.as_float(torch.arange(n)).flatten(1).numpy()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="genbench run folders (trained on shapes)")
    ap.add_argument("--n", type=int, default=1000, help="training images (half fit, half scored)")
    args = ap.parse_args()
    shapes = get_dataset("shapes")()
    print("| model | generator | slot | layer-3 probe | recon probe | image probe |\n|---|---|---|---:|---:|---:|")
    for run in args.runs:
        model, config = RunFolder(Path(run)).load_model()
        train = shapes.load("train", model.data.image_size, config.run.n_train, 0)
        types = train.meta["parse"]["part_type"][: args.n]
        slots = train.meta["slots"]
        for which, m in (("trained", model), ("untrained", untrained_twin(model))):
            feats = features(m, train, args.n)
            accs = {k: [probe(v, types[:, j]) for j in range(len(slots))] for k, v in feats.items()}
            for j, slot in enumerate(slots + ["mean"]):
                row = [np.mean(a) if slot == "mean" else a[j] for a in accs.values()]
                print(f"| {config.model_name} | {which} | {slot} | " + " | ".join(f"{v:.2f}" for v in row) + " |",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
