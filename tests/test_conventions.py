"""Input conventions are stated, detected and refused when ambiguous: an array's value range and layout are
read from the data where only one reading fits, else named by --value-range / --layout; empty images,
oversized declarations and odd tensors are one sentence; a generator's range is checked before anything clamps
it (each case was scored wrongly, crashed or hung before)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_bad_input import refused
from test_eval import LinearGen, _row

EVAL = ["--preset", "tiny", "--device", "cpu", "--metrics", "swd", "--dataset", "shapes"]
RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8)  # NHWC


def _eval(cli, tmp_path, array, name, *more):
    path = tmp_path / f"{name}.npz"
    np.savez(path, x=array)
    return cli("eval", "--images", str(path), "--name", name, "--results", str(tmp_path / "res"), *EVAL, *more)


def test_float_images_in_0_1_are_ambiguous_and_read_as_said(cli, tmp_path):
    assert _eval(cli, tmp_path, PIXELS, "uint8")[0] == 0
    unit = PIXELS.astype(np.float32) / 255
    refused(*_eval(cli, tmp_path, unit, "unit"), "--value-range 0,1", "--value-range -1,1")
    assert _eval(cli, tmp_path, unit, "unit", "--value-range", "0,1")[0] == 0
    assert _eval(cli, tmp_path, PIXELS.astype(np.float64), "floats255")[0] == 0  # above 1: [0, 255], detected
    assert _eval(cli, tmp_path, PIXELS.astype(np.float32) / 127.5 - 1, "signed")[0] == 0  # below 0: [-1, 1]
    res = tmp_path / "res"
    same = {_row(res, name)[0]["swd"] for name in ("uint8", "unit", "floats255", "signed")}
    assert len(same) == 1  # the same pixels, whichever convention they came in


def test_masks_and_shapes_that_fit_two_readings_are_refused_until_said(cli, tmp_path):
    masks = RNG.integers(0, 2, (16, 16, 16, 3), dtype=np.uint8)
    refused(*_eval(cli, tmp_path, masks, "masks"), "--value-range 0,1", "--value-range 0,255")
    assert _eval(cli, tmp_path, masks, "masks", "--value-range", "0,1")[0] == 0
    cube = RNG.integers(0, 256, (16, 3, 3, 3), dtype=np.uint8)
    refused(*_eval(cli, tmp_path, cube, "cube"), "--layout nchw", "--layout nhwc")
    assert _eval(cli, tmp_path, cube, "cube", "--layout", "nhwc")[0] == 0
    refused(*_eval(cli, tmp_path, cube[:, :2], "cube2", "--layout", "nchw"), "--layout nchw", "not 1 or 3")
    refused(*_eval(cli, tmp_path, np.zeros((4, 0, 0, 3), np.uint8), "empty"), "holds no image")


def test_tensor_files_are_checked_before_their_data_is_touched(cli, tmp_path):
    res = str(tmp_path / "res")
    huge = torch.zeros(1, 3, 16, 16, dtype=torch.uint8).expand(10**9, 3, 16, 16)  # 1 KB of data, 10^9 images
    torch.save(huge, tmp_path / "huge.pt")
    refused(*cli("eval", "--images", str(tmp_path / "huge.pt"), "--results", res, *EVAL), "declares", "contiguous")
    torch.save(torch.zeros(4, 3, 16, 16).to_sparse(), tmp_path / "sparse.pt")
    refused(*cli("eval", "--images", str(tmp_path / "sparse.pt"), "--results", res, *EVAL), "sparse", "dense")
    signed = torch.from_numpy(PIXELS).permute(0, 3, 1, 2).float() / 127.5 - 1
    for name, tensor in (("param", torch.nn.Parameter(signed.clone())), ("bf16", signed.to(torch.bfloat16))):
        torch.save(tensor, tmp_path / f"{name}.pt")
        code, _, err = cli("eval", "--images", str(tmp_path / f"{name}.pt"), "--results", res, *EVAL)
        assert code == 0, err


class Bytes255(torch.nn.Module):
    """A generator whose images are 0..255, as some code bases save them."""

    def __init__(self):
        super().__init__()
        self.inner = LinearGen(16)

    def forward(self, z):
        return (self.inner(z) + 1) * 127.5


def test_a_generator_is_checked_before_anything_clamps_it(cli, tmp_path):
    path = tmp_path / "bytes.pt"
    torch.jit.save(torch.jit.script(Bytes255()), str(path))
    refused(*cli("eval", "--generator", str(path), "--latent-dim", "8", "--results", str(tmp_path / "res"), *EVAL),
            "cannot be scored", "not images in [-1, 1]", "x / 127.5 - 1")
    assert not (tmp_path / "res" / "shapes" / "bytes").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_arrays_are_refused(cli, tmp_path, value):
    bad = PIXELS.astype(np.float32) / 127.5 - 1
    bad[0, 0, 0, 0] = value
    refused(*_eval(cli, tmp_path, bad, "bad"), "not finite")


def test_stats_out_and_a_junk_data_cache_are_one_sentence_before_the_work(cli, tmp_path, monkeypatch):
    from PIL import Image

    data = tmp_path / "pics"
    data.mkdir()
    for i in range(40):
        Image.fromarray(RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(data / f"{i}.png")
    stats = ["stats", "--dataset", "folder", "--data-root", str(data), "--preset", "tiny", "--network", "rand",
             "--device", "cpu", "--results", str(tmp_path / "res")]
    refused(*cli(*stats, "--out", str(data)), "--out", "directory")
    (tmp_path / "file").write_text("not a folder")
    refused(*cli(*stats, "--out", str(tmp_path / "file" / "x.npz")), "--out")
    monkeypatch.setenv("GENBENCH_DATA_CACHE", str(tmp_path / "file"))
    refused(*cli(*stats, "--out", str(tmp_path / "s.npz")), "$GENBENCH_DATA_CACHE", "cannot be used")
    assert not (tmp_path / "s.npz").exists()
    monkeypatch.setenv("GENBENCH_DATA_CACHE", str(tmp_path / "cache"))
    code, out, err = cli(*stats, "--out", str(tmp_path / "s.npz"))
    assert code == 0 and (tmp_path / "s.npz").is_file(), err


def test_an_npz_whose_header_declares_more_than_it_holds_is_refused_before_allocating(cli, tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    header = {"descr": "|u1", "fortran_order": False, "shape": (10**9, 16, 16, 3)}  # 768 GB declared
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w") as z:
        z.writestr("x.npy", buf.getvalue() + b"\x00" * 64)
    refused(*cli("eval", "--images", str(tmp_path / "bomb.npz"), "--results", str(tmp_path / "res"), *EVAL),
            "declares an array", "np.savez")


class NaNAfterProbe(torch.nn.Module):
    """Finite on the two-image probe, NaN on every larger batch."""

    def __init__(self):
        super().__init__()
        self.inner = LinearGen(16)

    def forward(self, z):
        x = self.inner(z)
        return x if z.shape[0] <= 2 else x * float("nan")


def test_a_generator_that_turns_nan_after_the_probe_is_refused_and_tables_still_print(cli, tmp_path):
    path, res = tmp_path / "nan.pt", tmp_path / "res"
    assert _eval(cli, tmp_path, PIXELS, "good")[0] == 0
    torch.jit.save(torch.jit.script(NaNAfterProbe()), str(path))
    refused(*cli("eval", "--generator", str(path), "--latent-dim", "8", "--name", "nan", "--results", str(res),
                 *EVAL), "cannot be scored", "not finite")
    assert not (res / "shapes" / "nan" / "tiny-seed0" / "results.json").exists()  # no number recorded
    for args in (["table"], ["table", "--ci", "--format", "csv"], ["report", "--out", str(tmp_path / "rep")]):
        code, out, err = cli(*args, "--results", str(res))
        assert code == 0 and "Traceback" not in err, (args, err)
