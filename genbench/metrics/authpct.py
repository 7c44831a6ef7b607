"""``authpct`` in every feature space: AuthPct, the percentage of generated samples that are "authentic" (after
Alaa et al., "How Faithful is your Synthetic Data?", ICML 2022): a sample is not authentic when it is at least as
close to its nearest training point as that point is to its own nearest other training point
(genbench.metrics.core.authenticity, with the rule's reference and its fixed bug). A second memorisation
reading beside ``copying`` (C_T): per sample and without k-means cells, but with no test behind it.

How to read it: fresh data is not 100 % authentic (a fresh sample and a training point can be each other's
nearest neighbours): the record's ``heldout`` is the held-out images' own AuthPct against the same training set,
the level a model that generalises should reach. Well below it: samples sit on training points (copies read 0);
about it: fine; above it: samples farther from the data than fresh images (blur, noise read ~100). So no best is
marked (``higher_is_better = None``), as for ``copying``. In a random or off-domain space, "nearest" may not mean
"similar"; compare spaces.

Samples: every training image (a copy of an image outside a subset would look authentic), the n generated
samples ``fd`` embeds, the whole held-out split for the baseline. Interval: bootstrap over generated samples
(a mean of per-sample flags; genbench.metrics.core.bootstrap.mean_interval, B = 200).
"""

from __future__ import annotations

from genbench.api import EvalContext, Score
from genbench.metrics.core import bootstrap
from genbench.metrics.core.authenticity import authenticity, training_radii
from genbench.metrics.core.features import Extractor, generated_features, reference_features, sample_count
from genbench.metrics.core.spacemetric import SpaceMetric


class AuthPct(SpaceMetric):
    description = "AuthPct (after Alaa et al. 2022): % of samples not closer to a training point than its neighbour"
    family = "authpct"
    rank = 97
    higher_is_better = None
    version = 1

    def protocol(self, ctx: EvalContext) -> dict:
        return {"rule": "authentic iff d(g, nearest train) > that train point's nearest-other distance",
                "features": self.feature_space().identity(self.weights(ctx)), "train": "every training image",
                "n_train": len(ctx.train), "n_generated": sample_count(ctx), "seed": ctx.seed,
                "n_heldout": len(ctx.heldout) if ctx.heldout is not None else 0, "dataset": ctx.train.name,
                "image_size": ctx.train.image_size, "interval": bootstrap.describe("generated samples")}

    def scores(self, ctx: EvalContext, extractor: Extractor) -> list[Score]:
        train, _ = reference_features(extractor, ctx.train, len(ctx.train), ctx.cache_dir)
        radii = training_radii(train)
        fake = generated_features(extractor, ctx.model, sample_count(ctx), ctx.seed)
        r = authenticity(train, fake, radii)
        extra = {"n_train": len(train), "n_generated": len(fake)}
        if ctx.heldout is not None and len(ctx.heldout):
            heldout, _ = reference_features(extractor, ctx.heldout, len(ctx.heldout), ctx.cache_dir)
            extra["heldout"] = round(authenticity(train, heldout, radii).percent, 4)
        interval = bootstrap.mean_interval(r.percent, r.authentic.astype(float) * 100, units="generated samples")
        note = f"held-out images read {extra['heldout']:.1f}" if "heldout" in extra else "no held-out baseline"
        return [Score(self.name, r.percent, "ok", note, None, {**extra, **bootstrap.extra(interval)})]
