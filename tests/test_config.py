"""Preset -> model preset -> TOML -> --set resolution, and its error messages."""

from __future__ import annotations

import pytest

from genbench.errors import GenbenchError
from genbench.registry import get_model
from genbench.run.config import load_toml, parse_sets, resolve

CLASSES = {"vae": get_model("vae"), "wgan": get_model("wgan")}


def test_precedence():
    run, cfg = resolve("small", ["vae", "wgan"], CLASSES)
    assert run.image_size == 32 and cfg["vae"].width == 1 / 8
    assert cfg["wgan"].steps == CLASSES["wgan"].Config.PRESETS["small"]["steps"]  # model preset beats harness
    file_values = {"steps": 7, "vae": {"lr": 0.5}}
    run, cfg = resolve("tiny", ["vae", "wgan"], CLASSES, file_values,
                       parse_sets(["wgan.steps=9", "n_eval=12", "batch_size=4"]))
    assert cfg["vae"].steps == 7 and cfg["wgan"].steps == 9  # --set beats the file
    assert cfg["vae"].lr == 0.5 and cfg["wgan"].lr == CLASSES["wgan"].Config.lr
    assert run.n_eval == 12 and cfg["vae"].batch_size == 4 and cfg["wgan"].batch_size == 4


def test_the_demo_preset_is_each_models_small_preset_at_a_third_of_its_steps():
    """`demo` (make demo) needs no entry in a model's PRESETS: a third-party model gets it from its `small` values."""
    from dataclasses import dataclass

    from genbench.api import ModelConfig
    from genbench.run.config import DEMO_STEPS, PRESETS

    @dataclass
    class Config(ModelConfig):
        lr: float = 1.0
        PRESETS = {"small": {"steps": 300, "lr": 0.25}}

    class ThirdParty:
        pass

    ThirdParty.Config = Config
    classes = {**CLASSES, "ours": get_model("ours"), "third": ThirdParty}
    run, cfg = resolve("demo", list(classes), classes)
    _, small = resolve("small", list(classes), classes)
    assert (run.n_train, run.n_eval, run.n_fid) == (2000, 250, 1000) and run.image_size == 32
    for name in classes:
        assert cfg[name].steps == max(1, round(small[name].steps * DEMO_STEPS)) < small[name].steps
    assert cfg["third"].steps == 100 and cfg["third"].lr == 0.25  # its own small values, the steps scaled
    assert cfg["ours"].langevin_steps == small["ours"].langevin_steps and cfg["wgan"].n_critic_warmup == 25
    run, cfg = resolve("demo", ["vae"], CLASSES, None, parse_sets(["steps=5"]))
    assert cfg["vae"].steps == 5 and PRESETS["demo"]["width"] == PRESETS["small"]["width"]  # --set still wins


@pytest.mark.parametrize("sets, words", [
    (["nope=1"], ["nope"]),
    (["vae.nope=1"], ["vae", "nope", "lr"]),
    (["dcgan.lr=1"], ["dcgan", "not one of the models"]),
    (["vae.lr=fast"], ["vae.lr", "float"]),
    (["novalue"], ["key=value"]),
])
def test_bad_overrides_name_the_problem(sets, words):
    with pytest.raises(GenbenchError) as e:
        resolve("tiny", ["vae"], CLASSES, None, parse_sets(sets))
    assert all(w in str(e.value) for w in words), str(e.value)


def test_unknown_preset_and_bad_toml(tmp_path):
    with pytest.raises(GenbenchError, match="huge"):
        resolve("huge", ["vae"], CLASSES)
    bad = tmp_path / "c.toml"
    bad.write_text("steps = = 3")
    with pytest.raises(GenbenchError, match="not valid TOML"):
        load_toml(bad)
    with pytest.raises(GenbenchError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")
