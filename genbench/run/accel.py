"""Opt-in speed-ups of training: bf16 mixed precision (``--amp bf16``) and ``torch.compile`` of the
generator (``--compile``).

- ``amp="bf16"`` runs each training step under ``torch.autocast`` (CUDA, and CPU where the CPU
  supports bf16): matrix products and convolutions in bfloat16, reductions and the optimizer in float32.
  Parameters, optimizer state and the latent bank stay float32. Sampling and evaluation run in
  float32. bf16 keeps 8 bits of mantissa, so a bf16 run follows the float32 run only approximately
  (tests/test_accel.py states the tolerance); top-k masks may break ties differently.
- ``compile=True`` compiles every ``Table1Generator`` in the model in place (``nn.Module.compile``,
  so parameter names and checkpoints are unchanged). The generator is the network ``ours`` runs
  about 22 times per iteration (Langevin steps + 2). The first steps pay the compilation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from genbench.backbones import Table1Generator
from genbench.errors import GenbenchError

AMP_CHOICES = ("none", "bf16")


@dataclass(frozen=True)
class Acceleration:
    amp: str = "none"
    compile: bool = False

    def __post_init__(self):
        if self.amp not in AMP_CHOICES:
            raise GenbenchError(f"--amp {self.amp} is not supported; choose from: {', '.join(AMP_CHOICES)}.")

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """The context a training step runs in."""
        if self.amp == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, model: nn.Module) -> int:
        """Compile the model's generators when asked; returns how many were compiled."""
        if not self.compile:
            return 0
        gens = [m for m in model.modules() if isinstance(m, Table1Generator)]
        for g in gens:
            g.compile()
        return len(gens)

    def config(self) -> dict[str, str]:
        """What goes into the run's config: bf16 changes the numbers, so a run records it (and does
        not resume under another precision); compilation does not."""
        return {"amp": self.amp} if self.amp != "none" else {}
