"""Config domains: every field of every built-in config and every run setting has one, and a value
outside it is refused when the config is resolved, before any data is loaded or file written."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from genbench import registry
from genbench.api import ModelConfig
from genbench.domains import between, check, count, domains_of, fraction, one_of, optional, positive, problems
from genbench.errors import GenbenchError
from genbench.run.config import RunSettings, resolve


def test_domain_membership_and_words():
    assert 1e-3 in positive and 0 not in positive and -1 not in positive and float("nan") not in positive
    assert float("inf") not in positive and True not in positive and "1" not in positive
    assert 1 in fraction and 0.5 in fraction and 0 not in fraction and 1.01 not in fraction
    assert 3 in count and 0 not in count and 2.0 not in count and True not in count
    assert None in optional(count) and 0 not in optional(count)
    assert 16 in one_of(8, 16) and 20 not in one_of(8, 16)
    assert fraction.allowed == "a number in (0, 1]" and count.allowed == "an integer >= 1"
    assert between(0, 1, high_open=True).allowed == "a number in [0, 1)"


@pytest.mark.parametrize("name", registry.names("models"))
def test_every_builtin_config_field_has_a_domain_and_every_preset_satisfies_it(name):
    cls = registry.get_model(name)
    if cls.__module__.split(".")[0] != "genbench_plugins":
        pytest.skip("third-party model")
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    assert fields - set(domains_of(cls.Config)) == set(), "fields without a domain"
    for preset in ("tiny", "small", "paper"):
        resolve(preset, [name], {name: cls})  # raises if a preset value is outside its own domain


def test_every_run_setting_has_a_domain():
    assert {f.name for f in dataclasses.fields(RunSettings)} == set(domains_of(RunSettings))


@pytest.mark.parametrize("sets, words", [
    ({"steps": "-5"}, ["model 'vae'", "steps = -5", "an integer >= 1", "--set vae.steps="]),
    ({"lr": "0"}, ["lr = 0.0", "a number > 0"]),
    ({"width": "nan"}, ["width = nan", "> 0"]),
    ({"beta1": "1"}, ["beta1 = 1.0", "[0, 1)"]),
    ({"image_size": "20"}, ["run setting image_size = 20", "8, 16, 32, 64"]),
    ({"n_eval": "0"}, ["n_eval = 0", "an integer >= 1"]),
    ({"n_train": "none"}, None),  # None is the documented "dataset default"
])
def test_values_outside_their_domain_are_refused(sets, words):
    classes = {"vae": registry.get_model("vae")}
    if words is None:
        resolve("tiny", ["vae"], classes, None, sets)
        return
    with pytest.raises(GenbenchError) as e:
        resolve("tiny", ["vae"], classes, None, sets)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert e.value.exit_code == 2


def test_toml_values_of_the_wrong_type_are_refused():
    with pytest.raises(GenbenchError, match="steps = True.*an integer"):
        resolve("tiny", ["vae"], {"vae": registry.get_model("vae")}, {"steps": True}, None)
    with pytest.raises(GenbenchError, match="batch_size = 2.5.*an integer"):
        resolve("tiny", ["vae"], {"vae": registry.get_model("vae")}, {"vae": {"batch_size": 2.5}}, None)


@dataclass
class _PluginConfig(ModelConfig):
    dropout: float = 0.2
    k: int = 4
    DOMAINS = {"dropout": between(0, 1, high_open=True), "k": count}

    def __post_init__(self):
        if self.k > self.latent_dim:
            raise ValueError(f"k ({self.k}) cannot exceed latent_dim ({self.latent_dim})")


class _Plugin:
    Config = _PluginConfig


def test_a_third_party_config_declares_its_domains_in_one_line():
    assert set(domains_of(_PluginConfig)) == {"latent_dim", "width", "batch_size", "steps", "dropout", "k"}
    assert problems(_PluginConfig(dropout=1.0)) == [("dropout", 1.0, "a number in [0, 1)")]
    with pytest.raises(GenbenchError, match="model 'mine' setting dropout = 1.0 .* \\[0, 1\\)"):
        resolve("tiny", ["mine"], {"mine": _Plugin}, None, {"dropout": "1"})
    with pytest.raises(GenbenchError, match="Model 'mine' config is not valid: k \\(200\\) cannot exceed"):
        resolve("tiny", ["mine"], {"mine": _Plugin}, None, {"k": "200"})


def test_a_domain_for_a_missing_field_names_the_plugin_mistake():
    @dataclass
    class Typo(ModelConfig):
        lr: float = 1.0
        DOMAINS = {"lrr": positive}

    with pytest.raises(GenbenchError, match="declares a domain for 'lrr'.*no such field"):
        check(Typo(), "model 'typo'", "typo.")
