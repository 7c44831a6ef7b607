"""Feature sets for the feature-space metrics (``fid``, ``kid``, ``fd_rand``, ``kid_rand``).

Real-image features are computed once per image set and space and cached on disk in chunks of ``CHUNK`` images,
``<cache_dir>/features/<hash>-<k>.npz``; the hash covers the extractor's identity (network and weights
hash, resize, preprocessing) and the data (dataset, split, image size and a fingerprint of all the pixels), so a
second run extracts no real-image features, any change to these misses the cache, and the first n images' features
(FD's 2048) are read from the whole set's (the copying test's) whichever metric came first.
The cache is read with ``allow_pickle=False`` (a crafted file cannot run code), and a file that does not
hold an (n, d) float array is recomputed and replaced.
Generated-image features are memoised in memory per model object, state fingerprint (parameters and buffers) and
space, so the metrics of one space sample and embed the generated images once, in whatever order the metrics of
several spaces come (an earlier memo held one space at a time, and every switch of space embedded them again).
Under torchrun the batches and generator chunks are split among the ranks and the features gathered
(genbench.metrics.core.shard): the same features as one process computes.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from genbench.api import FeatureSpace, GenerativeModel, ImageSet, Weights
from genbench.io import atomic_path, cache_path, json_hash
from genbench.metrics.core import shard
from genbench.metrics.core.inference import state_fingerprint

CHUNK = 500  # images per batch given to an extractor (and per generator chunk): the unit split among torchrun ranks


class Extractor(Protocol):
    identity: dict[str, Any]

    def __call__(self, images: torch.Tensor) -> np.ndarray: ...


def data_fingerprint(images: ImageSet) -> str:
    """First 16 hex digits of the SHA-256 of the uint8 pixels (cheap next to any feature extraction)."""
    return hashlib.sha256(images.images.contiguous().numpy().tobytes()).hexdigest()[:16]


def reference_protocol(extractor: Extractor, images: ImageSet, n: int) -> dict[str, Any]:
    return {**extractor.identity, "dataset": images.name, "split": images.split, "n": n,
            "image_size": images.image_size, "data_sha256": data_fingerprint(images)}


def protocol_hash(protocol: dict[str, Any]) -> str:
    return json_hash(protocol, 20)


def chunk_key(extractor: Extractor, images: ImageSet) -> str:
    """The cache key of an image set's feature chunks in one space: the reference protocol without n (a chunk
    holds the features of images [k CHUNK, (k + 1) CHUNK) whatever n asked for them) and the chunk size."""
    protocol = {k: v for k, v in reference_protocol(extractor, images, 0).items() if k != "n"}
    return protocol_hash({**protocol, "chunk": CHUNK})


def chunk_file(key: str, k: int) -> tuple[str, str]:
    """The cache path parts of chunk ``k`` under ``cache_dir``."""
    return "features", f"{key}-{k}.npz"


def reference_features(extractor: Extractor, images: ImageSet, n: int, cache_dir: str | os.PathLike | None,
                       ) -> tuple[np.ndarray, dict[str, Any]]:
    """Features of the first ``n`` images of ``images`` and {'cache': 'hit'|'miss'|'off', 'key', 'path'}.

    The images are embedded in whole chunks of ``CHUNK`` (the last one ends with the image set), each cached on
    its own: every image is embedded in the same batch whatever n is asked, so the first 2048 training images'
    features are those of the whole training set's, computed once for both (at most CHUNK - 1 images beyond n
    are embedded to keep the batches whole)."""
    n = min(n, len(images))
    key = chunk_key(extractor, images)
    chunks = [slice(i, min(i + CHUNK, len(images))) for i in range(0, n, CHUNK)]
    info: dict[str, Any] = {"cache": "off", "key": key}
    paths = [cache_path(cache_dir, *chunk_file(key, k)) for k in range(len(chunks))]
    found: list[np.ndarray | None] = [None] * len(chunks)
    if cache_dir is not None and all(p is not None for p in paths):
        info["path"] = str(paths[0].parent)
        found = [_read_cached(p, c.stop - c.start) if p.is_file() else None for p, c in zip(paths, chunks,
                                                                                             strict=True)]
        agreed = shard.all_agree_each([f is not None for f in found])  # torchrun: all read a chunk, or compute it
        found = [f if ok else None for f, ok in zip(found, agreed, strict=True)]
        info["cache"] = "hit" if all(f is not None for f in found) else "miss"
    missing = [k for k, f in enumerate(found) if f is None]
    computed = shard.embed_split([chunks[k] for k in missing], lambda rows: extractor(images.as_float(rows)))
    for k, feats in zip(missing, computed, strict=True):
        found[k] = feats.astype(np.float32).astype(np.float64)
        if info["cache"] != "off" and shard.is_writer():
            with atomic_path(paths[k]) as tmp, tmp.open("wb") as fh:
                np.savez(fh, features=feats.astype(np.float32),
                         protocol=json.dumps({**reference_protocol(extractor, images, 0), "chunk": [k, CHUNK]},
                                             sort_keys=True))
    return np.concatenate(found)[:n], info


def _read_cached(path: Path, n: int) -> np.ndarray | None:
    """The cached features (float64), or None when the file is not an (n, d) float array: a results folder
    travels, and its cache is data like the rest (never unpickled)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            feats = f["features"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if feats.dtype.kind != "f" or feats.ndim != 2 or len(feats) != n:
        return None
    return feats.astype(np.float64)


_GENERATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def generated_features(extractor: Extractor, model, n: int, seed: int, batch_size: int | None = None) -> np.ndarray:
    """Features of ``model.sample_chunks(n, seed)``, memoised per model object while its parameters stay the same."""
    memo = _GENERATED.setdefault(model, {})
    state = state_fingerprint(model)
    if memo.get("state") != state:  # the model changed: none of its features hold
        memo.clear()
        memo["state"] = state
    key = (protocol_hash(extractor.identity), n, seed)  # one entry per space: metrics of several spaces interleave
    if key not in memo:
        feats = shard.embed_split(_chunks(model, n, seed, batch_size or CHUNK), lambda chunk: extractor(chunk()))
        memo[key] = np.concatenate(feats).astype(np.float32).astype(np.float64)
    return memo[key]


def _chunks(model, n: int, seed: int, batch_size: int) -> list:
    """``model.sample_chunks(n, seed)`` as thunks, so that under torchrun each rank generates only its own
    chunks (chunk i is ``sample(size, seed * 1_000_003 + i)``, whoever draws it); a model that yields its own
    chunks (a fixed image set) is read whole, each rank embedding its share."""
    if type(model).sample_chunks is GenerativeModel.sample_chunks:
        return [lambda i=i: model.sample(min(batch_size, n - i), seed=seed * 1_000_003 + i)
                for i in range(0, n, batch_size)]
    return [lambda x=x: x for x in model.sample_chunks(n, seed, batch_size)]


# -- shared by the feature-space metric plugins --------------------------------------------------
MIN_RELIABLE_N = 2048  # below this FID is strongly biased (Heusel et al. 2017 use >= 10k; pytorch-fid warns)


def sample_count(ctx) -> int:
    """Images per side for feature-space metrics: the training-set size, as in the paper (docs/method.md
    section 5: generated samples = training images, real statistics from the training set), unless the
    run setting ``n_fid`` (``ctx.settings.n_fid``) caps it, e.g. for a CPU demo."""
    cap = ctx.settings.n_fid
    return min(int(cap), len(ctx.train)) if cap else len(ctx.train)


def small_sample_note(n: int, what: str) -> str:
    """A note for a Fréchet distance from fewer than ``MIN_RELIABLE_N`` samples (its value is then marked †)."""
    return (f"{what} from {n} < {MIN_RELIABLE_N} samples is biased upwards; not comparable with published values"
            if n < MIN_RELIABLE_N else "")


def feature_protocol(ctx, identity: dict[str, Any]) -> dict[str, Any]:
    n = sample_count(ctx)
    return {**identity, "n_fake": n, "n_real": n, "split": ctx.train.split,
            "dataset": ctx.train.name, "image_size": ctx.train.image_size, "seed": ctx.seed}


def fewer_fakes_note(info: dict[str, Any], ctx) -> str:
    """A note when the generated side is smaller than the protocol's n (a fixed image set with fewer images
    than that): the value is then marked † like any value from too few samples."""
    n = sample_count(ctx)
    return f"from {info['n_fake']} generated images, fewer than the protocol's {n}" if info["n_fake"] < n else ""


class SpaceExtractor:
    """A feature space's network as an Extractor: images in [-1, 1] (1-channel repeated to RGB) -> (n, dims)
    float64 features; the network gets [0, 1] and does its own resize and normalisation."""

    def __init__(self, space: FeatureSpace, weights: Weights, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.dims, self.batch_size = space.dims, space.batch_size
        self.identity = space.identity(weights)
        key = (space.name, weights.sha256)
        if key not in _NETS:
            _NETS[key] = space.build(weights.path)
        self.net = _NETS[key].to(self.device)

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        return embed(self.net, images, self.device, self.batch_size, self.dims)


@torch.no_grad()
def embed(net, images: torch.Tensor, device: torch.device, batch_size: int, dims: int) -> np.ndarray:
    """``net`` on ``images`` in [-1, 1], batch by batch: each batch clamped, 1-channel images repeated to RGB,
    mapped to [0, 1]; (n, dims) float64 features."""
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device, torch.float32)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        out.append(net((x.clamp(-1, 1) + 1) / 2).double().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, dims))


_NETS: dict[tuple[str, str | None], torch.nn.Module] = {}  # one network per (space, weights file) per process


def space_extractor(space: FeatureSpace, weights: Weights, device: torch.device | str) -> Extractor | None:
    """The extractor of ``space`` with its resolved ``weights``, or None when they are unavailable. A space may
    give its own (``make_extractor``: Inception and the random CNN keep the extractors their values came from)."""
    if not weights.available:
        return None
    maker = getattr(space, "make_extractor", None)
    return maker(weights, device) if maker is not None else SpaceExtractor(space, weights, device)


def feature_sets(ctx, extractor: Extractor) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(real features of the first n training images, cached; generated features, memoised; info)."""
    real, info = reference_features(extractor, ctx.train, sample_count(ctx), ctx.cache_dir)
    fake = generated_features(extractor, ctx.model, sample_count(ctx), ctx.seed)
    return real, fake, {"n_real": len(real), "n_fake": len(fake), "reference_cache": info["cache"]}
