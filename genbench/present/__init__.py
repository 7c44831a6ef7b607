"""What presents results: tables (``tables``, ``overview``), verdicts (``verdicts``: best/tie marks,
``genbench compare``), the report page (``report``) and the AND-OR tree (``tree``)."""
