#!/bin/bash
# rescore.sh LATENT SEED: copy a finished Gumbel cell and score it again with argmax decoding
set -e
L=$1; S=$2
SRC=/root/qlatent-runs/table2-gumbel-bf16/qm9/$L-L16/seed-$S
DST=/root/qlatent-runs/table2-gumbel-argmax/qm9/$L-L16
mkdir -p $DST
rm -rf $DST/seed-$S
cp -r $SRC $DST/
rm -f $DST/seed-$S/{metrics.json,samples.smi,molecules.png}
cd /work/main
OMP_NUM_THREADS=1 nice .venv/bin/qlatent run results/table2_probes/configs/gumbel_20k.toml --latents $L --seeds $S --precision bf16 --threads 1 --out /root/qlatent-runs/table2-gumbel-argmax --no-progress 2>&1 | tail -3
