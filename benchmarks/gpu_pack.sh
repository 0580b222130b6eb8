#!/usr/bin/env bash
# Packs on a GPU, in one command that ends within 10 minutes on one H100/H200-class GPU:
#
#   bash benchmarks/gpu_pack.sh            # PYTHON=... PRECISION=bf16 to change them
#
# 1. the Table II projection: one pack of 80 QM9 cells trained 200 steps with fit_pack,
#    timed, and the full Table II (240 runs x 20,000 iterations: three packs of 80, one per
#    latent length) projected from that measured figure (benchmarks/pack.py, case table2);
# 2. the pack benchmark: solo vs packed training steps of the ring, Table I and QM9 at
#    K = 1, 4, 16, 64, 256 (a K the memory estimate says will not fit is skipped and says so),
#    cut off when the 10 minutes run out.
#
# Needs a CUDA build of torch and `pip install -e '.[chem]'` in PYTHON's environment (default:
# .venv/bin/python when its torch sees CUDA or python3 has no torch, else python3). The first run processes QM9 into
# the cache ($QLATENT_CACHE, about a minute on 16 cores). Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
    PYTHON=python3
    if [[ -x .venv/bin/python ]] && { ! python3 -c "import torch" 2>/dev/null || \
            .venv/bin/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())" \
            2>/dev/null; }; then
        PYTHON=.venv/bin/python
    fi
fi
PRECISION=${PRECISION:-fp32}
BUDGET=${BUDGET:-600}          # seconds for the whole script
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
start=$SECONDS
"$PYTHON" - <<'PY'
import sys

import torch

if not torch.cuda.is_available():
    sys.exit(f"error: no CUDA device for torch {torch.__version__}; run this on a GPU machine "
             "with a CUDA build of torch")
free, total = torch.cuda.mem_get_info()
print(f"{torch.cuda.get_device_name()}: {total / 2**30:.0f} GiB, {free / 2**30:.0f} GiB free; "
      f"torch {torch.__version__}, CUDA {torch.version.cuda}")
PY
uptime || true
echo
echo "== 1. Table II: a measured 200-step pack of 80 QM9 cells, and the projection =="
timeout $((BUDGET - (SECONDS - start) - 30)) "$PYTHON" benchmarks/pack.py --device cuda \
    --precision "$PRECISION" --threads 4 --cases table2 --table2-pack 80 --table2-steps 200
echo
echo "== 2. solo vs packed training steps, K = 1, 4, 16, 64, 256 =="
left=$((BUDGET - (SECONDS - start) - 10))
if (( left > 30 )); then
    timeout "$left" "$PYTHON" benchmarks/pack.py --device cuda --precision "$PRECISION" \
        --threads 4 --cases train-ring,train-table1,train-qm9 --ks 1,4,16,64,256 \
        --seconds 0.5 --repeats 2 \
        || echo "(stopped after $left s: the 10-minute budget ran out; the lines above stand)"
fi
echo "total $((SECONDS - start)) s"
