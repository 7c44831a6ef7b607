"""``folder``: any directory tree of images (sorted by relative path, every image by default), centre square
crop then LANCZOS. Held out: the last tenth of the images, at most 1000 (see ``imagefolder``)."""

from __future__ import annotations

from pathlib import Path

from genbench.datasets.imagefolder import DownloadedDataset, FileSource, Source, find_image_dir
from genbench.errors import GenbenchError


class Folder(DownloadedDataset):
    name = "folder"
    description = "any folder tree of images (all, centre square crop; --data-root FOLDER)"
    default_n = None
    crop = "square"

    def open_source(self, root: Path) -> Source:
        found = find_image_dir([root], recursive=True)
        if found is None:
            raise self.missing(root)
        return FileSource(*found)

    def missing(self, root: Path) -> GenbenchError:
        return GenbenchError(
            f"No images (.jpg, .png, .webp, ...) found in {root}: pass --data-root FOLDER with a folder tree of "
            f"your images (or put them in $GENBENCH_DATA/folder or ~/.cache/genbench/folder).")
