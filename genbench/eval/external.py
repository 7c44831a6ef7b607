"""Images and generators made outside genbench, as models the evaluator scores like its own.

- ``read_images(path, size)``: a folder tree of images (decoded by the ``folder`` dataset's rules: EXIF
  orientation, RGB, the largest centred square, LANCZOS to the run's resolution; undecodable files skipped
  with one warning), an ``.npz`` (one array, or the one named by ``key``) or a ``.pt`` tensor (loaded with
  ``weights_only=True``). Arrays are uint8 0..255 or floats in [-1, 1], NHWC or NCHW, 1 or 3 channels; they
  are brought to the resolution exactly as the datasets' images are (the same crop and LANCZOS resize).
- ``ImageSetModel``: a fixed set of images as a model with the ``generator`` capability. Its samples are
  the images in their order (seeds do not apply): ``sample(n)`` and ``sample_chunks(n, ...)`` give the first
  n, or all of them when there are fewer, and the metrics then mark their values † as for too few samples.
- ``ScriptedGenerator``: a TorchScript generator, or a ``torch.export`` program saved as ``.pt2`` (latents
  (N, d) -> images in [-1, 1]), sampled under a seed
  like a trained model; images of another size are brought to the resolution as above (through uint8).
- ``Provenance``: where the images came from (kind, path, count, SHA-256 of the uint8 array that was scored).
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from genbench.api import DataInfo, GenerativeModel, ImageSet, ModelConfig
from genbench.datasets.imagefolder import FileSource, fit_image, list_images, preprocess_chunk
from genbench.errors import GenbenchError

CROP = "square"  # the folder dataset's rule: the largest centred square
RANGE_TOLERANCE = 1e-3  # float images may overshoot [-1, 1] by rounding, not more


@dataclass
class Provenance:
    kind: str  # folder | npz | pt | array | generator | real
    path: str
    count: int
    sha256: str  # of the uint8 (N, 3, S, S) array scored ('' for a generator: its samples depend on n)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "count": self.count, "sha256": self.sha256}


def array_sha256(images: Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()


# -- reading ---------------------------------------------------------------------------------------
def read_images(path: Path | str, size: int, key: str | None = None) -> tuple[Tensor, Provenance]:
    """uint8 (N, 3, size, size) images from a folder, an .npz or a .pt file, and where they came from."""
    path = Path(path)
    if not path.exists():
        raise GenbenchError(f"--images {path} does not exist; pass a folder of images, an .npz or a .pt file.")
    if path.is_dir():
        images, kind = _read_folder(path, size), "folder"
    elif path.suffix == ".npz":
        images, kind = fit_array(_npz_array(path, key), size, f"{path} (array '{key}')" if key else str(path)), "npz"
    elif path.suffix in (".pt", ".pth"):
        images, kind = fit_array(_pt_array(path), size, str(path)), "pt"
    else:
        raise GenbenchError(f"--images {path} is a file genbench cannot read as images; pass a folder of "
                            f"images, an .npz or a .pt file.")
    return images, Provenance(kind, str(path), len(images), array_sha256(images))


def _read_folder(root: Path, size: int) -> Tensor:
    files = list_images(root, recursive=True)
    if not files:
        raise GenbenchError(f"--images {root} holds no image (.jpg, .png, .webp, ...); pass a folder of images.")
    source = FileSource(root, files)
    not_square = sum(1 for f in files if _is_not_square(root / f))
    if not_square:
        warnings.warn(f"{not_square} of {len(files)} images in {root} are not square; each was cropped to its "
                      f"largest centred square, as the folder dataset does", RuntimeWarning, stacklevel=3)
    images, found = preprocess_chunk(list(zip(files, source.payloads(files), strict=True)), size, CROP)
    message = found.report(str(root), "images", size)
    if message:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    if not len(images):
        raise GenbenchError(f"--images {root} holds no image that can be decoded; pass a folder of images.")
    return torch.from_numpy(images)


def _is_not_square(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            return img.size[0] != img.size[1]
    except Exception:  # undecodable files are reported by the decoder
        return False


def _npz_array(path: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.keys())
            if key is None and len(keys) != 1:
                raise GenbenchError(f"--images {path} holds the arrays {', '.join(keys) or '(none)'}; say which "
                                    f"one with --key.")
            if key is not None and key not in keys:
                raise GenbenchError(f"--images {path} has no array '{key}'; it holds: {', '.join(keys)}.")
            return f[key if key is not None else keys[0]]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise GenbenchError(f"--images {path} is not a readable .npz of arrays ({type(exc).__name__}).") from None


def _pt_array(path: Path) -> np.ndarray:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GenbenchError(f"--images {path} cannot be read as a tensor file ({type(exc).__name__}); save the "
                            f"images with torch.save(tensor, path).") from None
    if not isinstance(obj, Tensor):
        raise GenbenchError(f"--images {path} holds a {type(obj).__name__}, not a tensor of images.")
    return obj.numpy()


def fit_array(arr: np.ndarray, size: int, what: str) -> Tensor:
    """An image array (uint8 0..255 or float in [-1, 1]; NHWC or NCHW; 1 or 3 channels) as uint8
    (N, 3, size, size), each image cropped and resized as the datasets' images are."""
    arr = np.asarray(arr)
    if arr.ndim != 4:
        raise GenbenchError(f"{what} is an array of shape {arr.shape}; expected images of rank 4, (N, H, W, C) "
                            f"or (N, C, H, W).")
    if arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)  # NCHW -> NHWC
    if arr.shape[-1] not in (1, 3):
        raise GenbenchError(f"{what} has shape {arr.shape}: neither axis 1 nor axis 3 holds 1 or 3 channels.")
    arr = _as_uint8(arr, what)
    if len(arr) == 0:
        raise GenbenchError(f"{what} holds no image (shape {arr.shape}).")
    if arr.shape[1] != arr.shape[2]:
        warnings.warn(f"{what}: the images are {arr.shape[2]}x{arr.shape[1]}, not square; each was cropped to "
                      f"its largest centred square, as the folder dataset does", RuntimeWarning, stacklevel=3)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.shape[1:3] == (size, size):
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
    return torch.from_numpy(np.stack([fit_image(Image.fromarray(a), size, CROP)[0] for a in arr]))


def _as_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating):
        raise GenbenchError(f"{what} has dtype {arr.dtype}; expected uint8 (0..255) or floats in [-1, 1].")
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if not np.isfinite(arr).all() or lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise GenbenchError(f"{what} holds floats in [{lo:.3g}, {hi:.3g}]; expected floats in [-1, 1] (or uint8 "
                            f"0..255).")
    return np.round((np.clip(arr, -1, 1) + 1) * 127.5).astype(np.uint8)


# -- as models -------------------------------------------------------------------------------------
class ImageSetModel(GenerativeModel):
    """A fixed set of images as a ``generator``: its samples are its images, in order."""

    provides = ("generator",)
    name = "images"

    def __init__(self, images: ImageSet, data: DataInfo):
        super().__init__(ModelConfig(latent_dim=1, steps=1), data)
        self.images = images
        # a float buffer fingerprints the set (the evaluator memoises per state) and carries the device
        self.register_buffer("pixel_sum", torch.tensor(float(images.images.double().sum())))

    @property
    def device(self) -> torch.device:
        return self.pixel_sum.device

    def generate(self, z: Tensor) -> Tensor:
        """The first len(z) images (the latents are ignored: a fixed set has no latent space)."""
        return self.images.as_float(slice(0, len(z))).to(z.device)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch_size: int = 256) -> Tensor:
        return self.images.as_float(slice(0, n))

    def sample_chunks(self, n: int, seed: int, chunk: int = 500) -> Iterator[Tensor]:
        for i in range(0, min(n, len(self.images)), chunk):
            yield self.images.as_float(slice(i, min(i + chunk, n)))


class ScriptedGenerator(GenerativeModel):
    """A TorchScript generator, latents (N, d) ~ N(0, I) -> images in [-1, 1], as a ``generator``."""

    provides = ("generator",)
    name = "generator"

    def __init__(self, module: torch.nn.Module, latent_dim: int, data: DataInfo, max_samples: int | None = None,
                 fixed_batch: int | None = None):
        super().__init__(ModelConfig(latent_dim=latent_dim, steps=1), data)
        self.module = module
        self.max_samples = max_samples  # --n: at most this many samples per metric (they are then marked †)
        self.fixed_batch = fixed_batch  # a torch.export program traced at one batch size takes only that size
        self.register_buffer("anchor", torch.zeros(()))  # carries the device

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def train(self, mode: bool = True) -> ScriptedGenerator:
        """Only this wrapper's mode: the loaded program is used as saved (a torch.export module refuses eval())."""
        self.training = mode
        return self

    def _call(self, z: Tensor) -> Tensor:
        """The program on z; a fixed-batch program in chunks of its size, the last one padded with zeros."""
        b = self.fixed_batch
        if b is None or len(z) == b:
            return self.module(z)
        chunks = []
        for i in range(0, len(z), b):
            part = z[i:i + b]
            pad = torch.cat([part, part.new_zeros(b - len(part), *part.shape[1:])]) if len(part) < b else part
            chunks.append(self.module(pad)[:len(part)])
        return torch.cat(chunks)

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        x = self._call(z)
        size = self.data.image_size
        if isinstance(x, Tensor) and x.dim() == 4 and x.shape[1] == 3 and x.shape[2:] != (size, size):
            arr = np.round((x.clamp(-1, 1).cpu().numpy() + 1) * 127.5).astype(np.uint8)
            x = ImageSet(fit_array(arr, size, "the generator's images"), "generated").as_float().to(z.device)
        return x

    def sample(self, n: int, seed: int | None = None, batch_size: int = 256) -> Tensor:
        return super().sample(min(n, self.max_samples or n), seed, batch_size)

    def sample_chunks(self, n: int, seed: int, chunk: int = 500) -> Iterator[Tensor]:
        return super().sample_chunks(min(n, self.max_samples or n), seed, chunk)


def load_generator(path: Path | str, latent_dim: int, data: DataInfo, max_samples: int | None = None
                   ) -> ScriptedGenerator:
    path = Path(path)
    if not path.is_file():
        raise GenbenchError(f"--generator {path} {'is a folder' if path.exists() else 'does not exist'}; pass a "
                            f"TorchScript file (torch.jit.save of a module mapping latents (N, d) to images).")
    fixed = None
    try:
        if path.suffix == ".pt2":  # torch.export's format (TorchScript's successor)
            program = torch.export.load(str(path))
            module, fixed = program.module(), _fixed_batch(program)
        else:
            module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:
        why = (str(exc).strip().splitlines() or [""])[0][:120]
        raise GenbenchError(f"--generator {path} is not a loadable TorchScript file ({type(exc).__name__}: {why}); "
                            f"save the generator with torch.jit.save(torch.jit.script(model), path), or "
                            f"torch.export.save(torch.export.export(model, (z,)), 'gen.pt2').") from None
    return ScriptedGenerator(module, latent_dim, data, max_samples, fixed)


def _fixed_batch(program: torch.export.ExportedProgram) -> int | None:
    """The batch size a torch.export program was traced at, when it is fixed (None when the batch is dynamic)."""
    inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    val = inputs[0].meta.get("val") if inputs else None
    size = val.shape[0] if val is not None and val.dim() else None
    return size if isinstance(size, int) else None
