#!/usr/bin/env bash
# GPU check (issue 12): on a CUDA machine, in under 8 minutes,
#   1. the GPU-marked tests (bf16 and torch.compile against float32/eager on CUDA, every model on CUDA);
#   2. a few hundred training iterations of `ours` at --preset paper (64x64, width 1, batch 100,
#      20 Langevin steps) on the embedded shapes data, float32 and bf16, printing images/s, peak
#      memory, FLOPs per step and the achieved share of the GPU's peak dense bf16 FLOP/s
#      ($GENBENCH_PEAK_TFLOPS sets the peak for a GPU the script does not know);
#   3. the sparse/dense and Langevin/fwd+bwd ratios at the paper's size.
# Usage: bash benchmarks/gpu_check.sh        (ITERS=200 per precision; COMPILE=1 also times --compile)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
"$PY" - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_check.sh needs a CUDA device and none is visible.")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}")
PYEOF
ITERS=${ITERS:-200}
START=$SECONDS
echo "== 1. GPU-marked tests"
# Only the modules that hold GPU-marked tests: the others import the parity references (prdc,
# torch-fidelity) that a GPU image may lack, and one failed import would stop the whole collection.
mapfile -t GPU_TESTS < <(grep -l "pytest.mark.gpu" tests/test_*.py)
timeout 300 "$PY" -m pytest -m gpu -rs -q -p no:cacheprovider "${GPU_TESTS[@]}"
echo "== 2-3. ours at --preset paper: $ITERS iterations per precision (after $((ITERS / 40 + 2)) warm-up)"
EXTRA=()
[ "${COMPILE:-0}" = "1" ] && EXTRA+=(--compile)
timeout 360 "$PY" benchmarks/train_speed.py --preset paper --models ours --tables speed,parts,sparse,langevin \
    --amp none,bf16 --steps "$ITERS" --warmup $((ITERS / 40 + 2)) --repeats 5 --flops "${EXTRA[@]}"
echo "== gpu_check.sh done in $((SECONDS - START)) s"
