"""Shared fixtures: tiny runs through the real CLI, isolated from the user's caches."""

from __future__ import annotations

import pytest
import torch

from genbench.cli import main

torch.set_num_threads(1)  # tiny tensors: threads only add overhead (and spin under load)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need CUDA; without it they are skipped (benchmarks/gpu_check.sh runs them)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test away from ~/.cache and the user's results folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("TORCH_HOME", str(home / ".cache" / "torch"))
    monkeypatch.delenv("GENBENCH_DATA", raising=False)
    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GENBENCH_WEIGHTS_DIR", raising=False)  # the weights cache is under XDG_CACHE_HOME above
    monkeypatch.setenv("GENBENCH_OFFLINE", "1")  # no test goes online; the download tests serve on localhost


@pytest.fixture
def cli(capsys):
    """Run the genbench CLI in-process; returns (exit_code, stdout, stderr)."""

    def run(*args: str):
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def clean_manual_registry():
    """Forget models, datasets and metrics a test registers in-process."""
    from genbench import registry

    before = {k: dict(v) for k, v in registry._manual.items()}
    yield
    for k, v in before.items():
        registry._manual[k] = v
