"""Random state: seeding, and saving and restoring every generator genbench draws from (Python's,
NumPy's, torch's CPU and CUDA)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

# What a training state may hold besides tensors and plain containers: NumPy's RNG state (a uint32 array).
# torch.load(weights_only=True) with these allowed refuses every other type, so a crafted file runs no code.
_np_core = getattr(np, "_core", None) or np.core
STATE_TYPES = [_np_core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Python's, NumPy's and torch's (CPU and CUDA) RNG states (NumPy's holds a uint32 array: the one type
    beyond tensors and plain values that a checkpoint holds: ``STATE_TYPES``)."""
    s = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict[str, Any]) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


@contextlib.contextmanager
def rng_restored() -> Iterator[None]:
    """Leave every RNG state as it was found."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
