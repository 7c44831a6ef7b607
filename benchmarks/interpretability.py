"""Does sparsity make parts? (issue 10, section 4; the paper's claim, Xing et al. CVPR 2020, Fig. 1 / Table 4)

Trains the paper's model, its ablations and a VAE on ``shapes`` (whose parts are known) with
``genbench run``'s own code, stage by stage (each stage resumes the run and trains further), and after
each stage scores ``dissect`` (layer-3 units vs the 12 true part concepts; 1 = part detectors, 0 = knows
only where parts sit) and ``ncc`` (the paper's Table-4 score). The first row per model is the untrained
generator of the same config (the metrics' chance level). Prints one markdown table and writes it,
with the command, to ``--out``.

    python benchmarks/interpretability.py                          # the committed run (~1-1.5 h, 2 cores)
    python benchmarks/interpretability.py --stages 100,200 --models ours,abp   # a quick look
    python benchmarks/interpretability.py --set fc_k=8 --set conv_frac=0.25 --tag tablek   # a variation

Budget: ``--stages`` (cumulative training steps at which to score), ``--n-eval`` (dissect scores
2 x n-eval training images, ncc uses n-eval images), ``--models``; ``--budget-min M`` stops before a stage
whose projected time (the last stage's training seconds per step, counted from where each run resumed, times the
steps it adds, plus the last stage's scoring time) would end past M minutes from the start: "as many epochs as
fit" on a lent GPU (benchmarks/gpu_fill.sh):

    python benchmarks/interpretability.py --preset paper --models ours --amp bf16 \
        --stages 300,600,1200,2400,4800,9600 --budget-min 5 --tag gpu-ours --out $OUT
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from genbench.io import write_json, write_text
from genbench.run.accel import AMP_CHOICES
from genbench.run.plan import RunOptions
from genbench.run.runner import RunOutcome, run

MODELS = "ours,ours-dense,abp-sparse,abp,vae"
METRICS = ["dissect", "ncc"]


@dataclass(frozen=True)
class Stage:
    """What the last stage cost, for ``--budget-min``'s projection of the next: training seconds per step of
    one model (each model from where it resumed, so a run continued from a checkpoint is not taken to have
    trained from 0) and the rest of the stage's wall time (evaluation, loading), taken as fixed."""

    steps: int  # where every model stands after the stage
    models: int  # how many trained
    per_step: float  # training seconds per step of one model
    rest: float  # the stage's other seconds

    @classmethod
    def measured(cls, outcomes: list[RunOutcome], steps: int, wall: float) -> Stage:
        done = [o for o in outcomes if o.status == "finished"]
        trained = sum(steps - o.resumed_from for o in done)
        train_s = sum(o.seconds for o in done)
        return cls(steps, len(done), train_s / trained if trained > 0 else 0.0, max(wall - train_s, 0.0))

    def projected(self, steps: int) -> float:
        """Seconds the stage to ``steps`` would take."""
        return self.per_step * self.models * (steps - self.steps) + self.rest


def parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def fmt(v, digits=3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def row_from_records(records: list) -> dict:
    by = {r.metric: r.to_dict() for r in records}
    d = by.get("dissect", {})
    row = {"dissect": d.get("value"), "iou": by.get("dissect_iou", {}).get("value"),
           "detectors": by.get("dissect_detectors", {}).get("value"), "ncc": by.get("ncc", {}).get("value")}
    ex = d.get("extra") or {}
    row.update(causal=ex.get("causal_share"), mask=ex.get("mask_share"), ceiling=ex.get("ceiling"),
               control=ex.get("control"), dissect_chance=ex.get("chance"),
               ncc_chance=(by.get("ncc", {}).get("extra") or {}).get("chance"),
               per_concept=ex.get("per_concept"))
    return row


def machine(device: str) -> str:
    """The CPU, and the GPU where the runs used one."""
    cpu = platform.processor() or platform.machine()
    return f"{torch.cuda.get_device_name()} ({cpu} host)" if device != "cpu" and torch.cuda.is_available() else cpu


def table(rows: list[dict]) -> str:
    head = ("| model | step | dissect (norm.) | detectors /12 | mean IoU | causal share in part (mask share) "
            "| ncc |\n|---|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        causal = "—" if r.get("causal") is None else f"{r['causal']:.3f} ({r['mask']:.3f})"
        det = "—" if r.get("detectors") is None else f"{int(r['detectors'])}"
        lines.append(f"| {r['model']} | {r['step']} | {fmt(r['dissect'])} | {det} | {fmt(r.get('iou'))} "
                     f"| {causal} | {fmt(r['ncc'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--stages", default="300,600,1200", help="cumulative training steps at which to score")
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-eval", type=int, default=300)
    ap.add_argument("--set", dest="sets", action="append", default=[], help="KEY=VALUE for every model")
    ap.add_argument("--results", default="/tmp/genbench-interpretability")
    ap.add_argument("--tag", default="", help="suffix for the output files (variations)")
    ap.add_argument("--out", default="reference")
    ap.add_argument("--amp", default="none", choices=AMP_CHOICES)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--budget-min", type=float, help="skip the stages that would end past this many minutes")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    stages = sorted(int(s) for s in args.stages.split(","))
    sets = {"n_eval": str(args.n_eval), **parse_sets(args.sets)}
    results = Path(args.results + (f"-{args.tag}" if args.tag else ""))
    out = Path(args.out)
    name = "interpretability" + (f"-{args.tag}" if args.tag else "")
    given = argv if argv is not None else sys.argv[1:]
    command = f"python benchmarks/{Path(__file__).name} " + " ".join(shlex.quote(a) for a in given)
    rows: dict[str, list[dict]] = {m: [] for m in models}
    t_start = time.time()
    last: Stage | None = None
    for steps in stages:
        if args.budget_min and last is not None:
            projected = last.projected(steps)
            if time.time() - t_start + projected > 60 * args.budget_min:
                print(f"stopped before step {steps}: about {projected / 60:.1f} more minutes would pass the "
                      f"{args.budget_min:g}-minute budget", flush=True)
                break
        t_stage = time.time()
        outcomes = run(RunOptions(models, preset=args.preset, seed=args.seed, results=Path(results), metrics=METRICS,
                                  sets=sets, steps=steps, progress=False, amp=args.amp, device=args.device,
                                  log=["none"]),
                       echo=lambda msg: print(msg, flush=True))
        last = Stage.measured(outcomes, steps, time.time() - t_stage)
        for o in outcomes:
            if o.status != "finished":
                print(f"{o.model}: {o.status} {o.message}", flush=True)
                continue
            row = row_from_records(o.records)
            if not rows[o.model]:  # the untrained generator of the same config: the chance level
                rows[o.model].append({"model": o.model, "step": 0, "dissect": row["dissect_chance"],
                                      "ncc": row["ncc_chance"]})
            rows[o.model].append({"model": o.model, "step": steps, **row})
        flat = [r for m in models for r in rows[m]]
        text = (f"# Does sparsity make parts? (`shapes`, preset {args.preset}, amp {args.amp}, seed {args.seed})\n\n"
                f"Command: `{command}`\n\nMachine: {machine(args.device)}, "
                f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
                f"{(time.time() - t_start) / 60:.0f} min so far (stages done up to step {steps}).\n\n"
                f"Step 0 is the untrained generator of the same config (chance level). dissect: "
                f"(IoU - where-only control) / (ceiling - control), ceiling "
                f"{fmt(flat[-1].get('ceiling'))}, control {fmt(flat[-1].get('control'))} (mean IoU).\n\n"
                + table(flat) + "\n")
        write_text(out / f"{name}.md", text)
        write_json(out / f"{name}.json", {"command": command, "rows": flat})
        print("\n" + table(flat) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
