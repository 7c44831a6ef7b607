"""``fashion``: DeepFashion images from a folder (any tree, sorted by relative path), 78,979 by default as in
the paper (the FashionGAN subset, docs/method.md section 3). Largest centred square crop, then LANCZOS. Held out:
the last min(1000, images beyond 78,979) images, or the last tenth (at most 1000) of a folder that holds
78,979 or fewer, so training then uses fewer images than the paper and says so."""

from __future__ import annotations

from pathlib import Path

from genbench.datasets.imagefolder import DownloadedDataset, FileSource, Source, find_image_dir
from genbench.errors import GenbenchError


class Fashion(DownloadedDataset):
    name = "fashion"
    description = "DeepFashion image folder (78,979 images, centre square crop; --data-root or $GENBENCH_DATA/fashion)"
    default_n = 78979
    crop = "square"

    def open_source(self, root: Path) -> Source:
        found = find_image_dir([root / "img", root], recursive=True)
        if found is None:
            raise self.missing(root)
        return FileSource(*found)

    def missing(self, root: Path) -> GenbenchError:
        return GenbenchError(
            f"DeepFashion images not found in {root}: download the DeepFashion images (the FashionGAN "
            f"78,979-image subset, or the img/ folder of a DeepFashion benchmark, from "
            f"mmlab.ie.cuhk.edu.hk/projects/DeepFashion.html) and put the image files (any sub-folders) in {root}, "
            f"or pass --data-root to the folder holding them (or set $GENBENCH_DATA to a folder holding fashion/).")
