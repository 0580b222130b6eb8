#!/usr/bin/env bash
# Table II with paired seeds at the quick budget (configs/paper/table2_paired_quick.toml: six
# latents x 20 seeds, 1,000 steps at batch 64, fp32, FCD), then the report with the paired
# tests quantum vs every other latent.
#
#   benchmarks/table2_paired.sh [OUT] [PROCESSES] [more `qlatent run` options]
#
# OUT defaults to runs/table2_paired_quick; PROCESSES (default 2) processes of one thread each
# share the seeds round-robin (process p runs seeds p, p + PROCESSES, ...), so whole seeds --
# complete paired blocks of six cells -- finish early and in order. Cells are trained alone
# (at batch 64 one thread per cell beats a pack; configs/paper/table2_quick.toml). Killed, it
# resumes where it stopped when run again (finished cells are skipped, an interrupted cell
# resumes from its last checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/table2_paired_quick}
procs=${2:-2}
shift 2 || shift $# || true
mkdir -p "$(dirname "$out")"
run=(.venv/bin/qlatent run configs/paper/table2_paired_quick.toml --threads 1 --out "$out"
     --no-progress "$@")
pids=()
for ((p = 0; p < procs; p++)); do
    seeds=$(seq -s, "$p" "$procs" 19)
    OMP_NUM_THREADS=1 "${run[@]}" --seeds "$seeds" > "$out.proc-$p.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
if [ "$status" -ne 0 ]; then
    echo "table2_paired: a run failed (exit $status); see $out.proc-*.log" >&2
    exit "$status"
fi
.venv/bin/qlatent report "$out"
