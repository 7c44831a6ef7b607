"""The downloaded-data plugins (celeba, fashion, cars, bedroom, folder) on small fake layouts built from the
photographs bundled with scikit-image, broken files included."""

from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from genbench.cli import main
from genbench.datasets import imagefolder
from genbench.datasets.bedroom import Bedroom
from genbench.datasets.cars import Cars
from genbench.datasets.celeba import CelebA
from genbench.datasets.fashion import Fashion
from genbench.datasets.folder import Folder
from genbench.datasets.imagefolder import DataWarning, crop_box, heldout_start

PHOTOS = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]


def photo(i: int, size: tuple[int, int]) -> Image.Image:
    """A distinct RGB image per index: a shifted crop of a bundled photograph, resized to size (w, h)."""
    p = PHOTOS[i % len(PHOTOS)]
    h, w = p.shape[:2]
    y, x = (13 * i) % (h // 3), (29 * i) % (w // 3)
    return Image.fromarray(np.ascontiguousarray(p[y:y + 2 * h // 3, x:x + 2 * w // 3])).resize(size)


def write_jpegs(folder: Path, names: list[str], size=(60, 74), first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        photo(first + k, size).save(folder / name, quality=92)


def reference(path: Path, size: int, crop: str) -> np.ndarray:
    """The preprocessing written out independently: RGB, crop box, PIL LANCZOS."""
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        w, h = rgb.size
        if crop == "none":
            box = (0, 0, w, h)
        else:
            side = min(w, h, int(crop.split("-")[1]) if crop.startswith("center-") else 10**9)
            box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
        return np.asarray(rgb.crop(box).resize((size, size), Image.LANCZOS)).transpose(2, 0, 1)


def add_broken(folder: Path) -> dict[str, str]:
    """Broken and non-RGB files at CelebA-style names; returns name -> what it is."""
    good = io.BytesIO()
    photo(99, (60, 74)).save(good, "JPEG", quality=92)
    (folder / "000003.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) * 2 // 5])  # truncated JPEG
    (folder / "000004.jpg").write_text("this is not an image\n")
    photo(6, (60, 74)).convert("L").save(folder / "000006.jpg")
    rgba = photo(7, (60, 74)).convert("RGBA")
    alpha = np.full((74, 60), 255, np.uint8)
    alpha[:, :30] = 0  # left half fully transparent
    rgba.putalpha(Image.fromarray(alpha))
    (folder / "000007.jpg").unlink(missing_ok=True)
    rgba.save(folder / "000007.png")
    photo(8, (60, 74)).convert("CMYK").save(folder / "000008.jpg")
    return {"000003.jpg": "truncated", "000004.jpg": "text", "000006.jpg": "L", "000007.png": "RGBA",
            "000008.jpg": "CMYK"}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own cache and home, and no $GENBENCH_DATA from the environment."""
    monkeypatch.setenv("GENBENCH_DATA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GENBENCH_DATA", raising=False)
    monkeypatch.delenv("GENBENCH_DATA_WORKERS", raising=False)


@pytest.fixture
def celeba_root(tmp_path) -> Path:
    root = tmp_path / "data" / "celeba"
    folder = root / "celeba" / "img_align_celeba"  # torchvision's layout
    write_jpegs(folder, [f"{i:06d}.jpg" for i in range(1, 41)])
    add_broken(folder)
    return root


def test_celeba_first_n_sorted_with_broken_files_reported(celeba_root):
    with pytest.warns(DataWarning) as record:
        s = CelebA().load("train", 16, 10, data_root=celeba_root)
    assert s.images.shape == (10, 3, 16, 16) and str(s.images.dtype) == "torch.uint8"
    assert s.name == "celeba" and s.split == "train"
    # the unreadable 000003 and 000004 are skipped and replaced by the next images in sorted order
    assert s.meta["names"] == ["000001.jpg", "000002.jpg", "000005.jpg", "000006.jpg", "000007.png",
                               "000008.jpg", "000009.jpg", "000010.jpg", "000011.jpg", "000012.jpg"]
    assert set(s.meta["errors"]) == {"000003.jpg", "000004.jpg"}
    assert s.meta["converted"] == {"000006.jpg": "L", "000007.png": "RGBA", "000008.jpg": "CMYK"}
    msg = " ".join(str(w.message) for w in record)
    assert "skipped 2 of 12 files" in msg and "000003.jpg" in msg and "000004.jpg" in msg
    assert "converted 3" in msg
    folder = celeba_root / "celeba" / "img_align_celeba"
    # pixels: the centre 108 crop (clipped to the 60x60 centre square of these small images), LANCZOS
    assert np.array_equal(s.images[0].numpy(), reference(folder / "000001.jpg", 16, "center-108"))
    gray = s.images[3].numpy().astype(int)
    assert np.array_equal(gray[0], gray[1]) and np.array_equal(gray[1], gray[2])  # grayscale -> 3 equal channels
    # RGBA is composited on white: the transparent left part of the crop is white
    assert (s.images[4, :, :, :5] == 255).all()


def test_cache_hit_does_not_reopen_sources_and_key_tracks_preprocessing(celeba_root, monkeypatch, tmp_path):
    decoded = []
    real = imagefolder.preprocess_image

    def counting(src, *a, **k):
        decoded.append(src)
        return real(src, *a, **k)

    monkeypatch.setattr(imagefolder, "preprocess_image", counting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        first = CelebA().load("train", 16, 10, data_root=celeba_root)
        assert first.meta["cache_hit"] is False and len(decoded) == 12
        decoded.clear()
        second = CelebA().load("train", 16, 10, data_root=celeba_root)
        assert second.meta["cache_hit"] is True and decoded == []  # no source image opened
        assert np.array_equal(first.images.numpy(), second.images.numpy())
        assert second.meta["errors"].keys() == first.meta["errors"].keys()
        # a different resolution or limit is a different key: it decodes again
        for size, n in ((24, 10), (16, 11)):
            s = CelebA().load("train", size, n, data_root=celeba_root)
            assert s.meta["cache_hit"] is False and s.images.shape == (n, 3, size, size) and decoded
            decoded.clear()
        # an added file changes the listing, hence the key
        write_jpegs(celeba_root / "celeba" / "img_align_celeba", ["000000.jpg"], first=50)
        third = CelebA().load("train", 16, 10, data_root=celeba_root)
        assert third.meta["cache_hit"] is False and third.meta["names"][0] == "000000.jpg"
    caches = sorted((tmp_path / "cache" / "celeba").glob("*.npy"))
    assert len(caches) == 4 and not list((tmp_path / "cache" / "celeba").glob("*.tmp"))
    info = json.loads(Path(str(caches[0])[:-4] + ".json").read_text())
    assert info["key_material"]["filter"] == "lanczos" and info["key_material"]["crop"] == "center-108"


def test_heldout_is_the_tail_and_disjoint_from_training(celeba_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        train = CelebA().load("train", 16, None, data_root=celeba_root)
        held = CelebA().load("heldout", 16, 64, data_root=celeba_root)
    # 40 listed files, fewer than the paper's 10k: the last tenth (4) is held out
    assert held.meta["names"] == ["000037.jpg", "000038.jpg", "000039.jpg", "000040.jpg"]
    assert train.meta["names"][-1] == "000036.jpg" and len(train) == 36 - 2  # minus the two unreadable files
    assert not set(train.meta["names"]) & set(held.meta["names"])


def test_heldout_start_rule():
    assert heldout_start(202599, 10000) == 201599      # CelebA: last 1000, far from 000001-010000
    assert heldout_start(16185, 16000) == 16000        # Stanford Cars: the 185 after the first 16k
    assert heldout_start(78979, 78979) == 77979        # a paper-sized DeepFashion folder: last 1000
    assert heldout_start(30, None) == 27 and heldout_start(5, None) == 5
    assert crop_box(178, 218, "center-108") == (35, 55, 143, 163)
    assert crop_box(300, 200, "square") == (50, 0, 250, 200) and crop_box(30, 20, "none") == (0, 0, 30, 20)


def test_cars_train_then_test_uncropped_and_torchvision_layout(tmp_path):
    for base in (tmp_path / "cars", tmp_path / "tv" / "stanford_cars"):
        write_jpegs(base / "cars_train", [f"{i:05d}.jpg" for i in range(1, 6)], size=(90, 50))
        write_jpegs(base / "cars_test", [f"{i:05d}.jpg" for i in range(1, 6)], size=(90, 50), first=10)
    s = Cars().load("train", 16, 7, data_root=tmp_path / "cars")
    assert s.meta["names"] == [f"cars_train/{i:05d}.jpg" for i in range(1, 6)] + ["cars_test/00001.jpg",
                                                                                   "cars_test/00002.jpg"]
    assert np.array_equal(s.images[5].numpy(), reference(tmp_path / "cars/cars_test/00001.jpg", 16, "none"))
    assert Cars().load("train", 16, 7, data_root=tmp_path / "tv").meta["names"] == s.meta["names"]


def test_fashion_nested_folder_sorted_by_relative_path(tmp_path):
    names = ["img/WOMEN/Dresses/id_02/01.jpg", "img/MEN/Shirts/id_01/02.jpg", "img/MEN/Shirts/id_01/01.jpg",
             "img/WOMEN/Blouses/id_03/01.jpg"]
    write_jpegs(tmp_path / "fashion", names, size=(50, 80))
    s = Fashion().load("train", 16, 3, data_root=tmp_path / "fashion")
    assert s.meta["names"] == ["MEN/Shirts/id_01/01.jpg", "MEN/Shirts/id_01/02.jpg", "WOMEN/Blouses/id_03/01.jpg"]
    assert np.array_equal(s.images[0].numpy(),
                          reference(tmp_path / "fashion/img/MEN/Shirts/id_01/01.jpg", 16, "square"))


def test_bedroom_folder_export_sorted_by_file_name(tmp_path):
    # LSUN's export nests files by key prefix; the order is the key (file name) order, not the path order
    names = ["b/a/zz01.webp", "a/c/ab02.webp", "c/a/aa03.webp"]
    root = tmp_path / "bedroom"
    for k, n in enumerate(names):
        (root / n).parent.mkdir(parents=True, exist_ok=True)
        photo(k, (80, 60)).save(root / n, "WEBP")
    s = Bedroom().load("train", 16, 3, data_root=root)
    assert s.meta["names"] == ["c/a/aa03.webp", "a/c/ab02.webp", "b/a/zz01.webp"]


def test_bedroom_lmdb_without_the_package_is_one_sentence(tmp_path, monkeypatch, capsys):
    (tmp_path / "bedroom" / "bedroom_train_lmdb").mkdir(parents=True)
    (tmp_path / "bedroom" / "bedroom_train_lmdb" / "data.mdb").write_bytes(b"\0" * 64)
    monkeypatch.setitem(sys.modules, "lmdb", None)  # importing it fails, as when it is not installed
    with pytest.raises(SystemExit) as exc:
        main(["run", "--models", "vae", "--dataset", "bedroom", "--data-root", str(tmp_path / "bedroom"),
              "--preset", "tiny", "--results", str(tmp_path / "results"), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "needs the optional package lmdb" in err and "pip install lmdb" in err and "Traceback" not in err


class FakeLmdb:
    """The slice of the py-lmdb API the loader uses, over a dict (keys kept sorted, as lmdb does)."""

    def __init__(self, items: dict[bytes, bytes]):
        self.items = dict(sorted(items.items()))

    def open(self, path, **kw):
        return self

    def stat(self):
        return {"entries": len(self.items)}

    def begin(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def cursor(self):
        return self

    def iternext(self, keys=True, values=False):
        return iter(list(self.items))

    def iterprev(self, keys=True, values=False):
        return iter(list(self.items)[::-1])

    def get(self, key):
        return self.items.get(key)


def test_bedroom_lmdb_key_order_and_heldout_tail(tmp_path, monkeypatch):
    items = {}
    for k in range(30):
        buf = io.BytesIO()
        photo(k, (40, 30)).save(buf, "WEBP")
        items[f"{(k * 7) % 30:04x}".encode()] = buf.getvalue()
    items[b"0003"] = b"broken"
    db = tmp_path / "bedroom" / "bedroom_train_lmdb"
    db.mkdir(parents=True)
    (db / "data.mdb").write_bytes(b"\0" * 64)
    monkeypatch.setitem(sys.modules, "lmdb", FakeLmdb(items))
    with pytest.warns(DataWarning, match="0003"):
        s = Bedroom().load("train", 16, 5, data_root=tmp_path / "bedroom")
    assert s.meta["names"] == ["0000", "0001", "0002", "0004", "0005"]
    held = Bedroom().load("heldout", 16, 64, data_root=tmp_path / "bedroom")
    assert held.meta["names"] == ["001b", "001c", "001d"]  # the last tenth of 30 keys, read backwards
    key = sorted(items)[1]
    expected = np.asarray(Image.open(io.BytesIO(items[key])).convert("RGB").crop((5, 0, 35, 30))
                          .resize((16, 16), Image.LANCZOS)).transpose(2, 0, 1)
    assert np.array_equal(s.images[1].numpy(), expected)


def test_two_workers_give_the_same_images(tmp_path, monkeypatch):
    write_jpegs(tmp_path / "imgs", [f"d{i % 3}/{i:03d}.jpg" for i in range(40)], size=(40, 30))
    (tmp_path / "imgs" / "d0" / "005.jpg").write_text("broken")
    monkeypatch.setattr(imagefolder, "PARALLEL_MIN", 8)  # inherited by the forked workers
    monkeypatch.setattr(imagefolder, "CHUNK", 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        one = Folder().load("train", 16, 30, data_root=tmp_path / "imgs", workers=1, cache_dir=tmp_path / "c1")
        two = Folder().load("train", 16, 30, data_root=tmp_path / "imgs", workers=2, cache_dir=tmp_path / "c2")
    assert one.meta["names"] == two.meta["names"] and "d0/005.jpg" not in one.meta["names"]
    assert np.array_equal(one.images.numpy(), two.images.numpy())


def test_images_smaller_than_the_resolution_are_enlarged_with_one_warning(tmp_path):
    write_jpegs(tmp_path / "imgs", [f"{i:02d}.jpg" for i in range(12)], size=(40, 40))
    write_jpegs(tmp_path / "imgs", ["03s.jpg"], size=(10, 12))
    with pytest.warns(DataWarning, match=r"enlarged 1 image smaller than 32x32 \(e.g. 03s.jpg \(10x10\)\)"):
        s = Folder().load("train", 32, 12, data_root=tmp_path / "imgs", cache_dir=tmp_path / "c")
    assert s.meta["enlarged"] == {"03s.jpg": "10x10"}  # the centred square crop of the 10x12 image
    with pytest.warns(DataWarning, match="enlarged 1 image"):  # the cached load says so too
        again = Folder().load("train", 32, 12, data_root=tmp_path / "imgs", cache_dir=tmp_path / "c")
    assert again.meta["cache_hit"]


def test_data_root_resolution_env_then_home(tmp_path, monkeypatch):
    write_jpegs(tmp_path / "env" / "folder" / "x", ["b.png", "a.jpg"], size=(20, 20))
    write_jpegs(tmp_path / "home" / ".cache" / "genbench" / "folder", ["c.jpg"], size=(20, 20))
    assert Folder().load("train", 8, 1).meta["names"] == ["c.jpg"]  # ~/.cache/genbench/folder
    monkeypatch.setenv("GENBENCH_DATA", str(tmp_path / "env"))
    s = Folder().load("train", 8, 2)
    assert s.meta["names"] == ["x/a.jpg", "x/b.png"] and s.meta["root"] == str(tmp_path / "env" / "folder")
    assert Folder().load("train", 8, 1, data_root=tmp_path / "home/.cache/genbench/folder").meta["names"] == [
        "c.jpg"]  # --data-root wins


@pytest.mark.parametrize("dataset, what", [("celeba", "CelebA images not found in"),
                                           ("cars", "Stanford Cars images not found in"),
                                           ("fashion", "DeepFashion images not found in"),
                                           ("bedroom", "LSUN bedroom data not found in"),
                                           ("folder", "No images")])
def test_missing_data_is_one_sentence_and_exit_2(tmp_path, capsys, dataset, what, monkeypatch):
    monkeypatch.setenv("GENBENCH_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit) as exc:
        main(["run", "--models", "vae", "--dataset", dataset, "--preset", "tiny", "--results",
              str(tmp_path / "results"), "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert what in err and str(tmp_path / "nowhere" / dataset) in err
    assert "Traceback" not in err and err.count("\n") == 0 and err.endswith(".") and err.count(". ") == 0
    assert not (tmp_path / "results").exists()


def test_nothing_decodable_is_an_error_not_an_empty_cache(tmp_path):
    (tmp_path / "bad").mkdir()
    for i in range(3):
        (tmp_path / "bad" / f"{i}.jpg").write_text("not an image")
    with pytest.raises(imagefolder.GenbenchError, match="None of the 3 folder train images"):
        Folder().load("train", 16, data_root=tmp_path / "bad")
    assert not list((tmp_path / "cache").rglob("*.npy"))


def test_empty_data_root_is_missing_too(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(imagefolder.GenbenchError, match="CelebA images not found") as exc:
        CelebA().load("train", 16, data_root=tmp_path / "empty")
    assert exc.value.exit_code == 2


def test_tiny_run_on_celeba_layout(celeba_root, tmp_path, capsys):
    results = tmp_path / "results"
    args = ["run", "--models", "vae", "--dataset", "celeba", "--data-root", str(celeba_root), "--preset", "tiny",
            "--limit", "20", "--steps", "4", "--results", str(results), "--no-progress", "--metrics", "mse"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        try:
            main(args)
        except SystemExit as exc:  # main exits only on failure
            pytest.fail(f"genbench run exited {exc.code}: {capsys.readouterr().err}")
    out = capsys.readouterr()
    assert "dataset celeba: 20 training images at 16x16, 4 held out" in out.out
    run = json.loads(next(results.rglob("results.json")).read_text())
    values = {r["metric"]: r for r in run["records"]}
    assert values["mse"]["status"] == "ok" and values["mse_heldout"]["extra"]["n"] == 4
    assert len(list((tmp_path / "cache" / "celeba").glob("*.npy"))) == 2  # train and held-out caches
