"""One writer per run folder. Two ``genbench run`` processes may share a results folder (each run has
its own folder and every file is replaced atomically); a second process that reaches a run folder
another one is using waits for it, says so, and then resumes or reuses what the first one wrote.

The lock is an ``flock`` on ``RUN_DIR/.lock``: the kernel releases it when its process ends, however it
ends (SIGKILL included), so a crashed run never leaves a stale lock behind. Where ``fcntl`` does not
exist (Windows) runs are not locked.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from genbench.io import open_nofollow

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

LOCK_FILE = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: Path, echo: Callable[[str], object] = print) -> Iterator[None]:
    """Hold the run folder's lock for the duration of the block, waiting (with one message) if another
    process holds it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = open_nofollow(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT)  # a link planted there is refused
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            echo(f"{run_dir} is in use by another genbench run ({holder}); waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
