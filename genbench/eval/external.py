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
    sha256: str  # of the uint8 (N, 3, S, S) array scored; of the file for a generator ('' for one in memory)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "count": self.count, "sha256": self.sha256}


def array_sha256(images: Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()


# -- reading ---------------------------------------------------------------------------------------
def read_images(path: Path | str, size: int, key: str | None = None,
                conventions: Conventions | None = None) -> tuple[Tensor, Provenance]:
    """uint8 (N, 3, size, size) images from a folder, an .npz or a .pt file, and where they came from; an array's
    value range and layout as ``conventions`` say where the data leaves more than one reading."""
    conventions = conventions or Conventions()
    path = Path(path)
    if not path.exists():
        raise GenbenchError(f"--images {path} does not exist; pass a folder of images, an .npz or a .pt file.")
    if path.is_dir():
        images, kind = _read_folder(path, size), "folder"
    elif path.suffix == ".npz":
        what = f"{path} (array '{key}')" if key else str(path)
        images, kind = fit_array(_npz_array(path, key), size, what, conventions), "npz"
    elif path.suffix in (".pt", ".pth"):
        images, kind = fit_array(_pt_array(path), size, str(path), conventions), "pt"
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
            name = key if key is not None else keys[0]
            _check_declared(f.zip, name, path)
            return f[name]
    except (OSError, ValueError, zipfile.BadZipFile, MemoryError) as exc:
        raise GenbenchError(f"--images {path} is not a readable .npz of arrays ({type(exc).__name__}: its header "
                            f"may declare more data than it holds).") from None


def _check_declared(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    """Refuse an array whose header declares more bytes than its member of the archive holds, before any of it is
    allocated (a 1 KB file must not make genbench reserve gigabytes)."""
    member = archive.getinfo(f"{name}.npy")
    with archive.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(fh)
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > member.file_size:
        raise GenbenchError(f"--images {path} declares an array of shape {shape} ({declared} bytes) in "
                            f"{member.file_size} bytes of data; save the images themselves with np.savez.")


def _pt_array(path: Path) -> np.ndarray:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GenbenchError(f"--images {path} cannot be read as a tensor file ({type(exc).__name__}); save the "
                            f"images with torch.save(tensor, path).") from None
    if not isinstance(obj, Tensor):
        raise GenbenchError(f"--images {path} holds a {type(obj).__name__}, not a tensor of images.")
    if obj.layout != torch.strided:
        raise GenbenchError(f"--images {path} holds a {obj.layout} tensor; save dense images (tensor.to_dense()).")
    needed = obj.numel() * obj.element_size()
    if needed > obj.untyped_storage().nbytes():  # a view that declares more images than its data holds
        raise GenbenchError(f"--images {path} declares a tensor of shape {tuple(obj.shape)} ({needed} bytes) over "
                            f"{obj.untyped_storage().nbytes()} bytes of data; save the images themselves "
                            f"(tensor.contiguous()).")
    obj = torch.Tensor(obj.detach()) if type(obj) is not Tensor else obj.detach()  # a Parameter: its data
    return (obj.float() if obj.dtype in (torch.bfloat16, torch.float16) else obj).numpy()


RANGES = {"-1,1": (-1.0, 1.0), "0,1": (0.0, 1.0), "0,255": (0.0, 255.0)}  # --value-range: what the values mean
LAYOUTS = ("nchw", "nhwc")  # --layout: where the channels are


@dataclass(frozen=True)
class Conventions:
    """How an image array is to be read, when the data alone cannot say: its value range (a key of ``RANGES``)
    and its layout (``LAYOUTS``). None: detected from the data, and refused in one sentence naming the flag
    that settles it when the data fits more than one reading."""

    value_range: str | None = None
    layout: str | None = None


def fit_array(arr: np.ndarray, size: int, what: str, conventions: Conventions = Conventions()) -> Tensor:
    """An image array as uint8 (N, 3, size, size), each image cropped and resized as the datasets' images are.
    Layout NCHW or NHWC and 1 or 3 channels; values uint8 0..255, or floats in [-1, 1], [0, 1] or [0, 255]:
    each detected where the data leaves one reading, else given by ``conventions``."""
    arr = np.asarray(arr)
    if arr.ndim != 4:
        raise GenbenchError(f"{what} is an array of shape {arr.shape}; expected images of rank 4, (N, H, W, C) "
                            f"or (N, C, H, W).")
    if _layout(arr.shape, what, conventions.layout) == "nchw":
        arr = arr.transpose(0, 2, 3, 1)
    if 0 in arr.shape:
        raise GenbenchError(f"{what} holds no image (shape {arr.shape}, as NHWC); pass at least one image of at "
                            f"least 1x1 pixels.")
    arr = _as_uint8(arr, what, conventions.value_range)
    if arr.shape[1] != arr.shape[2]:
        warnings.warn(f"{what}: the images are {arr.shape[2]}x{arr.shape[1]}, not square; each was cropped to "
                      f"its largest centred square, as the folder dataset does", RuntimeWarning, stacklevel=3)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.shape[1:3] == (size, size):
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
    return torch.from_numpy(np.stack([fit_image(Image.fromarray(a), size, CROP)[0] for a in arr]))


def _layout(shape: tuple[int, ...], what: str, given: str | None) -> str:
    """'nchw' or 'nhwc': as given (its channel axis must hold 1 or 3), else the one axis of 1 and 3 that does."""
    fits = [name for name, axis in (("nchw", 1), ("nhwc", 3)) if shape[axis] in (1, 3)]
    if given is not None:
        if given not in fits:
            raise GenbenchError(f"{what} has shape {shape}: with --layout {given} its channel axis holds "
                                f"{shape[1 if given == 'nchw' else 3]}, not 1 or 3 channels.")
        return given
    if not fits:
        raise GenbenchError(f"{what} has shape {shape}: neither axis 1 nor axis 3 holds 1 or 3 channels.")
    if len(fits) == 2:
        raise GenbenchError(f"{what} has shape {shape}: axis 1 and axis 3 could both hold the channels; say which "
                            f"with --layout nchw or --layout nhwc.")
    return fits[0]


def _as_uint8(arr: np.ndarray, what: str, given: str | None) -> np.ndarray:
    """The values as uint8 0..255, read in the range ``given`` or detected: uint8 is 0..255 unless its values are
    all 0 or 1 (masks? say so); floats below 0 are [-1, 1], above 1 are [0, 255], and floats that all lie in
    [0, 1] fit two conventions: --value-range says which."""
    if arr.dtype != np.uint8 and not np.issubdtype(arr.dtype, np.floating):
        raise GenbenchError(f"{what} has dtype {arr.dtype}; expected uint8 (0..255) or floats.")
    if not np.isfinite(arr).all():
        raise GenbenchError(f"{what} holds values that are not finite numbers (NaN or inf); pass finite images.")
    lo, hi = float(arr.min()), float(arr.max())
    name = given or _detected_range(arr.dtype, lo, hi, what)
    low, high = RANGES[name]
    tol = RANGE_TOLERANCE * (high - low) / 2
    if lo < low - tol or hi > high + tol:
        raise GenbenchError(f"{what} holds values in [{lo:.4g}, {hi:.4g}]; expected floats in [-1, 1], [0, 1] or "
                            f"[0, 255] (read here as {name}; --value-range says which).")
    if arr.dtype == np.uint8 and name == "0,255":
        return arr
    return np.round((np.clip(arr, low, high) - low) * (255 / (high - low))).astype(np.uint8)


def _detected_range(dtype: np.dtype, lo: float, hi: float, what: str) -> str:
    if dtype == np.uint8:
        if hi <= 1:
            raise GenbenchError(f"{what} holds integers 0 and 1 only: masks, or images read as 0..255 (nearly black)? "
                                f"say which with --value-range 0,1 or --value-range 0,255.")
        return "0,255"
    if lo < 0:
        return "-1,1"
    if hi > 1:
        return "0,255"
    raise GenbenchError(f"{what} holds floats in [{lo:.3g}, {hi:.3g}], which reads as [0, 1] or as [-1, 1] images; "
                        f"say which with --value-range 0,1 or --value-range -1,1.")


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
        _check_output(x)
        size = self.data.image_size
        if isinstance(x, Tensor) and x.dim() == 4 and x.shape[1] == 3 and x.shape[2:] != (size, size):
            arr = np.round((x.clamp(-1, 1).cpu().numpy() + 1) * 127.5).astype(np.uint8)
            x = ImageSet(fit_array(arr, size, "the generator's images"), "generated").as_float().to(z.device)
        return x

    def sample(self, n: int, seed: int | None = None, batch_size: int = 256) -> Tensor:
        return super().sample(min(n, self.max_samples or n), seed, batch_size)

    def sample_chunks(self, n: int, seed: int, chunk: int = 500) -> Iterator[Tensor]:
        return super().sample_chunks(min(n, self.max_samples or n), seed, chunk)


def _check_output(x: Tensor) -> None:
    """A generator's images as it made them, before anything clamps them: floats in [-1, 1], finite, on every
    batch (a generator of [0, 255] or [0, 1] images would otherwise be scored as white or washed-out images)."""
    if not isinstance(x, Tensor) or x.dim() != 4:
        return  # not images at all: the probe names the shape it expected
    if not x.is_floating_point():
        raise GenbenchError(f"the generator returned {x.dtype} images, not floating-point images in [-1, 1]")
    if not torch.isfinite(x).all():
        raise GenbenchError("the generator returned values that are not finite numbers (NaN or inf) in a batch; every "
                            "batch must be finite images in [-1, 1]")
    lo, hi = x.min().item(), x.max().item()
    if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise GenbenchError(f"the generator returned values in [{lo:.4g}, {hi:.4g}], not images in [-1, 1]; map its "
                            f"output to [-1, 1] (e.g. x / 127.5 - 1 for 0..255, 2 * x - 1 for 0..1) before saving it")


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
