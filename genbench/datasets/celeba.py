"""``celeba``: CelebA's aligned faces (torchvision's layout), the first 10k in sorted order as in the paper
(docs/method.md section 3: ``img_align_celeba`` 000001-010000). The paper used OpenFace-aligned faces; the closest
on the aligned 178x218 images is a tight centred 108x108 crop (the DCGAN CelebA convention), then LANCZOS
to the run's resolution. Held out: the last 1000 images of the 202,599 (see ``imagefolder``)."""

from __future__ import annotations

from pathlib import Path

from genbench.datasets.imagefolder import DownloadedDataset, FileSource, Source, find_image_dir
from genbench.errors import GenbenchError


class CelebA(DownloadedDataset):
    name = "celeba"
    description = "CelebA img_align_celeba (first 10k, centre 108px crop; --data-root or $GENBENCH_DATA/celeba)"
    default_n = 10000
    crop = "center-108"

    def open_source(self, root: Path) -> Source:
        found = find_image_dir([root / "celeba" / "img_align_celeba", root / "img_align_celeba", root])
        if found is None:
            raise self.missing(root)
        return FileSource(*found)

    def missing(self, root: Path) -> GenbenchError:
        return GenbenchError(
            f"CelebA images not found in {root}: download img_align_celeba.zip (CelebA 'Align&Cropped Images', "
            f"mmlab.ie.cuhk.edu.hk/projects/CelebA.html, or torchvision.datasets.CelebA) and unzip it so that "
            f"{root / 'img_align_celeba' / '000001.jpg'} exists, or pass --data-root to the folder holding "
            f"img_align_celeba/ (or set $GENBENCH_DATA to a folder holding celeba/).")
