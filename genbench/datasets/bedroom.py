"""``bedroom``: LSUN bedroom, the first 100k images as in the paper (docs/method.md section 3), from the lmdb
database LSUN ships (``bedroom_train_lmdb/data.mdb``, key order; needs the optional ``lmdb`` package) or from
a folder of images (e.g. LSUN's ``data.py export``; sorted by file name, which is the lmdb key order). Largest
centred square crop, then LANCZOS. Held out: the last 1000 images of the database."""

from __future__ import annotations

import os
from pathlib import Path

from genbench.datasets.imagefolder import DownloadedDataset, FileSource, LmdbSource, Source, list_images
from genbench.errors import GenbenchError


def _lmdb_dir(root: Path) -> Path | None:
    for c in (root, root / "bedroom_train_lmdb"):
        if (c / "data.mdb").is_file():
            return c
    return None


class Bedroom(DownloadedDataset):
    name = "bedroom"
    description = "LSUN bedroom lmdb or image folder (first 100k, centre square crop; $GENBENCH_DATA/bedroom)"
    default_n = 100000
    crop = "square"

    def open_source(self, root: Path) -> Source:
        lmdb_dir = _lmdb_dir(root)
        if lmdb_dir is not None:
            try:
                import lmdb  # noqa: F401  (optional)
            except ImportError:
                raise GenbenchError(
                    f"{lmdb_dir} is an lmdb database and reading it needs the optional package lmdb: run "
                    f"`pip install lmdb`, or export it to a folder of images with LSUN's `python data.py export` "
                    f"and pass that folder as --data-root.") from None
            return LmdbSource(lmdb_dir)
        files = list_images(root)
        if files:  # the export nests files by key prefix: order by file name, i.e. by lmdb key
            return FileSource(root, sorted(files, key=lambda f: (os.path.basename(f), f)))
        raise self.missing(root)

    def missing(self, root: Path) -> GenbenchError:
        return GenbenchError(
            f"LSUN bedroom data not found in {root}: download bedroom_train_lmdb.zip (LSUN scene data, "
            f"github.com/fyu/lsun `download.py -c bedroom`) and unzip it so that "
            f"{root / 'bedroom_train_lmdb' / 'data.mdb'} exists (or put a folder of exported images there), or "
            f"pass --data-root to that folder (or set $GENBENCH_DATA to a folder holding bedroom/).")
