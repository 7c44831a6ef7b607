"""``cars``: Stanford Cars, ``cars_train`` then ``cars_test`` (each sorted by file name), the first 16k as in
the paper (docs/method.md section 3), uncropped: the whole photo, not its bounding box, is LANCZOS-resized to the
run's square resolution (the aspect ratio is not kept). Accepts torchvision's layout
(``stanford_cars/cars_train``) too. Held out: the 185 images after the first 16k (cars_test 07857-08041)."""

from __future__ import annotations

from pathlib import Path

from genbench.datasets.imagefolder import DownloadedDataset, FileSource, Source, list_images
from genbench.errors import GenbenchError

SPLITS = ("cars_train", "cars_test")


class Cars(DownloadedDataset):
    name = "cars"
    description = "Stanford Cars cars_train + cars_test (first 16k, uncropped; --data-root or $GENBENCH_DATA/cars)"
    default_n = 16000
    crop = "none"

    def open_source(self, root: Path) -> Source:
        for base in (root, root / "stanford_cars"):
            files = [f"{s}/{f}" for s in SPLITS if (base / s).is_dir() for f in list_images(base / s)]
            if files:
                return FileSource(base, files)
        raise self.missing(root)

    def missing(self, root: Path) -> GenbenchError:
        return GenbenchError(
            f"Stanford Cars images not found in {root}: download cars_train.tgz and cars_test.tgz (Stanford Cars, "
            f"ai.stanford.edu/~jkrause/cars/car_dataset.html, or torchvision.datasets.StanfordCars) and unpack them "
            f"so that {root / 'cars_train'} and {root / 'cars_test'} hold the .jpg files, or pass --data-root to "
            f"the folder holding cars_train/ (or set $GENBENCH_DATA to a folder holding cars/).")
