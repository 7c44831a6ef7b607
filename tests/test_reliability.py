"""Runs that survive crashes and each other, and results you can reproduce (issue 13, parts 3 and 4):
SIGKILL mid-training then resume, NaN/inf stops a run as "failed", two processes sharing a results
folder, and byte-identical tables from two runs of the same seed and config."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from genbench import registry
from genbench.api import GenerativeModel, ModelConfig
from genbench.store.lock import run_lock
from genbench.store.runfolder import CHECKPOINT, load_records

RUN = ["run", "--preset", "tiny", "--steps", "30", "--set", "ckpt_every=5", "--metrics", "swd", "--no-progress",
       "--device", "cpu"]  # the exactness claims are for CPU

# The killed process: the real CLI, except that vae's step 13 (after the step-10 checkpoint) announces
# itself in a file and sleeps, so the test can SIGKILL it from outside at a known point.
PAUSE_AT_STEP_13 = """
import sys, time
from pathlib import Path
from genbench import registry
from genbench.cli import main

cls = registry.get_model("vae")
real = cls.train_step

def train_step(self, batches, step):
    if step == 13:
        Path(sys.argv[1]).write_text("at step 13")
        time.sleep(600)
    return real(self, batches, step)

cls.train_step = train_step
main(sys.argv[2:])
"""


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _genbench(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genbench.cli", *args], capture_output=True, text=True,
                          env=_env(), timeout=300, **kw)


def _wait_for(cond, what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / CHECKPOINT, weights_only=False)["model"]["model"]


def test_sigkill_mid_training_then_rerun_resumes_to_the_same_parameters(tmp_path):
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    marker = tmp_path / "marker"
    args = [*RUN, "--models", "vae", "--results", str(killed)]
    proc = subprocess.Popen([sys.executable, "-c", PAUSE_AT_STEP_13, str(marker), *args], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: marker.exists() or proc.poll() is not None, "the run to reach step 13")
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        proc.kill()  # SIGKILL: no handler, no cleanup
        proc.wait()
    assert proc.returncode == -9
    run = killed / "shapes" / "vae" / "tiny-seed0"
    assert torch.load(run / CHECKPOINT, weights_only=False)["step"] == 10
    assert not (run / "results.json").exists()

    again = _genbench(*args)
    assert again.returncode == 0, again.stderr
    assert "vae: resuming from step 10" in again.stdout
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert _genbench(*RUN, "--models", "vae", "--results", str(straight)).returncode == 0

    a, b = _weights(run), _weights(straight / "shapes" / "vae" / "tiny-seed0")
    assert a.keys() == b.keys()
    for name in a:  # CPU, same seed: bit-identical, not merely close
        assert torch.equal(a[name], b[name]), name
    swd = [json.loads((d / "shapes" / "vae" / "tiny-seed0" / "results.json").read_text())["records"][0]["value"]
           for d in (killed, straight)]
    assert swd[0] == swd[1]


def _log_steps(run_dir: Path) -> list[int]:
    rows = (run_dir / "train_log.csv").read_text().splitlines()[1:]
    return [int(r.split(",")[0]) for r in rows]


def _watch_steps(run_dir: Path) -> list[list[int]]:
    """The steps of metrics.jsonl and of train/loss in the TensorBoard events, read by TensorBoard's own reader."""
    rows = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    return [rows, [e.step for e in events.Scalars("train/loss")]]


def _signal_mid_run(args: list[str], run_dir: Path, signum: int, after: int) -> tuple[subprocess.Popen, int]:
    """Start ``genbench run`` and send it ``signum`` once train_log.csv shows step ``after``; returns the ended
    process and the last step the log showed when the signal was sent."""
    proc = subprocess.Popen([sys.executable, "-m", "genbench", *args], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log = run_dir / "train_log.csv"
    try:
        _wait_for(lambda: proc.poll() is not None or (log.exists() and len(_log_steps(run_dir)) >= after),
                  f"step {after} in {log}")
        assert proc.poll() is None, "the run ended before it could be signalled"
        seen = _log_steps(run_dir)[-1]
        proc.send_signal(signum)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc, seen


# log every step, a periodic checkpoint every 40: the signal lands between two of them
SIGNAL_RUN = ["run", "--preset", "tiny", "--steps", "150", "--set", "ckpt_every=40", "--set", "log_every=1",
              "--metrics", "swd", "--no-progress", "--device", "cpu", "--models", "vae"]


def test_sigterm_mid_training_checkpoints_that_step_and_the_rerun_matches_an_uninterrupted_run(tmp_path):
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    run = stopped / "shapes" / "vae" / "tiny-seed0"
    proc, seen = _signal_mid_run([*SIGNAL_RUN, "--results", str(stopped)], run, signal.SIGTERM, after=45)
    out, err = proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "Traceback" not in out + err
    said = [line for line in err.splitlines() if line.startswith("interrupted at step")]
    assert len(said) == 1 and "(SIGTERM)" in said[0] and "the same command resumes" in said[0], err
    step = int(said[0].split()[3])
    assert step >= seen >= 45
    assert torch.load(run / CHECKPOINT, weights_only=False)["step"] == step  # not the periodic one of step 40
    assert _log_steps(run)[-1] == step and not (run / "results.json").exists()
    assert _watch_steps(run) == [list(range(1, step + 1))] * 2  # the watch logs end at the saved step too

    again = _genbench(*SIGNAL_RUN, "--results", str(stopped))
    assert again.returncode == 0, again.stderr
    assert f"vae: resuming from step {step} " in again.stdout
    assert _log_steps(run) == list(range(1, 151))  # one row per step: nothing repeated, nothing missing
    assert _watch_steps(run) == [list(range(1, 151))] * 2
    assert _genbench(*SIGNAL_RUN, "--results", str(straight)).returncode == 0
    a, b = _weights(run), _weights(straight / "shapes" / "vae" / "tiny-seed0")
    for name in a:  # CPU, same seed: bit-identical
        assert torch.equal(a[name], b[name]), name
    print(f"signalled after log step {seen}; checkpoint and resume at step {step}")


def test_sigusr1_stops_the_same_way_with_exit_code_138(tmp_path):
    run = tmp_path / "shapes" / "vae" / "tiny-seed0"
    proc, seen = _signal_mid_run([*SIGNAL_RUN, "--results", str(tmp_path)], run, signal.SIGUSR1, after=5)
    _, err = proc.communicate()
    assert proc.returncode == 138 and "(SIGUSR1)" in err and "Traceback" not in err, err
    step = torch.load(run / CHECKPOINT, weights_only=False)["step"]
    assert step >= seen and f"interrupted at step {step} " in err


def test_a_signal_during_training_is_noted_and_a_second_one_aborts_at_once():
    from genbench.run import signals

    before = signal.getsignal(signal.SIGINT)  # Python's default_int_handler; SIG_IGN in a background job (nohup)
    with signals.handled():
        with signals.stop_point():
            os.kill(os.getpid(), signal.SIGUSR1)
            _wait_for(lambda: signals.pending(), "the signal")
            assert signals.pending() == signal.SIGUSR1  # noted; the loop finishes its step
            with pytest.raises(signals.Interrupted) as second:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            assert second.value.exit_code == 143 and "second signal" in str(second.value)
        with pytest.raises(signals.Interrupted) as outside:  # evaluating, loading data: nothing to finish
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        assert outside.value.exit_code == 130 and "resumes from the last checkpoint" in str(outside.value)
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_ctrl_c_in_another_command_says_interrupted_not_aborted(cli, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("genbench.present.report.write_report", interrupted)
    code, out, err = cli("report", "--results", str(tmp_path))
    assert code == 130 and "interrupted (SIGINT)." in err and "aborted" not in err and "Traceback" not in err


@dataclass
class _NanConfig(ModelConfig):
    fault: str = "loss"


class _GoesNaN(GenerativeModel):
    """Trains fine until step 7, then its loss (or one of its weights) becomes NaN."""

    Config = _NanConfig

    def __init__(self, config, data):
        super().__init__(config, data)
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.size = data.image_size

    def train_step(self, batches, step):
        x, _ = next(batches)
        if step >= 7 and self.config.fault == "params":
            with torch.no_grad():
                self.w.fill_(float("inf"))
        loss = float("nan") if step >= 7 and self.config.fault == "loss" else float(x.mean())
        return {"loss": loss}

    def generate(self, z):
        return torch.tanh(self.w + z[:, :1, None, None]).expand(-1, 3, self.size, self.size)


@pytest.mark.parametrize("fault", ["loss", "params"])
def test_nan_or_inf_stops_the_run_keeps_the_last_good_checkpoint_and_the_table_says_failed(
        cli, tmp_path, clean_manual_registry, fault):
    registry.register_model("goesnan")(_GoesNaN)
    res = tmp_path / "res"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = cli(*RUN, "--models", "vae,goesnan", "--set", f"fault={fault}", "--results", str(res))
    assert code == 1 and "Traceback" not in err
    what = "loss is not finite" if fault == "loss" else "parameter w is not finite"
    assert "goesnan diverged" in err and what in err and "last good checkpoint" in err
    ckpt = torch.load(res / "shapes" / "goesnan" / "tiny-seed0" / CHECKPOINT, weights_only=False)
    assert ckpt["step"] == 5 and torch.isfinite(ckpt["model"]["model"]["w"]).all()
    code, out, _ = cli("table", "--results", str(res), "--format", "csv", "--metric", "swd")
    assert code == 0
    header, row = out.strip().splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert cells["goesnan"] == "failed" and cells["vae"][0].isdigit()


def test_two_processes_share_a_results_folder_and_wait_for_each_others_run_folder(tmp_path):
    res = tmp_path / "res"
    out_a = tmp_path / "a.out"
    vae_dir = res / "shapes" / "vae" / "tiny-seed0"
    with out_a.open("w") as fa:
        with run_lock(vae_dir, echo=lambda m: None):  # another process is busy with shapes/vae/tiny-seed0
            a = subprocess.Popen([sys.executable, "-m", "genbench.cli", *RUN, "--models", "vae",
                                  "--results", str(res)], stdout=fa, stderr=subprocess.STDOUT, env=_env())
            try:
                b = _genbench(*RUN, "--models", "wgan", "--results", str(res))  # another model, meanwhile
                assert b.returncode == 0, b.stderr
                _wait_for(lambda: "waiting" in out_a.read_text() or a.poll() is not None, "the waiting message")
                assert a.poll() is None, out_a.read_text()
                said = out_a.read_text().replace("\n", "")  # rich wraps long lines at 80 columns in a pipe
                assert f"{vae_dir} is in use by another genbench run (pid {os.getpid()}); waiting" in said
            except BaseException:
                a.kill()
                raise
        assert a.wait(timeout=300) == 0, out_a.read_text()  # the lock is released: it runs to the end
    df = load_records(res)
    assert sorted(set(df["model"])) == ["vae", "wgan"]
    for model in ("vae", "wgan"):
        data = json.loads((res / "shapes" / model / "tiny-seed0" / "results.json").read_text())
        assert data["run"]["step"] == 30 and [r["metric"] for r in data["records"]] == ["swd"]


def test_same_seed_and_config_give_byte_identical_tables(cli, tmp_path):
    tables = []
    for name in ("first", "second"):
        res = tmp_path / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code, _, err = cli("run", "--models", "vae,wgan", "--preset", "tiny", "--steps", "4", "--metrics",
                               "swd,mse,fd_rand", "--results", str(res), "--no-progress", "--device", "cpu")
        assert code == 0, err
        code, out, _ = cli("table", "--results", str(res), "--format", "csv")
        assert code == 0
        tables.append(out)
    assert tables[0] == tables[1] and "swd" in tables[0] and "fd_rand" in tables[0]
    rec = json.loads((tmp_path / "first" / "shapes" / "vae" / "tiny-seed0" / "results.json").read_text())
    for r in rec["records"]:
        assert r["device"] == "cpu" and r["git_commit"] and r["protocol_id"]
        assert {"genbench", "torch", "numpy", "python"} <= set(r["versions"])
