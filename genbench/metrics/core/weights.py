"""Pretrained-weight files: where genbench looks for them, how it checks them, and the one download path.

A feature space's weights are resolved once per command (``resolve``): a file named with ``--weights SPACE=FILE``,
else genbench's weights cache, else an installed package that ships the file, else the space's own known places
(the torch hub cache for Inception); else, only for a space asked for by name and never under ``--offline`` /
``$GENBENCH_OFFLINE``, a download from the official source with a progress bar, checked against the pinned
SHA-256 and renamed into the cache (``download``). ``torch.hub`` checks a file's hash only while downloading it; a file
already in the hub cache is loaded unchecked, so genbench hashes every weights file itself and
compares the SHA-256 with the prefix that torch-hub file names carry (``...-6726825d.pth``).
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import os
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from genbench.api import Weights
from genbench.io import path_problem

_SHA_MEMO: dict[tuple[str, int, int], str] = {}


class WeightsError(Exception):
    """A weights file is missing or fails verification; the message says what to do."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, memoised on (path, size, mtime) so repeated protocol ids are cheap."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_MEMO:
        h = hashlib.sha256()
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_MEMO[key] = h.hexdigest()
    return _SHA_MEMO[key]


def hub_checkpoints_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (TORCH_HOME defaults to $XDG_CACHE_HOME/torch, ~/.cache/torch)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def verify(path: str | Path, sha256_prefix: str, what: str) -> str:
    """The file's SHA-256, or WeightsError if it does not start with ``sha256_prefix``."""
    digest = sha256_file(path)
    if not digest.startswith(sha256_prefix):
        raise WeightsError(f"{what} file {path} has SHA-256 {digest[:16]}..., expected {sha256_prefix}...; "
                           f"it is not the published file")
    return digest


# -- the resolution of a feature space's weights, once per command ---------------------------------------------
OFFLINE_ENV = "GENBENCH_OFFLINE"  # set (to anything but 0/false/no) = --offline
CACHE_ENV = "GENBENCH_WEIGHTS_DIR"  # genbench's weights cache; default $XDG_CACHE_HOME/genbench/weights
TIMEOUT_S = 60


def weights_dir() -> Path:
    """genbench's weights cache: ``$GENBENCH_WEIGHTS_DIR``, else ``$XDG_CACHE_HOME/genbench/weights``
    (``~/.cache/genbench/weights``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")) / "genbench" / "weights"


def offline_from_env() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class WeightsPolicy:
    """How a command may find weights: files named per space (``--weights SPACE=FILE``), whether it may go online
    (``--offline`` / ``$GENBENCH_OFFLINE``), whether a file that is not the published one may be used (named
    ``*_unverified``), and which spaces were asked for by name (only those are ever downloaded)."""

    explicit: Mapping[str, Path] = field(default_factory=dict)
    named_by: Mapping[str, str] = field(default_factory=dict)  # which option named an explicit file, if not --weights
    offline: bool = False
    allow_unverified: bool = False
    download: frozenset[str] = frozenset()


def package_file(spec: str) -> Path | None:
    """``"module:relative/path"`` -> that file inside the installed package (found without importing it)."""
    module, _, rel = spec.partition(":")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    roots = list(found.submodule_search_locations or []) if found else []
    return Path(roots[0]) / rel if roots else None


def candidates(space, policy: WeightsPolicy) -> list[tuple[Path, str]]:
    """Where ``space``'s weights file may be, in lookup order: the file named for it, else genbench's cache, the
    installed package that ships it, the space's own known places (e.g. the torch hub cache)."""
    if space.name in policy.explicit:
        where = policy.named_by.get(space.name, f"--weights {space.name}=FILE")
        return [(Path(policy.explicit[space.name]).expanduser(), where)]
    wf = space.weights
    out = [(weights_dir() / wf.file, "genbench's weights cache")]
    if wf.package and package_file(wf.package) is not None:
        out.append((package_file(wf.package), f"package {wf.package.partition(':')[0]}"))
    return out + space.known_paths()


def locate_file(space, policy: WeightsPolicy) -> tuple[Path, str] | None:
    """The first of ``candidates`` that is a file, as (path, where it was found), or None."""
    return next(((p, w) for p, w in candidates(space, policy) if p.is_file()), None)


def availability(space) -> str:
    """What ``genbench list`` says of a space's weights: installed, cached, found, downloadable or missing."""
    if space.missing():
        return f"missing: needs {space.missing()}"
    found = locate_file(space, WeightsPolicy())
    if found is not None:
        kind = "cached" if found[1] == "genbench's weights cache" else \
            "installed" if found[1].startswith("package") else "found"
        return f"{kind}: {found[0]}"
    return f"downloadable with --features {space.name}" if space.weights.url else "missing"


def _checked(space, path: Path, where: str, policy: WeightsPolicy) -> Weights:
    """Weights for an existing file: verified when its SHA-256 is the pinned one (or starts with the pinned
    prefix); a file that is not is used only with ``allow_unverified`` (then named ``*_unverified``)."""
    pin, digest = space.weights.sha256, sha256_file(path)
    if pin is None:
        return Weights(space.name, path, digest, True,
                       f"{space.weights.file}: no published SHA-256 to check; recorded {digest[:16]}...")
    if digest.startswith(pin):
        return Weights(space.name, path, digest, True)
    why = (f"{path} (from {where}) has SHA-256 {digest[:16]}..., expected {pin[:16]}...; it is not the published "
           f"file ({space.weights.file})")
    if policy.allow_unverified:
        return Weights(space.name, path, digest, False, why)
    return Weights(space.name, reason=f"{why} (replace it, or pass --allow-unverified-weights to use it as "
                                      f"*_unverified)")


def where_to_put(space, offline: bool) -> str:
    """One sentence: what ``space`` needs, where to fetch it and where to put it."""
    wf = space.weights
    size = f", {wf.size / 1e6:.0f} MB" if wf.size else ""
    places = [str(weights_dir())] + [str(p.parent) for p, _ in space.known_paths()[:1]]
    fetch = f"fetch {wf.url} and put it in {' or '.join(places)}/" if wf.url else \
        f"install the package that ships it ({wf.package.partition(':')[0] if wf.package else 'none known'})"
    tail = (" (--offline forbids downloading it)" if offline else
            f" (genbench downloads it when asked for the space by name: --features {space.name})") if wf.url else ""
    return (f"the {space.name} space needs {wf.file}{size}: {fetch}, or pass --weights {space.name}=FILE{tail}")


def resolve(space, policy: WeightsPolicy, echo=print) -> Weights:
    """The one lookup of ``space``'s weights for a command (``candidates`` in order; then a download, only for a
    space asked for by name and never offline), as a ``Weights``; never raises: an unavailable space says why."""
    if space.missing():
        return Weights(space.name, reason=f"the {space.name} space needs {space.missing()}")
    found = locate_file(space, policy)
    if found is not None:
        return _checked(space, *found, policy)
    cands = candidates(space, policy)
    if space.name in policy.explicit:
        return Weights(space.name, reason=f"{cands[0][0]} (from {cands[0][1]}) {path_problem(cands[0][0], 'file')}")
    if space.weights.url and space.name in policy.download and not policy.offline:
        try:
            path = download(space.weights, weights_dir() / space.weights.file, echo)
        except WeightsError as exc:
            return Weights(space.name, reason=str(exc))
        return _checked(space, path, "a download", policy)
    return Weights(space.name, reason=where_to_put(space, policy.offline))


def download(wf, dest: Path, echo=print) -> Path:
    """Fetch ``wf.url`` to ``dest`` with a progress bar: streamed into a temporary file beside ``dest``, its
    SHA-256 checked against the pin, then renamed into place; on any failure (network, interruption, wrong
    hash) nothing is left behind."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    dest.parent.mkdir(parents=True, exist_ok=True)
    echo(f"downloading {wf.file} from {wf.url} into {dest.parent}/ ...")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{wf.file}.", suffix=".part", dir=dest.parent)
    tmp, h = Path(tmp_name), hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(wf.url, timeout=TIMEOUT_S) as resp, Progress(
                "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                console=Console(stderr=True)) as bar:
            announced = int(resp.headers.get("Content-Length") or 0)
            task, got = bar.add_task(wf.file, total=announced or wf.size), 0
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
                h.update(block)
                got += len(block)
                bar.advance(task, len(block))
        if announced and got != announced:
            raise OSError(f"the connection ended after {got} of {announced} bytes")
        digest = h.hexdigest()
        if wf.sha256 and not digest.startswith(wf.sha256):
            raise WeightsError(f"the file downloaded from {wf.url} has SHA-256 {digest[:16]}..., expected "
                               f"{wf.sha256[:16]}...; nothing was kept")
        os.replace(tmp, dest)
        return dest
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise WeightsError(f"downloading {wf.url} failed ({type(exc).__name__}: {exc}); nothing was kept: fetch "
                           f"it yourself into {dest.parent}/ or pass --weights FILE") from None
    finally:
        tmp.unlink(missing_ok=True)
