#!/usr/bin/env bash
# Issue 28, item 6: the one script to run when a GPU is lent (about 9 minutes; everything under $OUT,
# at most 8 files, as the lending machine returns them).
#   1. `ours` at --preset paper (64x64, width 1, batch 100, 20 Langevin steps): images/s, FLOPs per step and
#      the share of the GPU's peak dense bf16 rate, float32 and bf16 (the "before" of item 6);
#   2. the same in bf16 at batch 200 and 400: whether a larger batch fills the GPU;
#   3. torch.profiler over 5 bf16 steps: the operators by their own CUDA time (where the time goes), and
#      the Chrome trace (gzipped);
#   4. `ours` and `ours-dense` trained in bf16 on `shapes` at 64 px, scored by dissect and ncc at
#      doubling steps (an epoch of the 10,000 images is 100 steps) until the next stage would pass the
#      budget (GPU_FILL_TRAIN_MIN, default 5 minutes; the two models side by side, as one
#      fills about a seventh of the GPU's bf16 peak): the first look at tens of epochs
#      (reference/interpretability.md holds the CPU budgets', <= 5 epochs).
# Usage, on the device machine from the repository root:
#   python3 -m pip install --no-deps --no-build-isolation -q -e . && bash benchmarks/gpu_fill.sh
# (the GPU image lacks lpips, pytorch-fid, open_clip and the effnet weights package; nothing here needs them)
# GPU_FILL_DRY=1 runs the same steps at --preset tiny on the CPU in a minute or two (a check of the script).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
OUT=${OUT:-gpu-fill-out}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
export PYTHONUNBUFFERED=1
START=$SECONDS
if [ "${GPU_FILL_DRY:-0}" = "1" ]; then
  PRESET=tiny DEVICE=cpu STEPS=2 WARMUP=1 BATCHES="8" STAGES=10,20 TRAIN_MIN=1 NEVAL=32
else
  PRESET=paper DEVICE=cuda STEPS=60 WARMUP=4 BATCHES="200 400" STAGES=300,600,1200,2400,4800,9600
  TRAIN_MIN=${GPU_FILL_TRAIN_MIN:-5} NEVAL=300
  "$PY" -c "import sys, torch; torch.cuda.is_available() or sys.exit('gpu_fill.sh needs a CUDA device.')" || exit 2
fi
{
  echo "# gpu_fill.sh $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)"
  echo "== 1. ours at --preset $PRESET, float32 and bf16"
  timeout 150 "$PY" benchmarks/train_speed.py --preset $PRESET --device $DEVICE --models ours --tables speed \
      --amp none,bf16 --steps $STEPS --warmup $WARMUP --flops
  echo "== 2. bf16 at larger batches"
  for b in $BATCHES; do
    timeout 90 "$PY" benchmarks/train_speed.py --preset $PRESET --device $DEVICE --models ours --tables speed \
        --amp bf16 --steps $((STEPS / 2)) --warmup $WARMUP --flops --set batch_size=$b
  done
  echo "== 3. where a bf16 step goes"
  timeout 120 "$PY" benchmarks/train_speed.py --preset $PRESET --device $DEVICE --tables profile --amp bf16 \
      --steps 5 --warmup $WARMUP --trace "$OUT"
  gzip -f "$OUT"/*.trace.json 2>/dev/null
  echo "== 4. ours and ours-dense in bf16 on shapes, dissect and ncc by stage ($TRAIN_MIN-minute budget each,"
  echo "   side by side: one model fills a seventh of the GPU)"
  for m in ours ours-dense; do
    timeout $((TRAIN_MIN * 60 + 180)) "$PY" benchmarks/interpretability.py --preset $PRESET --device $DEVICE \
        --models $m --amp bf16 --stages $STAGES --budget-min $TRAIN_MIN --n-eval $NEVAL \
        --results "${TMPDIR:-/tmp}/gpu-fill-runs" --tag "gpu-$m" --out "$OUT" > "$OUT/train-$m.txt" 2>&1 &
  done
  wait
  cat "$OUT"/train-ours.txt "$OUT"/train-ours-dense.txt && rm -f "$OUT"/train-*.txt
  echo "== gpu_fill.sh done in $((SECONDS - START)) s"
} 2>&1 | tee "$LOG"
