#!/bin/bash
# collect.sh: copy the rescored Gumbel experiment into results/table2_gumbel (no checkpoints)
set -e
cd /work/main
.venv/bin/qlatent report /root/qlatent-runs/table2-gumbel-argmax > /dev/null 2>&1
mkdir -p results/table2_gumbel
(cd /root/qlatent-runs/table2-gumbel-argmax && tar cf - --exclude=checkpoint.pt .) | (cd results/table2_gumbel && tar xf -)
cells=$(ls -d /root/qlatent-runs/table2-gumbel-bf16/qm9/*/seed-* | sort)
for c in $cells; do test -f $c/metrics.json && echo $c; done > /tmp/cells.txt
nice .venv/bin/python results/table2_bf16/diagnose.py $(cat /tmp/cells.txt) > results/table2_gumbel/diagnose.json
du -sh results/table2_gumbel
