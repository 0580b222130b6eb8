#!/usr/bin/env bash
# Table I on quantum data, 12 paired seeds x six latents (gaussian, bernoulli, photonic, quantum,
# dirichlet_multinomial, shuffled) at 5,000 iterations (the paper: 40,000), the paper's networks
# and optimiser (benchmarks/table1_12seeds.toml), trained as packs of 6 cells (one seed's six
# latents, so whole seeds finish one after the other and can be kept as they come), then the
# report with the paired tests quantum vs every other latent.
#
#   benchmarks/table1_12seeds.sh [OUT] [more `qlatent run` options, e.g. --precision bf16]
#
# OUT defaults to runs/table1_12seeds. Two processes of one thread each, seeds 0-5 and 6-11,
# share the machine's two cores (one thread per process wastes nothing on thread waits); each
# cell has its own folder, so they do not meet. Killed, it resumes where it stopped when run
# again (finished cells are skipped, a pack resumes from its last checkpoint).
#
# Duration on this CPU (2 cores, AVX512-BF16, AMX), from measured figures: the packed fp32 Table I
# step ran at 4.20 cell-iterations per CPU-second on one thread, bf16 at 8.06 (pack of 4,
# `benchmarks/table1_bf16.py --ks 1,4 --threads 1 --clock cpu`, results/table1_bf16/). Each
# process has 36 cells x 5,000 = 180,000 cell-iterations: about 180,000 / 4.20 = 43,000 s =
# 12 h in fp32 (6.2 h with --precision bf16), if both cores are free; one seed (a pack of 6,
# 30,000 cell-iterations) about an hour in bf16 per process. Measured (results/table1_12seeds/):
# 4,267-4,351 s per pack on one 2-core VM, 1,761-1,874 s on a faster one, where 10 of the 12
# seeds (five rounds of two packs) took 2 h 43 min of wall time. Banks and evaluation add
# minutes, not hours (a 1M-sample quantum bank builds in 1.1-1.7 s, docs/benchmarks.md; a
# Table I cell built its banks in 0.1-2 s and evaluated in 1.5-2.3 s in results/table1_quick
# and results/table1_bf16, at load 20-30). A loaded machine is slower by its load.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/table1_12seeds}
shift || true
mkdir -p "$(dirname "$out")"
run=(.venv/bin/qlatent run benchmarks/table1_12seeds.toml --pack 6 --threads 1 --out "$out"
     --no-progress "$@")
"${run[@]}" --seeds 0-5 > "$out.seeds-0-5.log" 2>&1 &
first=$!
"${run[@]}" --seeds 6-11 > "$out.seeds-6-11.log" 2>&1 &
second=$!
status=0
wait "$first" || status=$?
wait "$second" || status=$?
if [ "$status" -ne 0 ]; then
    echo "table1_12seeds: a run failed (exit $status); see $out.seeds-*.log" >&2
    exit "$status"
fi
.venv/bin/qlatent report "$out"
