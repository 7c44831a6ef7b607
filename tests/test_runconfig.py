"""The typed run config (config.json) and run metadata (results.json's "run"): they write exactly the JSON
genbench has always written, read back every file genbench wrote, and refuse anything else with ValueError."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from genbench import registry
from genbench.errors import GenbenchError
from genbench.eval.external import Provenance
from genbench.io import write_json
from genbench.run.plan import Cell, RunOptions, make_plan
from genbench.store.records import RunResults
from genbench.store.runconfig import RunConfig, RunMeta, RunSettings
from genbench.store.runfolder import CONFIG, RESULTS, RunFolder

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "small" / "runs"
SOURCE = {"kind": "folder", "path": "/data/pngs", "count": 64, "sha256": "ab" * 32}
SETTINGS = {"image_size": 16, "n_train": 256, "n_heldout": 64, "n_eval": 64, "n_fid": 64, "ckpt_every": 10,
            "sample_every": 10, "log_every": 5}
CONFIG_JSON = {"dataset": "shapes", "preset": "tiny", "seed": 1, "model_name": "vae", "run": SETTINGS,
               "model": {"latent_dim": 100, "width": 0.0625, "batch_size": 16, "steps": 20, "lr": 0.001},
               "data_options": {}, "train": {"amp": "bf16"}}
EVAL_JSON = {"dataset": "shapes", "preset": "tiny", "seed": 0, "model_name": "real-heldout", "run": SETTINGS,
             "model": {}, "source": SOURCE, "data_options": {"data_root": "/data"}}
META_JSON = {"dataset": "shapes", "model": "vae", "preset": "tiny", "seed": 1, "step": 20,
             "versions": {"genbench": "0.1.0", "torch": "2.5"}, "git_commit": "abc", "device": "cpu",
             "status": "finished", "genbench": "0.1.0", "train_seconds": 1.5, "images_per_s": 300.0,
             "resumed_from": 0}


@pytest.mark.parametrize("data", [CONFIG_JSON, EVAL_JSON], ids=["run", "eval"])
def test_a_config_reads_back_to_the_same_json_in_the_same_order(data):
    config = RunConfig.from_json(copy.deepcopy(data))
    assert json.dumps(config.to_json()) == json.dumps(data)  # keys, nesting, order and values
    assert RunConfig.from_json(config.to_json()) == config


def test_meta_reads_back_to_the_same_json_in_the_same_order():
    for data in (META_JSON, {**{k: v for k, v in META_JSON.items() if k not in ("train_seconds", "images_per_s",
                                                                              "resumed_from")}, "source": SOURCE}):
        meta = RunMeta.from_json(copy.deepcopy(data))
        assert json.dumps(meta.to_json()) == json.dumps(data)
        assert RunMeta.from_json(meta.to_json()) == meta


def test_the_plan_writes_the_config_json_it_always_wrote():
    plan = make_plan(RunOptions(["vae"], preset="tiny", seed=1, device="cpu", amp="bf16", data_root=Path("/d")))
    config = plan.run_config(Cell("shapes", "vae", 1))
    vae = registry.get_model("vae")
    assert config.to_json() == {
        "dataset": "shapes", "preset": "tiny", "seed": 1, "model_name": "vae",
        "run": {k: v for k, v in dataclasses.asdict(plan.settings).items()
                if k not in ("watch_every", "quick_every")},  # unset: unwritten
        "model": plan.configs["vae"].to_dict(), "data_options": {"data_root": "/d"}, "train": {"amp": "bf16"}}
    assert list(config.to_json()) == ["dataset", "preset", "seed", "model_name", "run", "model", "data_options",
                                      "train"]
    assert config.model_config(vae.Config) == plan.configs["vae"]
    plain = make_plan(RunOptions(["vae"], preset="tiny", device="cpu")).run_config(Cell("shapes", "vae", 0))
    assert "train" not in plain.to_json() and plain.to_json()["data_options"] == {}


def test_every_committed_reference_file_reads_back_unchanged():
    configs = sorted(REFERENCE.glob("*/*/*/" + CONFIG))
    results = sorted(REFERENCE.glob("*/*/*/" + RESULTS))
    assert len(configs) == len(results) == 102
    for path in configs:
        data = json.loads(path.read_text())
        assert RunConfig.from_json(data).to_json() == data, path
        assert RunFolder(path.parent).read_config() == RunConfig.from_json(data)
    for path in results:
        data = json.loads(path.read_text())
        assert RunMeta.from_json(data["run"]).to_json() == data["run"], path


def test_files_of_older_genbench_versions_read_back():
    old = copy.deepcopy(CONFIG_JSON)
    del old["run"]["n_fid"], old["train"]  # written before n_fid and --amp existed
    config = RunConfig.from_json(old)
    assert config.run.n_fid is None and config.train is None  # n_fid's default: the training-set size
    meta = {k: v for k, v in META_JSON.items() if k != "device"}  # written before the device was recorded
    assert RunMeta.from_json(meta).device is None and RunMeta.from_json(meta).to_json() == meta
    assert RunMeta.from_json({**META_JSON, "added_later": 1}).to_json() == META_JSON  # a newer genbench's key


@pytest.mark.parametrize("change", [
    lambda d: d.pop("model_name"), lambda d: d.update(seed="0"), lambda d: d.update(seed=True),
    lambda d: d.update(run="x"), lambda d: d["run"].update(image_size=16.0), lambda d: d["run"].update(extra=1),
    lambda d: d.update(model=[]), lambda d: d.update(data_options={"data_root": 1}), lambda d: d.update(other=1),
    lambda d: d.update(source={"kind": "folder"}), lambda d: d.pop("preset"), lambda d: d.pop("data_options")],
    ids=["no-name", "seed-text", "seed-bool", "run-text", "size-float", "unknown-setting", "model-list",
         "option-number", "unknown-key", "source-partial", "no-preset", "no-data-options"])
def test_a_foreign_or_damaged_config_is_refused(change):
    data = copy.deepcopy(CONFIG_JSON)
    change(data)
    with pytest.raises(ValueError):
        RunConfig.from_json(data)


@pytest.mark.parametrize("data", [[], "x", None, {**META_JSON, "step": "20"}, {**META_JSON, "versions": []},
                                  {k: v for k, v in META_JSON.items() if k != "status"},
                                  {**META_JSON, "source": {"kind": 1}}])
def test_foreign_or_damaged_metadata_is_refused(data):
    with pytest.raises(ValueError):
        RunMeta.from_json(data)


def test_a_run_folder_reads_and_writes_the_types(tmp_path):
    folder = RunFolder(tmp_path)
    assert folder.read_config() is None and not folder.holds_config(RunConfig.from_json(CONFIG_JSON))
    config = RunConfig.from_json(CONFIG_JSON)
    folder.write_config(config)
    assert folder.read_config() == config and folder.holds_config(config)
    assert not folder.holds_config(dataclasses.replace(config, seed=2))
    write_json(folder.file(CONFIG), {**CONFIG_JSON, "seed": "1"})
    with pytest.raises(ValueError):
        folder.read_config()
    assert not folder.holds_config(config)
    with pytest.raises(GenbenchError, match="not a genbench run folder"):
        folder.require_config()
    folder.file(CONFIG).write_text("not json")
    assert folder.read_config() is None  # as if there were none
    folder.write_results(RunResults(RunMeta.from_json(META_JSON)))
    assert json.loads(folder.file(RESULTS).read_text()) == {"run": META_JSON, "records": []}
    assert folder.read_results().run == RunMeta.from_json(META_JSON)
    folder.write_results(RunResults())
    assert json.loads(folder.file(RESULTS).read_text()) == {"run": {}, "records": []}
    assert folder.read_results().run is None


def test_resume_compares_everything_but_the_steps():
    saved = RunConfig.from_json(CONFIG_JSON)
    longer = dataclasses.replace(saved, model={**saved.model, "steps": 40})
    assert longer.changes_from(saved) == [] and longer != saved
    other = dataclasses.replace(longer, model={**longer.model, "lr": 1.0}, run=RunSettings(**{**SETTINGS, "n_fid": 8}))
    assert other.changes_from(saved) == ["model.lr: 0.001 -> 1.0", "run.n_fid: 64 -> 8"]


def test_a_stopped_run_keeps_the_metadata_it_does_not_replace():
    before = RunMeta.from_json({**META_JSON, "source": SOURCE})
    now = dataclasses.replace(RunMeta.from_json(META_JSON), status="diverged", step=7)
    merged = now.over(before)
    assert merged.status == "diverged" and merged.step == 7 and merged.source == Provenance(**SOURCE)
    assert now.over(None) == now


def test_the_values_are_read_only_copies():
    values = {"lr": 0.1, "betas": (0.5, 0.9)}
    config = dataclasses.replace(RunConfig.from_json(CONFIG_JSON), model=values)
    values["lr"] = 1.0
    assert config.model["lr"] == 0.1 and config.model["betas"] == [0.5, 0.9]  # as it reads back from the file
    with pytest.raises(TypeError):
        config.model["lr"] = 2.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 3  # type: ignore[misc]
