"""``genbench.runfolder``, the path earlier versions documented for the run folder: it lives in
``genbench.store.runfolder``."""

from genbench.store.runfolder import RunFolder, folders, load_records  # noqa: F401
