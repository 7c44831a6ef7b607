"""One direction of flow: plugins/ import only genbench's public API; genbench/ knows no plugin."""

from __future__ import annotations

import ast
from pathlib import Path

import genbench

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = set(genbench.PUBLIC_MODULES)  # the one list of what plugins may import


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


# The layers, top first (docs/design.md): a module imports only its own layer and the layers below.
LAYERS = [
    ["genbench.cli", "genbench.__main__"],
    ["genbench.outside", "genbench.stats"],
    ["genbench.runner", "genbench.report"],
    ["genbench.evaluation"],
    ["genbench.plan", "genbench.tree", "genbench.overview"],
    ["genbench.trainer", "genbench.evaluator", "genbench.tables", "genbench.verdicts"],
    ["genbench.runfolder", "genbench.validate", "genbench.config", "genbench.accel", "genbench.distributed",
     "genbench.signals"],
    ["genbench.records", "genbench.runconfig", "genbench.lock", "genbench.metrics", "genbench.datasets",
     "genbench.external", "genbench.toolkit"],
    ["genbench", "genbench.api", "genbench.backbones", "genbench.sparsity", "genbench.langevin", "genbench.render",
     "genbench.registry", "genbench.errors", "genbench.viz", "genbench.domains", "genbench.io", "genbench.rng"],
]


def _layer(module: str) -> int:
    """The layer of a module: its own entry, else its package's (genbench.metrics.core.ncc -> genbench.metrics)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        for i, names in enumerate(LAYERS):
            if ".".join(parts[:n]) in names:
                return i
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


# The package root is the facade of the public API; its one import from above, made last in the file, is
# ``genbench.evaluate`` (score images or a generator made elsewhere), which belongs to the evaluation layers.
FACADE_IMPORTS = {"genbench": {"genbench.outside"}}


def test_no_module_imports_one_above_it():
    bad = []
    for f in sorted((ROOT / "genbench").rglob("*.py")):
        rel = f.relative_to(ROOT).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        for name in _imports(f):
            if name.startswith("genbench.") or name == "genbench":
                if _layer(name) < _layer(module) and name not in FACADE_IMPORTS.get(module, ()):
                    bad.append(f"{module} imports {name}")
    assert not bad, bad


def test_the_facade_imports_evaluate_plainly_and_last():
    """``genbench.evaluate`` is an ordinary import the layering test sees (no lazy lookup), made after every
    public name is defined, so a plugin's ``from genbench import GenerativeModel`` never meets a half-made root."""
    imports = [n for n in _imports(ROOT / "genbench" / "__init__.py") if n.startswith("genbench")]
    assert imports[-1] == "genbench.outside" and set(imports[:-1]) <= set(genbench.PUBLIC_MODULES)
    assert genbench.evaluate.__module__ == "genbench.outside"


def test_layers_order_the_run_flow_above_the_public_api():
    order = ["genbench.cli", "genbench.runner", "genbench.plan", "genbench.trainer", "genbench.runfolder",
             "genbench.metrics.core.ncc", "genbench.api"]
    assert [_layer(m) for m in order] == sorted(_layer(m) for m in order)
    assert _layer("genbench.runner") < _layer("genbench.io")  # io importing runner would be flagged above
