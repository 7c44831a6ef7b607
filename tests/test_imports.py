"""One direction of flow: plugins/ import only genbench's public API; genbench/ knows no plugin."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"genbench", "genbench.api", "genbench.backbones", "genbench.sparsity", "genbench.langevin",
          "genbench.render", "genbench.registry", "genbench.errors", "genbench.viz", "genbench.domains"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.append("." * node.level + (node.module or ""))
            else:
                names.append(node.module or "")
    return names


def test_plugins_import_only_the_public_api():
    bad = []
    files = sorted((ROOT / "plugins").glob("*.py"))
    assert files
    for f in files:
        for name in _imports(f):
            if name.startswith("genbench") and not name.startswith("genbench_plugins") and name not in PUBLIC:
                bad.append(f"{f.name}: {name}")
    assert not bad, f"plugins import genbench internals: {bad}"


def test_core_does_not_import_plugins():
    bad = [f"{f.relative_to(ROOT)}: {n}" for f in (ROOT / "genbench").rglob("*.py") for n in _imports(f)
           if n.startswith("genbench_plugins")]
    assert not bad, bad
