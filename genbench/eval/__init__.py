"""What evaluates: metric plugins on one context (``evaluator``), one cell of a plan (``evaluation``), images
and generators made elsewhere (``external``, ``outside``: ``genbench eval``), reference statistics (``stats``)."""
