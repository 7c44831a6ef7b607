"""``inception``: pytorch-fid's InceptionV3 pool3 (genbench.metrics.core.inception has the network): the space
of FID, KID, IS and Naeem et al.'s precision/recall as published. Its protocol and values are unchanged from
before genbench had feature spaces."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from genbench.api import FeatureSpace, Weights, WeightsFile
from genbench.metrics.core import inception
from genbench.metrics.core.weights import hub_checkpoints_dir


class InceptionSpace(FeatureSpace):
    network = inception.PROTOCOL["network"]
    dims = inception.DIMS
    preprocessing = {k: v for k, v in inception.PROTOCOL.items() if k != "network"}
    weights = WeightsFile(inception.FILENAMES[0], inception.SHA256_PREFIX,
                          url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                              "pt_inception-2015-12-05-6726825d.pth",
                          licence="Apache-2.0 (pytorch-fid's port of Google's TF inception-2015-12-05 graph)")
    comparable = "published FID / KID / IS / precision-recall computed with pytorch-fid's network (same n)"
    rank = 0

    def known_paths(self) -> list[tuple[Path, str]]:
        env = os.environ.get(inception.ENV_VAR)
        if env:  # the variable names one file, as --inception-weights does
            return [(Path(env).expanduser(), f"${inception.ENV_VAR}")]
        return [(hub_checkpoints_dir() / name, "torch hub cache") for name in inception.FILENAMES]

    def identity(self, weights: Weights) -> dict[str, Any]:
        return inception.identity(weights)

    def build(self, path: Path | None):
        return inception.load(path, allow_unverified=True)  # the resolver has checked the file already

    def make_extractor(self, weights: Weights, device):
        """The extractor FID has always used (one network per file, shared with ``isc``)."""
        return inception.extractor(weights, device)
