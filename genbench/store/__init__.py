"""What is stored: the run folder (``runfolder``), its typed config and metadata (``runconfig``), the record
(``records``) and the folder lock (``lock``)."""
