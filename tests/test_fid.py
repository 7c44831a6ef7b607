"""FID/KID weights handling (lookup order, SHA-256 refusal, explicit unverified mode), the cached
reference features, and the random-CNN metrics. No real Inception weights exist offline: the FID
path is exercised with hashed stand-in files and a stub network, never by accepting them silently."""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
import pytest
import torch
from metric_fakes import FakeGenerator, context, imageset, single_blas_thread  # noqa: F401
from torch import nn

from genbench import registry
from genbench.metrics.core import features, inception, randcnn
from genbench.metrics.core import weights as lookup
from genbench.metrics.core.weights import WeightsError, hub_checkpoints_dir, sha256_file
from genbench.metrics.lpips import LPIPS
from genbench.registry import get_metric


def _train(n=12, size=16, seed=0, name="fake"):
    return imageset(torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)), name)


def _fake_weights(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(256))
    return path


class StubNet(nn.Module):
    """Stands in for FIDInception in the unverified-mode test: (B,3,H,W) in [0,1] -> (B, 6)."""

    calls = 0

    def forward(self, x01):
        StubNet.calls += len(x01)
        return torch.cat([x01.mean((2, 3)), x01.std((2, 3))], 1)


def test_missing_weights_are_unavailable_with_where_to_put_them():
    model, train = FakeGenerator(), _train()
    s = get_metric("fid")().compute(context(model, train))[0]
    assert s.status == "unavailable" and s.value is None and s.name == "fid"
    assert "pt_inception-2015-12-05-6726825d.pth" in s.note and str(hub_checkpoints_dir()) in s.note
    assert "--weights inception=FILE" in s.note and len(s.note.splitlines()) == 1
    assert get_metric("kid")().compute(context(model, train))[0].status == "unavailable"
    assert "unavailable" in get_metric("fid")().protocol(context(model, train))["weights_sha256"]


def _lookup(inception_weights=None):
    """The Inception weights as a command resolves them (``--inception-weights``, the environment, offline)."""
    from genbench.run.plan import RunOptions, weights_policy

    policy = weights_policy(RunOptions(None, inception_weights=inception_weights, offline=True))
    return lookup.resolve(registry.get_space("inception")(), policy)


@pytest.mark.parametrize("where", ["hub", "hub-fidelity", "env", "option"])
def test_weights_with_wrong_hash_are_refused(tmp_path, monkeypatch, where):
    hub = hub_checkpoints_dir()
    path = {"hub": hub / inception.FILENAMES[0], "hub-fidelity": hub / inception.FILENAMES[1],
            "env": tmp_path / "env.pth", "option": tmp_path / "opt.pth"}[where]
    _fake_weights(path)
    if where == "env":
        monkeypatch.setenv("GENBENCH_INCEPTION_WEIGHTS", str(path))
    opts = {"inception_weights": str(path)} if where == "option" else {}
    w = _lookup(opts.get("inception_weights"))
    assert not w.available and "not the published file" in w.reason and str(path) in w.reason
    with pytest.raises(WeightsError):
        inception.load(path)  # the loader itself refuses, not only the lookup
    s = get_metric("fid")().compute(context(FakeGenerator(), _train(), **opts))[0]
    assert s.status == "unavailable" and s.value is None and "6726825d" in s.note and str(path) in s.note


def test_lookup_order_and_torch_fidelity_name(tmp_path, monkeypatch):
    from genbench.spaces.inception import InceptionSpace

    hub = hub_checkpoints_dir()
    fidelity = _fake_weights(hub / inception.FILENAMES[1])
    env = _fake_weights(tmp_path / "env.pth")
    opt = _fake_weights(tmp_path / "opt.pth")
    cached = lookup.weights_dir() / inception.FILENAMES[0]
    for p in (fidelity, cached, env, opt):  # make each one "published" in turn by matching the required prefix
        if p is cached:
            _fake_weights(cached)
        monkeypatch.setattr(InceptionSpace, "weights", dataclasses.replace(InceptionSpace.weights,
                                                                           sha256=sha256_file(p)[:8]))
        if p is env:
            monkeypatch.setenv("GENBENCH_INCEPTION_WEIGHTS", str(env))
        w = _lookup(str(opt) if p is opt else None)
        assert w.verified and w.path == p and w.sha256 == sha256_file(p)  # the cache wins over the hub
    missing = _lookup(str(tmp_path / "missing.pth"))
    assert not missing.available and "does not exist" in missing.reason


def test_unverified_weights_only_as_fid_unverified_and_reference_cache(tmp_path, monkeypatch):
    bad = _fake_weights(tmp_path / "random.pth")
    monkeypatch.setattr(inception, "load", lambda path, sha=None, allow_unverified=False:
                        StubNet() if allow_unverified else pytest.fail("verified load of a bad file"))
    monkeypatch.setattr(inception, "FIDInception", StubNet)
    model, train, cache = FakeGenerator(), _train(), tmp_path / "cache"
    opts = {"inception_weights": str(bad), "n_fid": 12}
    refused = get_metric("fid")().compute(context(model, train, cache, **opts))[0]  # no flag: refused
    assert refused.status == "unavailable"
    StubNet.calls = 0
    s = get_metric("fid")().compute(context(model, train, cache, allow_unverified_weights=True, **opts))[0]
    assert s.name == "fid_unverified" and s.status == "warn" and s.value is not None and s.value > 0
    assert "not fid" in s.note and s.extra["weights_sha256"] == sha256_file(bad)
    assert s.extra["reference_cache"] == "miss" and StubNet.calls == 12 + 12
    proto = get_metric("fid")().protocol(context(model, train, cache, allow_unverified_weights=True, **opts))
    assert proto["weights_verified"] is False and proto["weights_sha256"] == sha256_file(bad)
    # second run, same protocol: no real-image features are extracted (generated ones are memoised too)
    StubNet.calls = 0
    k = get_metric("kid")().compute(context(model, train, cache, allow_unverified_weights=True, **opts))[0]
    assert k.name == "kid_unverified" and k.extra["reference_cache"] == "hit" and StubNet.calls == 0


class CountingExtractor:
    def __init__(self, **identity):
        self.identity, self.calls = {"net": "counting", **identity}, 0

    def __call__(self, images):
        self.calls += len(images)
        return images.flatten(1)[:, :4].double().numpy()


def test_reference_cache_hit_and_miss_on_changed_protocol(tmp_path):
    train = _train(n=10)
    ex = CountingExtractor(weights_sha256="aaa", resize="none")
    f1, i1 = features.reference_features(ex, train, 10, tmp_path)
    assert i1["cache"] == "miss" and ex.calls == 10
    f2, i2 = features.reference_features(ex, train, 10, tmp_path)
    assert i2["cache"] == "hit" and ex.calls == 10 and np.array_equal(f1, f2) and i2["key"] == i1["key"]
    changed = [(CountingExtractor(weights_sha256="bbb", resize="none"), train, 10),   # other weights
               (CountingExtractor(weights_sha256="aaa", resize="299"), train, 10),    # other resize
               (ex, _train(n=10, seed=1), 10),                                        # other pixels
               (ex, _train(n=10, name="other"), 10)]                                  # other dataset
    keys = {i1["key"]}
    for e, data, n in changed:
        before = e.calls
        _, info = features.reference_features(e, data, n, tmp_path)
        assert info["cache"] == "miss" and e.calls == before + n
        keys.add(info["key"])
    assert len(keys) == 1 + len(changed)
    heldout = imageset(train.images.float() / 255, "fake", split="heldout")
    assert features.reference_features(ex, heldout, 10, tmp_path)[1]["cache"] == "miss"  # other split


def test_reference_features_are_cached_in_whole_chunks_so_a_prefix_is_read_from_the_whole_set(tmp_path, monkeypatch):
    """FD's first n images and the copying test's whole set are one embedding: every image is embedded in the
    same chunk whatever n asks for it, so the prefix equals the whole set's first rows exactly."""
    monkeypatch.setattr(features, "CHUNK", 4)
    train = _train(n=10)
    ex = CountingExtractor(weights_sha256="aaa", resize="none")
    first, info = features.reference_features(ex, train, 6, tmp_path)
    assert info["cache"] == "miss" and ex.calls == 8 and first.shape == (6, 4)  # chunks [0, 4) and [4, 8), whole
    whole, info = features.reference_features(ex, train, 10, tmp_path)
    assert info["cache"] == "miss" and ex.calls == 8 + 2  # only the last chunk [8, 10) was missing
    again, info = features.reference_features(ex, train, 3, tmp_path)
    assert info["cache"] == "hit" and ex.calls == 10
    assert np.array_equal(whole[:6], first) and np.array_equal(whole[:3], again)
    assert sorted(p.name for p in (tmp_path / "features").iterdir()) == [
        f"{features.chunk_key(ex, train)}-{k}.npz" for k in range(3)]


def test_random_cnn_asset_is_hash_checked(tmp_path):
    assert sha256_file(randcnn.ASSET) == randcnn.ASSET_SHA256
    a = randcnn.load_weights()
    np.testing.assert_array_equal(a[1].numpy(), randcnn.make_weights(2020)["conv1"].astype(np.float32))
    tampered = tmp_path / "w.npz"
    w = randcnn.make_weights(2020)
    w["conv0"][0, 0, 0, 0] += 1
    np.savez(tampered, **w)
    with pytest.raises(WeightsError, match="expected 3d1fbc70"):
        randcnn.load_weights(tampered)


def test_fd_rand_and_kid_rand_separate_shifted_models(tmp_path):
    train = _train(n=40, size=16)
    near, far = FakeGenerator(), FakeGenerator(shift=1.5)
    torch.nn.init.zeros_(near.lin.weight), torch.nn.init.zeros_(far.lin.weight)
    with torch.no_grad():
        near.lin.bias.copy_(torch.atanh(train.as_float()[0].flatten().clamp(-0.99, 0.99)))
        far.lin.bias.copy_(near.lin.bias)
    vals = {}
    for name, m in (("near", near), ("far", far)):
        ctx = context(m, train, tmp_path, n_fid=40)
        fd = get_metric("fd_rand")().compute(ctx)[0]
        kid = get_metric("kid_rand")().compute(ctx)[0]
        assert fd.status == "warn" and "2048" in fd.note  # 40 samples: flagged for the table's dagger
        assert kid.status == "ok" and kid.extra["space"] == "rand"
        vals[name] = (fd.value, kid.value)
    assert vals["far"][0] > vals["near"][0] > 0 and vals["far"][1] > vals["near"][1]
    assert "not Inception" in get_metric("fd_rand")().protocol(context(near, train))["network"]
    assert get_metric("fd_rand").space == "rand" and get_metric("kid_rand").space == "rand"


def test_lpips_unavailable_without_verified_alexnet():
    class Rec(FakeGenerator):
        provides = ("generator", "inferrer")

        def infer(self, x, index=None):
            return torch.zeros(len(x), 8)

    ctx = context(Rec(), _train())
    with pytest.warns(RuntimeWarning):
        s = LPIPS().compute(ctx)[0]
    assert s.status == "unavailable" and "alexnet-owt-7be5be79.pth" in s.note
    _fake_weights(hub_checkpoints_dir() / "alexnet-owt-7be5be79.pth")  # wrong content under the right name
    with pytest.warns(RuntimeWarning):
        s = LPIPS().compute(ctx)[0]
    assert s.status == "unavailable" and "not the published file" in s.note


def test_explicit_fid_request_exits_2_in_one_sentence(cli, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = cli("run", "--models", "vae", "--preset", "tiny", "--steps", "1", "--metrics", "fid,swd",
                             "--results", str(tmp_path / "res"), "--no-progress")
    assert code == 2, out + err
    assert "fid" in err and "pt_inception-2015-12-05-6726825d.pth" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_weights_are_looked_up_once_per_command_and_the_run_warns_once(tmp_path, monkeypatch):
    """The plan resolves the Inception weights once; every metric of every cell receives them (none looks them up),
    and the run says once, before it evaluates, what they are."""
    from genbench.run.plan import RunOptions, make_plan
    from genbench.run.runner import run_plan

    bad = tmp_path / "random.pth"
    torch.save({"not": torch.zeros(3)}, bad)  # a PyTorch file, not the published one
    monkeypatch.setattr(inception, "load", lambda path, sha=None, allow_unverified=False: StubNet())
    lookups = []
    real_resolve = lookup.resolve
    monkeypatch.setattr(lookup, "resolve", lambda space, *a, **k: lookups.append(space.name) or
                        real_resolve(space, *a, **k))
    options = RunOptions(["vae", "wgan"], preset="tiny", results=tmp_path / "r", device="cpu",
                         metrics=["fd_rand", "kid"], inception_weights=bad, allow_unverified_weights=True,
                         progress=False)
    plan = make_plan(options)
    with pytest.warns(RuntimeWarning, match="UNVERIFIED inception weights") as caught:
        outcomes = run_plan(plan, echo=lambda *a: None)
    assert [o.status for o in outcomes] == ["finished", "finished"] and lookups.count("inception") == 1
    assert len([w for w in caught if "inception weights" in str(w.message)]) == 1
    kid = [r for o in outcomes for r in o.records if r.metric_plugin == "kid"]
    assert [r.metric for r in kid] == ["kid_unverified"] * 2 and all(r.value is not None for r in kid)
    assert kid[0].extra["weights_sha256"] == sha256_file(bad)
    for metrics, results in ((["fd_rand"], "q"), (None, "n")):
        quiet = make_plan(RunOptions(None, results=tmp_path / results, device="cpu", metrics=metrics,
                                     progress=False))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no Inception metric planned, or nothing to evaluate: nothing to say
            run_plan(quiet, echo=lambda *a: None)
