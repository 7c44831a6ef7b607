"""Shared machinery of the datasets a user downloads (``celeba``, ``fashion``, ``cars``, ``bedroom``, ``folder``).

One path for all of them (docs/method.md section 3, "Data"):

1. **Where the data lives**: ``--data-root`` (``options['data_root']``), else ``$GENBENCH_DATA/<name>``, else
   ``~/.cache/genbench/<name>``. Absent data is one sentence naming what is missing, where to get it and where
   to put it (a GenbenchError, exit code 2), never a traceback.
2. **Order and splits**: images are taken in sorted order. The last ``R`` images of the listing are the
   held-out split, where ``R = min(1000, images beyond the paper's count)`` when the source holds more than the
   paper's count (CelebA 010001-... is never trained on) and ``R = min(1000, total // 10)`` otherwise (a small
   folder keeps its last tenth). Training takes the first N images before that tail, so the two never overlap
   and neither depends on ``--limit``.
3. **The paper's preprocessing**: a crop rule per dataset, then a LANCZOS resize to the run's resolution
   (authors' code A LANCZOS-resizes); EXIF orientation is applied; grayscale, palette, 16-bit and CMYK images
   are converted to RGB, transparent ones composited on white. Files that cannot be decoded (truncated, not an
   image) are skipped and replaced by the next images in order, and one warning gives their count and names.
4. **Cache**: the result is stored once as a uint8 ``.npy`` (N, 3, H, W) under ``$GENBENCH_DATA_CACHE``
   (default ``~/.cache/genbench/preprocessed/<name>/``) and memory-mapped on later loads, keyed by the source
   listing (every file name, plus size and mtime of the files read) and the preprocessing (split, range, N,
   resolution, crop, filter, version). The ``.json`` sidecar is written last, so a killed run leaves no cache.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import sys
import time
import warnings
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from genbench.api import Dataset, ImageSet
from genbench.errors import GenbenchError
from genbench.io import atomic_path, json_hash, read_json, write_json

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm"})
HELDOUT_MAX = 1000          # at most this many held-out images
PREPROCESS_VERSION = 1      # bump when the decoding or resizing changes: old caches are then ignored
RESAMPLE = "lanczos"        # the resize filter (authors' code A: PIL LANCZOS)
CHUNK = 64                  # images per worker task
PARALLEL_MIN = 256          # fewer images than this are decoded in-process (worker start-up would dominate)
SHOW_NAMES = 5              # how many skipped names the warning lists


class DataWarning(UserWarning):
    """Something about the user's data worth knowing that does not stop the run (skipped files)."""


# -- where things live ---------------------------------------------------------------------------
def data_root(name: str, options: dict[str, Any]) -> Path:
    """``options['data_root']``, else ``$GENBENCH_DATA/<name>``, else ``~/.cache/genbench/<name>``."""
    if options.get("data_root"):
        return Path(options["data_root"]).expanduser()
    if os.environ.get("GENBENCH_DATA"):
        return Path(os.environ["GENBENCH_DATA"]).expanduser() / name
    return Path.home() / ".cache" / "genbench" / name


def cache_root(options: dict[str, Any]) -> Path:
    """``options['cache_dir']``, else ``$GENBENCH_DATA_CACHE``, else ``~/.cache/genbench/preprocessed``."""
    if options.get("cache_dir"):
        return Path(options["cache_dir"]).expanduser()
    if os.environ.get("GENBENCH_DATA_CACHE"):
        return Path(os.environ["GENBENCH_DATA_CACHE"]).expanduser()
    return Path.home() / ".cache" / "genbench" / "preprocessed"


def _writable_cache(folder: Path, options: dict[str, Any]) -> None:
    """The preprocessed-data cache folder exists or can be made, else one sentence naming where it was set."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "it is not writable")
    except OSError as exc:
        where = "the cache_dir option" if options.get("cache_dir") else (
            "$GENBENCH_DATA_CACHE" if os.environ.get("GENBENCH_DATA_CACHE") else "the default ~/.cache/genbench")
        raise GenbenchError(f"The preprocessed-data cache {folder} (from {where}) cannot be used "
                            f"({exc.strerror or type(exc).__name__}); point $GENBENCH_DATA_CACHE at a folder you "
                            f"can write to.") from None


def worker_count(options: dict[str, Any]) -> int:
    """``options['workers']``, else ``$GENBENCH_DATA_WORKERS``, else 2 (or 1 on a one-core machine)."""
    value = options.get("workers") or os.environ.get("GENBENCH_DATA_WORKERS") or min(2, os.cpu_count() or 1)
    try:
        return max(1, int(value))
    except ValueError:
        raise GenbenchError(f"GENBENCH_DATA_WORKERS={value!r} is not a number of worker processes.") from None


def list_images(folder: Path, recursive: bool = True) -> list[str]:
    """Image files under ``folder`` (by extension, hidden files excluded), as sorted relative POSIX paths.
    Symbolic links are followed, but each real folder and each real file is listed once (a link back up the
    tree, or two links to one file, would otherwise repeat images, and put copies of training images in the
    held-out split); a DataWarning says how many paths were left out."""
    files, linked, skipped = _walk(Path(folder), recursive)
    if linked:  # a linked file may be one listed under its own name too: keep the first path to each file
        seen, kept = set(), []
        for rel, path in sorted(files):
            key = _identity(path)
            if key is not None and key in seen:
                skipped += 1
                continue
            seen.add(key)
            kept.append((rel, path))
        files = kept
    if skipped:
        warnings.warn(f"{folder}: {skipped} path{'s' * (skipped > 1)} (symbolic links) lead to folders or images "
                      f"already listed; each image is used once.", DataWarning, stacklevel=2)
    return sorted(rel for rel, _ in files)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _walk(root: Path, recursive: bool) -> tuple[list[tuple[str, str]], bool, int]:
    """(relative POSIX path, path) of the image files under ``root``, each real folder entered once; whether
    any file is a symbolic link; how many folders were not entered again."""
    files: list[tuple[str, str]] = []
    entered: set[tuple[int, int] | None] = set()
    linked, skipped = False, 0
    stack = [("", str(root))]
    while stack:
        rel, path = stack.pop()
        key = _identity(path)
        if key in entered:
            skipped += 1
            continue
        entered.add(key)
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue  # an unreadable folder holds no images we can use
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            name = f"{rel}{e.name}"
            if e.is_dir():
                subdirs.append((f"{name}/", e.path))
            elif os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS and e.is_file():
                files.append((name, e.path))
                linked = linked or e.is_symlink()
        if recursive:
            stack.extend(reversed(subdirs))
    return files, linked, skipped


# -- sources: an ordered collection of encoded images --------------------------------------------
class Source:
    """Encoded images in a fixed order. ``names(a, b)`` lists items a..b-1; ``payloads`` gives what the
    decoder opens (a path or the encoded bytes); ``fingerprint`` changes when the listing or those items do."""

    location: str
    total: int

    def names(self, start: int, stop: int) -> list[str]:
        raise NotImplementedError

    def payloads(self, names: list[str]) -> list[str | bytes]:
        raise NotImplementedError

    def fingerprint(self, names: list[str]) -> str:
        raise NotImplementedError


class FileSource(Source):
    """Image files under ``root`` in the given order (relative POSIX paths)."""

    def __init__(self, root: Path, files: list[str]):
        self.root, self.files = Path(root), list(files)
        self.location, self.total = str(self.root.resolve()), len(self.files)

    def names(self, start: int, stop: int) -> list[str]:
        return self.files[start:stop]

    def payloads(self, names: list[str]) -> list[str | bytes]:
        return [os.path.join(self.location, n) for n in names]

    def fingerprint(self, names: list[str]) -> str:
        # the whole listing: an added, removed or renamed file changes the key
        h = hashlib.sha256("\0".join(self.files).encode("utf-8", "surrogateescape"))
        base = str(self.root)
        for n in names:  # and size + mtime of the files read: a replaced file changes it too
            try:
                st = os.stat(os.path.join(base, n))
                h.update(f"\0{n}:{st.st_size}:{st.st_mtime_ns}".encode("utf-8", "surrogateescape"))
            except OSError:
                h.update(f"\0{n}:missing".encode("utf-8", "surrogateescape"))
        return h.hexdigest()


class LmdbSource(Source):
    """An LSUN-style lmdb database (``data.mdb``): values are encoded images, in key order."""

    def __init__(self, path: Path):
        import lmdb  # optional dependency; the caller checks it is importable

        self.path = Path(path)
        self.env = lmdb.open(str(self.path), readonly=True, lock=False, readahead=False, meminit=False)
        self.location, self.total = str(self.path.resolve()), int(self.env.stat()["entries"])

    def names(self, start: int, stop: int) -> list[str]:
        stop = min(stop, self.total)
        if stop <= start:
            return []
        with self.env.begin() as txn:
            cur = txn.cursor()
            if start <= self.total - stop:  # nearer the front: walk forward
                it, skip, backward = cur.iternext(keys=True, values=False), start, False
            else:  # nearer the end (the held-out tail of a 3M-image database): walk backward
                it, skip, backward = cur.iterprev(keys=True, values=False), self.total - stop, True
            keys = []
            for i, k in enumerate(it):
                if i >= skip:
                    keys.append(bytes(k).decode("latin-1"))  # latin-1: a lossless bytes <-> str round trip
                    if len(keys) == stop - start:
                        break
        return keys[::-1] if backward else keys

    def payloads(self, names: list[str]) -> list[str | bytes]:
        with self.env.begin() as txn:
            return [bytes(txn.get(n.encode("latin-1")) or b"") for n in names]

    def fingerprint(self, names: list[str]) -> str:
        st = os.stat(self.path / "data.mdb")
        return hashlib.sha256(f"{self.total}:{st.st_size}:{st.st_mtime_ns}:{names[:1]}:{names[-1:]}".encode()
                              ).hexdigest()


# -- decoding and the paper's preprocessing ------------------------------------------------------
def crop_box(width: int, height: int, crop: str) -> tuple[int, int, int, int]:
    """The region of the image that is resized. ``square``: the largest centred square; ``center-S``: a
    centred SxS box (clipped to the largest centred square of a smaller image); ``none``: the whole image
    (aspect ratio not kept)."""
    if crop == "none":
        return 0, 0, width, height
    side = min(width, height)
    if crop.startswith("center-"):
        side = min(side, int(crop.split("-", 1)[1]))
    elif crop != "square":
        raise ValueError(f"unknown crop rule {crop!r}")
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def to_rgb(img: Image.Image) -> tuple[Image.Image, str | None]:
    """An RGB version of ``img`` and the mode it was converted from (None when it already was RGB)."""
    mode = img.mode
    if mode == "RGB":
        return img, None
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):  # transparent: composite on white
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background, mode
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):  # 16-bit / integer / float grayscale
        arr = np.asarray(img, dtype=np.float64)
        if img.mode == "F" and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        elif arr.max(initial=0) > 255:
            arr = arr / 257.0
        img = Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8))
    return img.convert("RGB"), mode  # L, 1, CMYK, YCbCr, LAB, HSV


def preprocess_image(src: str | bytes, size: int, crop: str) -> tuple[np.ndarray, str | None, str | None]:
    """Decode one image (a path or encoded bytes): orientation, RGB, crop, LANCZOS resize -> (3, size, size),
    the mode it was converted from (or None) and, when its crop was smaller than size x size and had to be
    enlarged, the crop's 'WxH' (or None)."""
    with Image.open(io.BytesIO(src) if isinstance(src, bytes) else src) as img:
        if img.getexif().get(0x0112, 1) != 1:  # EXIF orientation
            img = ImageOps.exif_transpose(img)
        img.load()  # a truncated file raises here
        rgb, converted_from = to_rgb(img)
        arr, enlarged = fit_image(rgb, size, crop)
    return arr, converted_from, enlarged


def fit_image(rgb: Image.Image, size: int, crop: str) -> tuple[np.ndarray, str | None]:
    """An RGB image brought to the run's resolution: the crop rule, then a LANCZOS resize -> (3, size, size)
    uint8, and the crop's 'WxH' when it was smaller than size x size and had to be enlarged (or None)."""
    box = crop_box(*rgb.size, crop)
    if box != (0, 0, *rgb.size):  # crop first, as the authors do: resize(box=) would filter across the edge
        rgb = rgb.crop(box)
    enlarged = f"{rgb.size[0]}x{rgb.size[1]}" if min(rgb.size) < size else None
    out = rgb.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(out, dtype=np.uint8).transpose(2, 0, 1), enlarged


@dataclass
class Decoded:
    """What decoding a run of files found: the readable names in order and, by name, why a file was
    skipped, the mode it was converted from, and the 'WxH' of a crop that had to be enlarged."""

    names: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    converted: dict[str, str] = field(default_factory=dict)
    enlarged: dict[str, str] = field(default_factory=dict)

    def extend(self, other: Decoded) -> None:
        self.names += other.names
        self.errors.update(other.errors)
        self.converted.update(other.converted)
        self.enlarged.update(other.enlarged)

    def report(self, dataset: str, split: str, size: int) -> str | None:
        """One warning sentence about skipped, converted and enlarged images; None when there were none."""
        parts = []
        if self.errors:
            shown = "; ".join(f"{n} ({e})" for n, e in list(self.errors.items())[:SHOW_NAMES])
            more = f"; and {len(self.errors) - SHOW_NAMES} more" if len(self.errors) > SHOW_NAMES else ""
            tried = len(self.names) + len(self.errors)
            parts.append(f"skipped {len(self.errors)} of {tried} files that could not be decoded: {shown}{more}")
        if self.converted:
            modes = sorted(set(self.converted.values()))
            parts.append(f"converted {len(self.converted)} {'/'.join(modes)} image{'s' * (len(self.converted) > 1)} "
                         f"to RGB (e.g. {', '.join(list(self.converted)[:SHOW_NAMES])})")
        if self.enlarged:
            shown = ", ".join(f"{n} ({v})" for n, v in list(self.enlarged.items())[:SHOW_NAMES])
            parts.append(f"enlarged {len(self.enlarged)} image{'s' * (len(self.enlarged) > 1)} smaller than "
                         f"{size}x{size} (e.g. {shown}); they will look blurred, use larger images or a smaller preset")
        return f"{dataset} {split}: " + "; ".join(parts) + "." if parts else None


def preprocess_chunk(items: list[tuple[str, str | bytes]], size: int, crop: str) -> tuple[np.ndarray, Decoded]:
    """Decode a chunk: the images of the readable items, and what was found."""
    out = np.empty((len(items), 3, size, size), np.uint8)
    found = Decoded()
    for name, src in items:
        try:
            arr, mode, small = preprocess_image(src, size, crop)
        except Exception as exc:  # a broken file is skipped and reported, never a crash mid-run
            found.errors[name] = f"{type(exc).__name__}: {exc}"[:160]
            continue
        out[len(found.names)] = arr
        found.names.append(name)
        if mode is not None:
            found.converted[name] = mode
        if small is not None:
            found.enlarged[name] = small
    return out[:len(found.names)], found


def _pool_context():
    # fork is cheap and needs no re-import of the caller's __main__; children only run PIL/numpy code
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _decode(source: Source, names: list[str], size: int, crop: str, workers: int) -> Iterator[tuple]:
    """preprocess_chunk results for ``names`` in order; with workers > 1, a bounded window of chunks in flight
    (so an lmdb's bytes are never all in memory at once)."""
    chunks = [names[i:i + CHUNK] for i in range(0, len(names), CHUNK)]
    if workers <= 1 or len(names) < PARALLEL_MIN:
        for c in chunks:
            yield preprocess_chunk(list(zip(c, source.payloads(c), strict=True)), size, crop)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        pending: deque = deque()
        for c in chunks:
            pending.append(pool.submit(preprocess_chunk, list(zip(c, source.payloads(c), strict=True)), size, crop))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def preprocess(source: Source, start: int, stop: int, want: int, size: int, crop: str, workers: int,
               out_path: Path) -> Decoded:
    """Write the first ``want`` readable images of ``source[start:stop]`` to ``out_path`` (a .npy); an
    unreadable image is replaced by the next one in order. Returns what was found (its names are the rows)."""
    arr = np.lib.format.open_memmap(out_path, mode="w+", dtype=np.uint8, shape=(want, 3, size, size))
    found = Decoded()
    pos = start
    while len(found.names) < want and pos < stop:
        take = min(want - len(found.names), stop - pos)
        batch = source.names(pos, pos + take)
        pos += take
        for imgs, chunk in _decode(source, batch, size, crop, workers):
            arr[len(found.names):len(found.names) + len(chunk.names)] = imgs
            found.extend(chunk)
    arr.flush()
    del arr
    return found


# -- the dataset base --------------------------------------------------------------------------
def heldout_start(total: int, default_n: int | None) -> int:
    """Index where the held-out tail of a sorted listing of ``total`` images begins (module docstring, 2)."""
    beyond = total - default_n if default_n is not None and total > default_n else total // 10
    return total - min(HELDOUT_MAX, beyond)


class DownloadedDataset(Dataset):
    """Base of the datasets read from files the user downloaded. Subclasses set ``name``, ``description``,
    ``default_n`` (the paper's count; None = every image), ``crop`` (see ``crop_box``) and implement
    ``open_source(root) -> Source``, raising ``self.missing(root)`` when the files are not there."""

    crop: str = "square"

    def open_source(self, root: Path) -> Source:
        raise NotImplementedError

    def missing(self, root: Path) -> GenbenchError:
        return GenbenchError(f"No images found in {root}; pass --data-root FOLDER with the {self.name} images.")

    def load(self, split: str, image_size: int, n: int | None = None, seed: int = 0, **options) -> ImageSet:
        if split not in ("train", "heldout"):
            raise GenbenchError(f"Unknown split '{split}' for dataset '{self.name}'; use 'train' or 'heldout'.")
        root = data_root(self.name, options)
        if root.is_file():
            raise GenbenchError(f"{root} is a file, not a folder; pass --data-root FOLDER with the {self.name} "
                                f"images.")
        if not root.exists():
            raise self.missing(root)
        source = self.open_source(root)
        if source.total == 0:
            raise self.missing(root)
        cut = heldout_start(source.total, self.default_n)
        start, stop = (0, cut) if split == "train" else (cut, source.total)
        requested = (self.default_n if split == "train" else None) if n is None else n
        want = min(stop - start, stop - start if requested is None else requested)
        if split == "train" and n is None and self.default_n is not None and want < self.default_n:
            warnings.warn(f"{self.name}: {root} holds {source.total} images, so training uses the first {want} "
                          f"instead of the paper's {self.default_n} (the last {source.total - cut} are held out).",
                          DataWarning, stacklevel=2)
        images, found, cache = self._cached(source, split, start, stop, max(want, 0), image_size, options)
        meta = {**asdict(found), **cache, "source": source.location, "root": str(root), "total": source.total,
                "range": [start, stop]}
        if (message := found.report(self.name, split, image_size)) is not None:
            warnings.warn(message, DataWarning, stacklevel=2)
        return ImageSet(images, self.name, split, meta)

    def _cached(self, source: Source, split: str, start: int, stop: int, want: int, size: int,
                options: dict[str, Any]) -> tuple[torch.Tensor, Decoded, dict[str, Any]]:
        """The images, what decoding them found, and where the cache is ({'cache': path, 'cache_hit': bool})."""
        if want == 0:
            return torch.empty((0, 3, size, size), dtype=torch.uint8), Decoded(), {"cache": None, "cache_hit": False}
        key_material = {"version": PREPROCESS_VERSION, "dataset": self.name, "source": source.location,
                        "split": split, "range": [start, stop], "n": want, "size": size, "crop": self.crop,
                        "filter": RESAMPLE, "listing": source.fingerprint(source.names(start, start + want))}
        key = json_hash(key_material, 16)
        folder = cache_root(options) / self.name
        npy, sidecar = folder / f"{split}-{size}px-n{want}-{key}.npy", folder / f"{split}-{size}px-n{want}-{key}.json"
        if sidecar.exists() and npy.exists():
            try:
                info = read_json(sidecar)
                # copy-on-write: writable for torch, never written back; never unpickled
                arr = np.load(npy, mmap_mode="c", allow_pickle=False)
                if info.get("key") == key and arr.dtype == np.uint8 and arr.shape == (info["count"], 3, size, size):
                    found = Decoded(*(_typed(info.get(k, {}), t) for k, t in _SIDECAR.items()))
                    return torch.from_numpy(arr), found, {"cache": str(npy), "cache_hit": True}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                pass  # an unreadable or foreign cache is rebuilt below
        _writable_cache(folder, options)
        workers = worker_count(options) if want >= PARALLEL_MIN else 1
        print(f"{self.name} {split}: preprocessing up to {want} images to {size}x{size} ({self.crop} crop, "
              f"{RESAMPLE} filter, {workers} worker{'s' * (workers > 1)}) from {source.location}; "
              f"cache {npy}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        with atomic_path(npy) as tmp:
            found = preprocess(source, start, stop, want, size, self.crop, workers, tmp)
            count = len(found.names)
            if count == 0:
                first = next(iter(found.errors.items()), ("-", "no files"))
                raise GenbenchError(f"None of the {len(found.errors)} {self.name} {split} images tried in "
                                    f"{source.location} could be decoded (first: {first[0]}: {first[1]}); "
                                    f"check the files, or pass --data-root to the right folder.")
            if count < want:  # too few readable images: shrink the array to what was decoded
                full = np.load(tmp, mmap_mode="r")[:count].copy()
                with open(tmp, "wb") as f:
                    np.save(f, full)
        seconds = time.perf_counter() - t0
        rate = (count + len(found.errors)) / max(seconds, 1e-9)
        write_json(sidecar, {"key": key, "key_material": key_material, "count": count, **asdict(found),
                             "seconds": round(seconds, 3), "images_per_s": round(rate, 1)})
        print(f"{self.name} {split}: {count} images in {seconds:.1f}s ({rate:.0f} images/s)", file=sys.stderr,
              flush=True)
        return torch.from_numpy(np.load(npy, mmap_mode="c")), found, {"cache": str(npy), "cache_hit": False}


# the sidecar's lists of names, as Decoded holds them
_SIDECAR = {"names": list, "errors": dict, "converted": dict, "enlarged": dict}


def _typed(value: Any, kind: type) -> Any:
    """A sidecar field of the expected kind holding only strings; anything else is a ValueError."""
    items = value if kind is list else [*value, *value.values()] if isinstance(value, dict) else None
    if not isinstance(value, kind) or not all(isinstance(v, str) for v in items):
        raise ValueError("the cache sidecar is not genbench's")
    return value


def find_image_dir(candidates: list[Path], recursive: bool = False) -> tuple[Path, list[str]] | None:
    """The first candidate folder that holds images, and its sorted listing; None if none does."""
    for c in candidates:
        if c.is_dir():
            files = list_images(c, recursive=recursive)
            if files:
                return c, files
    return None
