"""genbench's built-in model plugins (installed as ``genbench_plugins``).

Each module imports only genbench's public API, exactly what a third-party plugin can import, and
is registered through the ``genbench.models`` entry points in genbench's own pyproject.
"""
