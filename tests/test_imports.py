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
    ["genbench.eval.outside", "genbench.eval.stats"],
    ["genbench.run.runner", "genbench.runner", "genbench.present.report"],
    ["genbench.eval.evaluation"],
    ["genbench.run.plan", "genbench.plan", "genbench.present.tree", "genbench.present.overview",
     "genbench.present.plots", "genbench.present.strip"],
    ["genbench.run.trainer", "genbench.eval.evaluator", "genbench.present.tables", "genbench.present.verdicts"],
    ["genbench.store.runfolder", "genbench.runfolder", "genbench.run.validate", "genbench.run.config",
     "genbench.run.accel", "genbench.run.distributed", "genbench.run.signals", "genbench.run.runlog",
     "genbench.run.quick"],
    ["genbench.store.records", "genbench.store.runconfig", "genbench.store.lock", "genbench.metrics",
     "genbench.spaces", "genbench.datasets", "genbench.eval.external", "genbench.toolkit"],
    ["genbench", "genbench.api", "genbench.backbones", "genbench.sparsity", "genbench.langevin", "genbench.render",
     "genbench.registry", "genbench.errors", "genbench.viz", "genbench.domains", "genbench.io", "genbench.rng"],
]
# The folders that say a module's job (what runs a plan, what evaluates, what presents, what is stored); each
# package only groups its modules and imports nothing, and each module in it is listed above on its own.
FOLDERS = {"genbench.run", "genbench.eval", "genbench.present", "genbench.store"}
# The paths earlier versions documented, kept as modules that re-export from the folders.
DOCUMENTED = {"genbench.runner": "genbench.run.runner", "genbench.plan": "genbench.run.plan",
              "genbench.runfolder": "genbench.store.runfolder"}


def _layer(module: str) -> int:
    """The layer of a module: its own entry, else its package's (genbench.metrics.core.ncc -> genbench.metrics);
    a folder of FOLDERS is no package entry for the modules in it."""
    if module in FOLDERS:
        return len(LAYERS) - 1
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        for i, names in enumerate(LAYERS):
            if ".".join(parts[:n]) in names:
                return i
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


def test_the_folders_group_modules_and_import_nothing():
    for folder in FOLDERS:
        init = ROOT.joinpath(*folder.split("."), "__init__.py")
        assert init.is_file() and not [n for n in _imports(init) if n.startswith("genbench")], folder
        assert any(m.startswith(folder + ".") for row in LAYERS for m in row), folder


def test_the_documented_import_paths_still_work():
    import importlib

    for old, new in DOCUMENTED.items():
        shim, home = importlib.import_module(old), importlib.import_module(new)
        exported = [n for n in vars(shim) if not n.startswith("_") and n != "annotations"]
        assert exported and all(getattr(shim, n) is getattr(home, n) for n in exported), old
    from genbench.plan import RunOptions
    from genbench.runfolder import RunFolder, load_records
    from genbench.runner import run

    assert callable(run) and callable(load_records) and RunOptions.__module__ == "genbench.run.plan"
    assert RunFolder.__module__ == "genbench.store.runfolder"


# The package root is the facade of the public API; its one import from above, made last in the file, is
# ``genbench.evaluate`` (score images or a generator made elsewhere), which belongs to the evaluation layers.
FACADE_IMPORTS = {"genbench": {"genbench.eval.outside"}}


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
    assert imports[-1] == "genbench.eval.outside" and set(imports[:-1]) <= set(genbench.PUBLIC_MODULES)
    assert genbench.evaluate.__module__ == "genbench.eval.outside"


def test_layers_order_the_run_flow_above_the_public_api():
    order = ["genbench.cli", "genbench.run.runner", "genbench.run.plan", "genbench.run.trainer",
             "genbench.store.runfolder", "genbench.metrics.core.ncc", "genbench.api"]
    assert [_layer(m) for m in order] == sorted(_layer(m) for m in order)
    assert _layer("genbench.run.runner") < _layer("genbench.io")  # io importing runner would be flagged above


def _entry_point_modules() -> set[str]:
    """The modules genbench's own pyproject names as plugins (entry-point targets)."""
    import tomllib

    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    return {target.split(":")[0] for group in groups.values() for target in group.values()}


def _module_file(module: str) -> Path:
    parts = module.split(".")
    top = {"genbench": ROOT / "genbench", "genbench_plugins": ROOT / "plugins"}[parts[0]]
    return top.joinpath(*parts[1:]).with_suffix(".py")


def test_no_plugin_module_imports_another():
    """A plugin is not a library: what several plugins share lives in the core (metrics/core/, the toolkit),
    never in one plugin that the others import."""
    plugins = _entry_point_modules()
    assert {"genbench.metrics.fd", "genbench.spaces.dinov2", "genbench_plugins.ours"} <= plugins
    bad = [f"{m} imports {n}" for m in sorted(plugins) for n in _imports(_module_file(m))
           if n in plugins - {m}]
    assert not bad, bad
