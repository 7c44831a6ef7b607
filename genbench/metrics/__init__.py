"""Metric plugins, one module each, registered in the ``genbench.metrics`` entry-point group."""
