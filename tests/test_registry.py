"""The registry: entry points (built-in and third-party), register_model, broken plugins."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from genbench import registry
from genbench.api import GenerativeModel, ModelConfig
from genbench.errors import GenbenchError


def test_builtin_plugins_come_through_entry_points():
    models = registry.discover("models")
    assert {"vae", "wgan"} <= set(models)
    assert models["vae"].source == "genbench"  # the same path a third-party package uses
    assert {"shapes", "patches", "lfw"} <= set(registry.names("datasets"))
    assert {"mse", "swd"} <= set(registry.names("metrics"))


def test_every_builtin_the_pyproject_declares_is_installed():
    # fails in an editable install made before a plugin was added: reinstall (`make install`)
    import importlib.metadata as md

    for kind, group in registry.KINDS.items():  # entry-point names (a metric family is one, however many spaces)
        installed = {ep.name for ep in md.entry_points(group=group) if ep.dist and ep.dist.name == "genbench"}
        assert registry.stale_install(kind, installed) is None, kind


def test_a_stale_install_is_named_with_its_fix(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project.entry-points."genbench.metrics"]\nswd = "a:B"\ncopying = "a:C"\n')
    message = registry.stale_install("metrics", {"swd", "fid"}, pyproject)
    assert "metrics copying declared" in message and "pip install -e ." in message
    where = registry.stale_install("metrics", {"swd"}, pyproject, where=tmp_path / "genbench.egg-info")
    assert str(tmp_path / "genbench.egg-info") in where
    assert registry.stale_install("metrics", {"swd", "copying"}, pyproject) is None
    assert registry.stale_install("metrics", {"swd"}, tmp_path / "absent.toml") is None  # a wheel install


def test_unknown_name_lists_valid_ones():
    with pytest.raises(GenbenchError) as e:
        registry.get_model("nope")
    assert "nope" in str(e.value) and "vae" in str(e.value) and e.value.exit_code == 2


@dataclass
class _TinyConfig(ModelConfig):
    lr: float = 1e-2


def test_register_model_decorator_and_capability_check(clean_manual_registry):
    @registry.register_model("scripted")
    class Scripted(GenerativeModel):
        Config = _TinyConfig
        provides = ("generator",)

        def __init__(self, config, data):
            super().__init__(config, data)
            self.w = torch.nn.Parameter(torch.zeros(1))

        def generate(self, z):
            return torch.tanh(self.w + z[:, :1, None, None].expand(-1, 3, 4, 4))

    assert registry.get_model("scripted") is Scripted and Scripted.name == "scripted"

    with pytest.raises(TypeError, match="inferrer"):
        @registry.register_model("liar")
        class Liar(GenerativeModel):  # declares a capability it does not implement
            provides = ("generator", "inferrer")

            def generate(self, z):
                return z


ROOT = Path(__file__).resolve().parents[1]


def _readme_block(after: str) -> str:
    """The fenced code block that follows the line mentioning ``after`` in README.md."""
    text = (ROOT / "README.md").read_text()
    rest = text[text.index(after):]
    body = rest[rest.index("```"):].split("\n", 1)[1]
    return body[:body.index("```")]


def _third_party_sources() -> dict[str, str]:
    """The README's plugin example, plus a broken plugin and a name clash with the built-in 'vae'."""
    toml = _readme_block("`mygan/pyproject.toml`")
    toml = toml.replace('mygan = "mygan:MyGAN"', 'mygan = "mygan:MyGAN"\nbroken = "mygan_broken:Nothing"\n'
                        'vae = "mygan:MyGAN"')
    toml = toml.replace('py-modules = ["mygan"]', 'py-modules = ["mygan", "mygan_broken"]')
    toml = toml.replace('dependencies = ["genbench"]', "dependencies = []")  # genbench is already here
    return {"pyproject.toml": toml, "mygan.py": _readme_block("`mygan/mygan.py`"),
            "mygan_broken.py": "raise ImportError('this plugin is broken on purpose')\n"}


@pytest.fixture(scope="module")
def third_party(tmp_path_factory):
    """A throw-away third-party distribution, really built and installed (into a --target dir)."""
    src = tmp_path_factory.mktemp("mygan_src")
    for name, text in _third_party_sources().items():
        (src / name).write_text(text)
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, capture_output=True)
    return target


def _genbench(target, *args, cwd):
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, "-m", "genbench.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def test_third_party_plugin_appears_in_list_and_trains(third_party, tmp_path):
    out = _genbench(third_party, "list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "mygan" in out.stdout and "mygan-plugin" in out.stdout
    # the broken plugin and the name clash are reported by name, without breaking the others
    assert "broken" in out.stdout and "failed to load" in out.stdout
    assert "'broken'" in out.stderr and "'vae'" in out.stderr and "mygan-plugin" in out.stderr

    out = _genbench(third_party, "run", "--models", "mygan,vae", "--preset", "tiny", "--steps", "3",
                    "--metrics", "swd", "--results", str(tmp_path / "res"), "--no-progress", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "res" / "shapes" / "mygan" / "tiny-seed0" / "results.json").exists()
    table = _genbench(third_party, "table", "--results", str(tmp_path / "res"), "--format", "csv", cwd=tmp_path)
    assert table.returncode == 0  # the overview: a row per model
    assert [line.split(",")[0] for line in table.stdout.splitlines()[1:3]] == ["mygan", "vae"]
    table = _genbench(third_party, "table", "--results", str(tmp_path / "res"), "--format", "csv", "--metric", "swd",
                      cwd=tmp_path)
    header = table.stdout.splitlines()[0].split(",")
    assert header[:3] == ["swd", "mygan", "vae"]  # the paper layout: a column per model
    # the built-in vae won the name clash: the config it saved is the built-in VAE's (it has 'beta1')
    cfg = (tmp_path / "res" / "shapes" / "vae" / "tiny-seed0" / "config.json").read_text()
    assert "beta1" in cfg


def test_running_a_plugin_that_raises_on_import_is_one_sentence(third_party, tmp_path):
    out = _genbench(third_party, "run", "--models", "vae,broken", "--preset", "tiny", "--results",
                    str(tmp_path / "res"), cwd=tmp_path)
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(errors) == 1 and "plugin 'broken' from mygan-plugin failed to load" in errors[0]
    assert "this plugin is broken on purpose" in errors[0] and not (tmp_path / "res").exists()
