#!/usr/bin/env bash
# Copy what must outlive the machine from an experiment folder into results/: the finished
# cells' metrics.json, config.toml, environment.json, log.jsonl, progress.jsonl and samples
# (samples.smi / samples.npy, so every metric can be recomputed), and the experiment's
# config.toml -- never checkpoints, banks, locks or pictures (they are big and rebuildable).
# Unfinished cells (no metrics.json) are left out. Then `qlatent report DST` renders the
# report from DST alone.
#
#   benchmarks/keep_results.sh RUN_DIR DST
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 RUN_DIR DST" >&2; exit 2; fi
src=$1 dst=$2
[ -d "$src" ] || { echo "keep_results: RUN_DIR must be a folder, got '$src'" >&2; exit 2; }
mkdir -p "$dst"
cp "$src/config.toml" "$dst/config.toml"
find "$src" -name metrics.json -print0 | while IFS= read -r -d '' metrics; do
    cell=$(dirname "$metrics")
    rel=${cell#"$src"/}
    mkdir -p "$dst/$rel"
    for name in metrics.json config.toml environment.json log.jsonl progress.jsonl \
                samples.smi samples.npy; do
        if [ -f "$cell/$name" ]; then cp "$cell/$name" "$dst/$rel/$name"; fi
    done
done
