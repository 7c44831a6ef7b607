"""Pretrained-weight files: where genbench looks for them and how it checks them.

Nothing is ever downloaded. ``torch.hub`` checks a file's hash only while downloading it; a file
already in the hub cache is loaded unchecked, so genbench hashes every weights file itself and
compares the SHA-256 with the prefix that torch-hub file names carry (``...-6726825d.pth``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
