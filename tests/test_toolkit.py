"""A newcomer's sample metric from a third-party package, built only on the public toolkit (the README's
`saturation.py`, installed as a real distribution outside genbench/): it registers, is computed in a run,
carries its interval into the tables, and reads low and high where it must."""

from __future__ import annotations

import ast
import csv
import importlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from metric_fakes import FakeGenerator, context, imageset

import genbench
from genbench.api import DataInfo, GenerativeModel, ModelConfig

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "saturation-metric"
version = "0.1"

[project.entry-points."genbench.metrics"]
saturation = "saturation:Saturation"

[tool.setuptools]
py-modules = ["saturation"]
"""


def _readme_metric() -> str:
    text = (ROOT / "README.md").read_text()
    rest = text[text.index("`saturation.py`, a sample metric"):]
    body = rest[rest.index("```python"):].split("\n", 1)[1]
    return body[:body.index("```")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    src = tmp_path_factory.mktemp("saturation_src")
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "saturation.py").write_text(_readme_metric())
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    return target


def test_the_metric_imports_only_the_public_modules():
    tree = ast.parse(_readme_metric())
    used = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    used |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in used if m.startswith("genbench")} <= set(genbench.PUBLIC_MODULES)
    assert "genbench.toolkit" in used


class Constant(GenerativeModel):
    """Every sample is the constant image ``level``."""

    provides = ("generator",)

    def __init__(self, level: float):
        super().__init__(ModelConfig(latent_dim=4), DataInfo("fake", 8, 8, 3))
        self.level = torch.nn.Parameter(torch.tensor(level))

    def generate(self, z):
        return self.level.expand(len(z), 3, 8, 8)


def test_it_reads_high_on_saturated_samples_and_low_on_grey_ones(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    metric = importlib.import_module("saturation").Saturation()
    train = imageset(torch.rand(40, 3, 8, 8))
    high = metric.compute(context(Constant(1.0), train, n_fid=40))[0]
    low = metric.compute(context(Constant(0.0), train, n_fid=40))[0]
    assert high.value == 1.0 and low.value == 0.0
    some = metric.compute(context(FakeGenerator(size=8, shift=2.0), train, n_fid=40))[0]
    assert 0.0 < some.value < 1.0  # tanh(. + 2) saturates part of the pixels
    lo, hi = some.extra["ci"]
    assert lo <= some.value <= hi and lo < hi and len(some.extra["boot"]) == 200


def _genbench(target: Path, *args: str, cwd: Path):
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, "-m", "genbench.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_a_run_computes_it_and_the_table_shows_its_interval(installed, tmp_path):
    listed = _genbench(installed, "list", cwd=tmp_path)
    assert listed.returncode == 0 and "saturation" in listed.stdout and "saturation-metric" in listed.stdout
    res = str(tmp_path / "res")
    out = _genbench(installed, "run", "--models", "vae,wgan", "--preset", "tiny", "--steps", "3", "--metrics",
                    "saturation,swd", "--results", res, "--no-progress", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = _genbench(installed, "table", "--results", res, "--format", "csv", "--ci", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    header, *rows = csv.reader(io.StringIO(table.stdout))
    cells = {row[0]: row[header.index("saturation ↓")] for row in rows[:2]}
    assert set(cells) == {"vae", "wgan"}
    assert all("[" in cell and "]" in cell for cell in cells.values()), cells  # each value with its 95% interval
