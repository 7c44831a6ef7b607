"""Atomic writes: every file genbench produces is written to a temp file and renamed into place,
so a killed process never leaves a half-written result, checkpoint or figure behind; the one
content hash of JSON-able values (``json_hash``); file names made from text that came from a file
(``safe_name``); the one sentence for a path that is not what an option wants (``path_problem``); and the
link rule of a results folder (``links_below``, ``open_nofollow``, ``append_text``): nothing genbench writes
there goes through a symbolic link, so a folder from elsewhere cannot make it write outside."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from genbench.errors import GenbenchError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it is renamed onto ``path`` (os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], Any]) -> None:
    with atomic_path(path) as tmp:
        writer(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda p: p.write_text(text))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def json_hash(obj: Any, digits: int = 16) -> str:
    """The first ``digits`` hex digits of the SHA-256 of ``obj`` as canonical JSON (sorted keys; values JSON
    cannot hold written with ``str``): the one way genbench keys caches and protocols by their content."""
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:digits]


def jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from a JSON file genbench wrote (tuples become lists, other values strings):
    what a saved config is compared with."""
    return json.loads(json.dumps(obj, default=str))


def safe_name(text: str, limit: int = 160) -> str:
    """``text`` as a single file name that stays in the folder it is written to: every character but
    letters, digits, '.', '_' and '-' becomes '_' (no '/', no '\\'), leading dots and dashes go (no '..',
    no hidden file, nothing that reads as an option), at most ``limit`` characters. A name that had to change
    ends in a hash of ``text``, so two different texts never give the same name; a safe name is kept as is."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".-")
    if name == text and 0 < len(name) <= limit:
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    stem, dot, ext = name.rpartition(".")
    ext = ext if dot and stem and re.fullmatch(r"[A-Za-z0-9]{1,8}", ext) else ""
    stem = (stem if ext else name)[:limit - 22]
    return f"{stem}-{digest}" + (f".{ext}" if ext else "") if stem else digest + (f".{ext}" if ext else "")


def path_problem(path: str | os.PathLike, want: str = "folder") -> str | None:
    """Why ``path`` is not an existing ``want`` ('folder' or 'file'): 'does not exist', 'is a file, not a
    folder', 'is a folder, not a file'; None when it is one."""
    p = Path(path)
    if want == "folder" and p.is_dir() or want == "file" and p.is_file():
        return None
    if not p.exists():
        return "does not exist"
    if p.is_dir():
        return "is a folder, not a file"
    return "is a file, not a folder" if p.is_file() else f"is not a {want}"


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX: open() refuses a path whose last component is a link


def links_below(root: str | os.PathLike, path: str | os.PathLike) -> list[Path]:
    """The symbolic links among ``path`` and the folders between ``root`` and it (``root`` itself, the folder
    a user named, is not judged): what would carry a write below ``root`` somewhere else."""
    root, path = Path(root), Path(path)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return [path] if path.is_symlink() else []
    return [p for p in (root.joinpath(*parts[:i + 1]) for i in range(len(parts))) if p.is_symlink()]


def link_refused(link: Path, option: str) -> GenbenchError:
    """The one sentence for a link where genbench would read or write a results folder's file: name the link and
    its target, and the fix (remove it, or pass another ``option``)."""
    return GenbenchError(f"{link} is a symbolic link (to {os.readlink(link)}); genbench reads and writes no file "
                         f"through a link in a results folder: remove it, or pass another {option}.")


def cache_path(cache_dir: str | os.PathLike | None, *parts: str) -> Path | None:
    """``cache_dir/parts...``, the file a cache reads and replaces, or None (no cache) when there is no cache
    folder or a link stands between it and the file: a cache planted as a link is skipped with one warning,
    never read from or written through (the value is then computed without it)."""
    if cache_dir is None:
        return None
    path = Path(cache_dir).joinpath(*parts)
    links = links_below(cache_dir, path)
    if links:
        import warnings

        warnings.warn(f"skipped the cache {links[0]}: it is a symbolic link (to {os.readlink(links[0])}); computed "
                      f"without it", RuntimeWarning, stacklevel=3)
        return None
    return path


def open_nofollow(path: str | os.PathLike, flags: int, mode: int = 0o666) -> int:
    """``os.open`` that refuses a link at ``path`` (OSError ELOOP) instead of opening its target."""
    return os.open(path, flags | NOFOLLOW, mode)  # NOFOLLOW: os.O_NOFOLLOW where the system has it


def append_text(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` to ``path`` (created if missing), never through a link."""
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(fd, "a") as f:
        f.write(text)


def printable(text: str) -> str:
    """``text`` read from a file (a name, a note, a path) made safe to print: control characters other than
    newline and tab (ESC sequences that clear the screen or retitle the window, bells, DEL, C1 codes) and
    undecodable bytes (surrogate escapes) are shown as visible escapes (``\\x1b``) instead of acting."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else _visible(ch) for ch in text)


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


FORMULA_START = ("=", "+", "@", "\t", "\r")  # what a spreadsheet runs as a formula (and "-" before a non-number)


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula (``=HYPERLINK(...)``, ``+cmd``,
    ``@SUM``, ``-x`` but not ``-0.5 ± 0.1``) gets a leading apostrophe, as OWASP's CSV-injection advice says."""
    risky = cell.startswith(FORMULA_START) or (cell.startswith("-") and len(cell) > 1
                                               and not cell[1:2].isdigit() and cell[1:2] != ".")
    return "'" + cell if risky else cell
