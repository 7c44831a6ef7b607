"""What training costs, as ratio tables measured side by side in one process (issue 12, section 1).

Tables (each comparison alternates its two sides, repeat by repeat, and reports medians, so a
machine whose load drifts still gives a fair ratio):

1. speed   training images/s per model at the preset (and peak GPU memory on CUDA);
2. parts   `ours`: one training iteration / (critic step + (Langevin steps + 2) generator fwd+bwd), goal <= 1.2;
3. sparse  sparse / dense generator forward+backward at the same size, goal <= 1.15;
4. langevin one Langevin step (generator frozen, as train_step and infer run it) / one generator forward+backward
   (parameter gradients), goal <= 0.7;
5. eval    seconds per metric for one `ours` model trained at the preset (the run's own eval_seconds);
6. profile `ours`: where a training step's time goes (torch.profiler over ``--steps`` steps after the warm-up,
           the operators by their own device time, CUDA's on a GPU), with ``--trace DIR`` its Chrome trace.

With ``--flops`` (for benchmarks/gpu_check.sh) table 1 also gives the FLOPs of one training step
(counted with torch.utils.flop_counter over the whole step, backward passes included), the
generator's forward FLOPs per image, the achieved TFLOP/s and the share of the GPU's peak dense bf16
rate (known GPUs, or $GENBENCH_PEAK_TFLOPS).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_speed.py --preset small          # CPU
    .venv/bin/python benchmarks/train_speed.py --preset paper --models ours --amp none,bf16 --flops
    .venv/bin/python benchmarks/train_speed.py --preset tiny --repeats 2 --steps 2       # smoke run
    .venv/bin/python benchmarks/train_speed.py --preset paper --tables profile --amp bf16 --steps 5 --trace out/

``--set KEY=VALUE`` changes a model setting for tables 1 and 6 (e.g. ``--set batch_size=400``: whether a larger
batch fills the GPU).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from genbench_plugins._common import frozen
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from genbench import registry
from genbench.api import DataInfo
from genbench.backbones import Sparsity, Table1Generator
from genbench.langevin import langevin
from genbench.rng import seed_everything
from genbench.run.accel import Acceleration
from genbench.run.config import PRESETS, resolve
from genbench.run.plan import RunOptions, pick_device
from genbench.run.runner import run
from genbench.run.trainer import BatchStream
from genbench.store.runfolder import RunFolder

MODELS = "vae,dcgan,wgan,coopnet,cegan,ali,alice,ours"
# Dense bf16 tensor-core peak, TFLOP/s (vendor data sheets, without sparsity), by device-name fragment.
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100 SXM": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 756.0,
                    "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def side_by_side(a: Callable[[], object], b: Callable[[], object], device, repeats: int) -> tuple[float, float]:
    """Median seconds of a and of b, measured alternately after one warm-up call of each."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(a, device))
        tb.append(timed(b, device))
    return statistics.median(ta), statistics.median(tb)


def build(name: str, preset: str, device: torch.device, data, sets=None):
    cls = registry.get_model(name)
    _, configs = resolve(preset, [name], {name: cls}, None, sets or {})
    cfg = configs[name]
    seed_everything(0)
    model = cls(cfg, DataInfo("shapes", data.image_size, len(data), data.images.shape[1])).to(device)
    return model, BatchStream(data, cfg.batch_size, device, 0)


def peak_tflops(device: torch.device) -> float | None:
    if os.environ.get("GENBENCH_PEAK_TFLOPS"):
        return float(os.environ["GENBENCH_PEAK_TFLOPS"])
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


class FlopCount(TorchDispatchMode):
    """FLOPs of every matmul/convolution run inside (backward passes included), by the formulas of
    torch.utils.flop_counter. (FlopCounterMode itself tracks modules with hooks that
    ``autograd.grad`` on a leaf, as Langevin does, does not support.)"""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def step_flops(model, stream, accel: Acceleration, device) -> int:
    with FlopCount() as counter, accel.autocast(device):
        model.train_step(stream, 10_000)
    return counter.total


def generator_flops(model, device) -> int | None:
    gens = [m for m in model.modules() if isinstance(m, Table1Generator)]
    if not gens:
        return None
    with FlopCount() as counter, torch.no_grad():
        gens[0](torch.randn(1, gens[0].latent_dim, device=device))
    return counter.total


def table_speed(args, data, device) -> None:
    peak = peak_tflops(device) if args.flops else None
    head = "| model | amp | compile | images/s | s/step | peak GPU MiB |"
    if args.flops:
        head += " GFLOP/step | gen GFLOP/img fwd | TFLOP/s | share of peak bf16 |"
    print(f"\n## 1. training speed, preset {args.preset}, device {device_name(device)}\n\n{head}")
    print("|" + "---|" * (head.count("|") - 1))
    for name in args.models:
        for amp in args.amp:
            for comp in ([False, True] if args.compile else [False]):
                print(speed_row(args, data, device, name, Acceleration(amp, comp), peak))


def warm_stepper(args, data, device, name: str, accel: Acceleration):
    """The model, its batch stream and a call that runs one training step, after ``args.warmup`` of them."""
    model, stream = build(name, args.preset, device, data, args.sets)
    accel.prepare(model)
    step = 0

    def one():
        nonlocal step
        step += 1
        with accel.autocast(device):
            model.train_step(stream, step)

    for _ in range(args.warmup):
        one()
    return model, stream, one


def speed_row(args, data, device, name: str, accel: Acceleration, peak: float | None) -> str:
    model, stream, one = warm_stepper(args, data, device, name, accel)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seen0 = stream.images_seen
    seconds = timed(lambda: [one() for _ in range(args.steps)], device)
    rate = (stream.images_seen - seen0) / seconds
    mem = f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f}" if device.type == "cuda" else "n/a"
    row = (f"| {name} | {accel.amp} | {'yes' if accel.compile else 'no'} | {rate:.1f} | "
           f"{seconds / args.steps:.4f} | {mem} |")
    if args.flops:
        flops = step_flops(model, stream, Acceleration(accel.amp), device)
        gf = generator_flops(model, device)
        achieved = flops / (seconds / args.steps) / 1e12
        share = f"{achieved / peak:.1%}" if peak else "unknown peak"
        row += f" {flops / 1e9:.1f} | {gf / 1e9 if gf else float('nan'):.2f} | {achieved:.2f} | {share} |"
    return row


def table_parts(args, data, device) -> None:
    model, stream = build("ours", args.preset, device, data)
    c = model.config
    y, _ = next(stream)
    z = model.prior(len(y))
    step = 0

    def iteration():
        nonlocal step
        step += 1
        model.train_step(stream, step)

    def parts():
        fake = model.generator(z).detach()
        model._critic_step(y, fake)
        for _ in range(c.langevin_steps + 2):
            model.generator(z).sum().backward()

    t_iter, t_parts = side_by_side(iteration, parts, device, args.repeats)
    print(f"\n## 2. ours: one iteration vs the sum of its parts (critic step + {c.langevin_steps}+2 generator "
          f"fwd+bwd), batch {len(y)}\n\n| iteration s | parts s | ratio | goal |\n|---|---|---|---|\n"
          f"| {t_iter:.4f} | {t_parts:.4f} | {t_iter / t_parts:.2f} | <= 1.2 |")


def _gen_pair(args, data, device):
    cfg = build("ours", args.preset, device, data)[0].config
    size, width = data.image_size, cfg.width
    torch.manual_seed(0)
    sparse = Table1Generator(cfg.latent_dim, size, width, Sparsity(cfg.fc_k, cfg.conv_frac)).to(device)
    dense = Table1Generator(cfg.latent_dim, size, width).to(device)
    dense.load_state_dict(sparse.state_dict())
    return cfg, sparse, dense, torch.randn(cfg.batch_size, cfg.latent_dim, device=device)


def table_sparse(args, data, device) -> None:
    cfg, sparse, dense, z = _gen_pair(args, data, device)
    t_s, t_d = side_by_side(lambda: sparse(z).sum().backward(), lambda: dense(z).sum().backward(), device,
                            args.repeats)
    print(f"\n## 3. sparse vs dense generator forward+backward, batch {len(z)}, width {cfg.width:g}\n\n"
          f"| sparse s | dense s | ratio | goal |\n|---|---|---|---|\n| {t_s:.4f} | {t_d:.4f} | {t_s / t_d:.2f} "
          f"| <= 1.15 |")


def table_langevin(args, data, device) -> None:
    model, stream = build("ours", args.preset, device, data)
    y, _ = next(stream)
    z = model.prior(len(y))
    energy = model.posterior_energy(y)
    k = 5

    def chain():  # as train_step and infer run it: the generator frozen (no autograd state for its parameters)
        with frozen(model.generator):
            return langevin(z, energy, model.config.delta, k)

    t_l, t_g = side_by_side(chain, lambda: [energy(z).sum().backward() for _ in range(k)], device, args.repeats)
    print(f"\n## 4. one Langevin step vs one generator forward+backward (with parameter gradients), batch "
          f"{len(y)}\n\n| Langevin step s | fwd+bwd s | ratio | goal |\n|---|---|---|---|\n"
          f"| {t_l / k:.4f} | {t_g / k:.4f} | {t_l / t_g:.2f} | <= 0.7 |")


def table_eval(args, device) -> None:
    with tempfile.TemporaryDirectory() as results:
        run(RunOptions(["ours"], preset=args.preset, results=Path(results), steps=args.eval_steps or None,
                       device=str(device), progress=False), echo=lambda *a, **k: None)
        records = RunFolder.of(results, "shapes", "ours", args.preset, 0).read_results().records
    per_metric: dict[str, float] = {}
    for r in records:
        per_metric[r.metric_plugin] = max(per_metric.get(r.metric_plugin, 0.0), r.eval_seconds)
    print(f"\n## 5. evaluation of one trained `ours` ({args.preset}), seconds per metric\n\n| metric | seconds |\n"
          "|---|---|")
    for m, s in sorted(per_metric.items(), key=lambda kv: -kv[1]):
        print(f"| {m} | {s:.2f} |")
    print(f"| **all** | {sum(per_metric.values()):.2f} |")


def table_profile(args, data, device) -> None:
    from torch.profiler import ProfilerActivity, profile

    accel = Acceleration(args.amp[0], args.compile)
    model, _, one = warm_stepper(args, data, device, "ours", accel)
    on_gpu = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    sync(device)
    with profile(activities=activities, record_shapes=True) as prof:
        for _ in range(args.steps):
            one()
        sync(device)
    key = "self_device_time_total" if on_gpu else "self_cpu_time_total"
    events = prof.key_averages()
    total = sum(getattr(e, key) for e in events) or 1.0
    print(f"\n## 6. where a step of `ours` goes ({args.preset}, amp {accel.amp}, compile "
          f"{'yes' if accel.compile else 'no'}, batch {model.config.batch_size}, {args.steps} steps, "
          f"{'CUDA' if on_gpu else 'CPU'} self time)\n\n| operator | calls | self ms per step | share |\n"
          "|---|---|---|---|")
    for e in sorted(events, key=lambda e: -getattr(e, key))[:25]:
        t = getattr(e, key)
        print(f"| {e.key} | {e.count // args.steps} | {t / 1e3 / args.steps:.3f} | {t / total:.1%} |")
    if args.trace:
        Path(args.trace).mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(Path(args.trace) / f"ours-{args.preset}-{accel.amp}.trace.json"))


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="small", choices=("tiny", "small", "paper"))
    p.add_argument("--models", default=MODELS, help="models for table 1")
    p.add_argument("--tables", default="speed,parts,sparse,langevin,eval")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per model (table 1)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7, help="alternating repeats per comparison (tables 2-4)")
    p.add_argument("--amp", default="none", help="comma-separated: none,bf16")
    p.add_argument("--compile", action="store_true", help="also measure with the generator compiled")
    p.add_argument("--flops", action="store_true", help="FLOPs per step and share of peak bf16 (table 1)")
    p.add_argument("--eval-steps", type=int, help="training steps before table 5 (default: the preset's)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a model setting for tables 1 and 6, e.g. batch_size=400 (repeatable)")
    p.add_argument("--trace", help="folder for table 6's Chrome trace")
    args = p.parse_args(argv)
    args.models, args.amp = args.models.split(","), args.amp.split(",")
    args.sets = dict(item.split("=", 1) for item in args.sets)
    tables = args.tables.split(",")
    device = pick_device(args.device)
    # the preset's resolution; at most 2000 images (the count does not change the cost of a step)
    size, n = PRESETS[args.preset].get("image_size", 64), min(PRESETS[args.preset].get("n_train") or 2000, 2000)
    data = registry.get_dataset("shapes")().load("train", size, n, 0)
    print(f"# train_speed: preset {args.preset}, device {device_name(device)}, torch {torch.__version__}")
    for name, fn in (("speed", table_speed), ("parts", table_parts), ("sparse", table_sparse),
                     ("langevin", table_langevin), ("profile", table_profile)):
        if name in tables:
            fn(args, data, device)
    if "eval" in tables:
        table_eval(args, device)


if __name__ == "__main__":
    main()
