"""Stopping cleanly on a signal: SIGTERM (what SLURM and most schedulers send before they preempt or
cancel a job), SIGINT (Ctrl-C) and SIGUSR1 (the usual ``sbatch --signal`` for a requeue).

- **During training** (inside ``stop_point()``, which the training loop holds) the first signal is only
  noted; the loop polls ``pending()`` between steps, so the step in progress finishes, a checkpoint is
  written and ``Interrupted`` ("interrupted at step N ...; the same command resumes") ends the command
  with the shell's exit code for that signal, 128 + its number (143 for SIGTERM, 130 for SIGINT, 138 for
  SIGUSR1). Under torchrun the ranks agree on it after every step
  (``genbench.run.distributed.Distributed.agree_stop``), so every rank stops after the same step.
- **Anywhere else in** ``handled()`` (``genbench run`` loading data, evaluating) there is no step to
  finish: the signal raises ``Interrupted`` at once and the last checkpoint is what a rerun resumes.
- **A second signal** raises ``Interrupted`` at once, wherever the process is (a checkpoint being
  written is then not replaced: writes are atomic).

``Interrupted`` derives from ``BaseException``, as ``KeyboardInterrupt`` does, so no ``except
Exception`` (a metric's or a model's crash guard) swallows it. Handlers are installed only from the
main thread, and the previous ones are restored when the block ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGUSR1") if hasattr(signal, n))


class Interrupted(BaseException):
    """A stop asked for by a signal; ``exit_code`` is 128 + the signal's number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.message, self.signum, self.exit_code = message, signum, 128 + signum

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # a worker process may raise it: it must survive pickling
        return (type(self), (self.message, self.signum))


@dataclass
class _State:
    installed: bool = False
    deferring: bool = False  # inside stop_point(): the first signal is noted, not raised
    pending: int = 0  # the signal received and not yet acted on (0: none)


_state = _State()


def name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _handler(signum: int, frame) -> None:
    if _state.deferring and not _state.pending:
        _state.pending = signum
        return
    if _state.pending:
        raise Interrupted(f"aborted by a second signal ({name(signum)}); the last checkpoint is kept and the "
                          f"same command resumes from it.", signum)
    raise Interrupted(f"interrupted ({name(signum)}); the same command resumes from the last checkpoint.", signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Catch SIGTERM, SIGINT and SIGUSR1 for the block (module docstring); a no-op outside the main
    thread or when an enclosing block already catches them."""
    if _state.installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _state.installed, _state.pending = True, 0
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _state.installed, _state.deferring, _state.pending = False, False, 0


@contextlib.contextmanager
def stop_point() -> Iterator[None]:
    """The training loop's block: a first signal is noted for ``pending()`` instead of raised."""
    with handled():
        _state.deferring, _state.pending = True, 0
        try:
            yield
        finally:
            _state.deferring, _state.pending = False, 0


def pending() -> int:
    """The number of the signal received inside ``stop_point()`` and not yet acted on; 0 when none."""
    return _state.pending
