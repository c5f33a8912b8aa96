#!/usr/bin/env bash
# One CPU stretch of few-shot meta-training on the 2-core build machine (issue 22).
#
# Two lanes run side by side, one torch thread each (small models train faster as two
# single-threaded processes than as one two-threaded one):
#   lane A: pfn S for $PFN_MIN minutes;
#   lane B: protonet S, reptile S, maml S, then pfn tiny (the size comparison).
# Every run writes a checkpoint every 100 steps into $RUNS and a weights snapshot every 10
# minutes ($RUNS/snapshots, for the quality-per-CPU-minute curve). Rerunning this script
# with the same $RUNS resumes every run from its checkpoint (a finished run returns at once).
# The next stretch continues from the shipped weights with `--init` and a fresh optimiser.
#
#   RUNS=.fewshot_runs/stretch1 nice -n 5 bash scripts/fewshot_cpu_stretch.sh
set -uo pipefail
export PYTHONUNBUFFERED=1
RUNS=${RUNS:-.fewshot_runs/stretch1}
PFN_MIN=${PFN_MIN:-100}
mkdir -p "$RUNS"
TRAIN="python -m autometa.fewshot.train --device cpu --threads 1 --out $RUNS --seed 0 \
  --checkpoint-every 100 --snapshot-minutes 10 --batch-size 16 --tokens-per-batch 60000 \
  --n-query 48 --p-real 0.3 --finetune-frac 0.15"

$TRAIN --method pfn --size S --minutes "$PFN_MIN" --lr 5e-4 > "$RUNS/pfn_S.log" 2>&1 &
LANE_A=$!
(
  $TRAIN --method protonet --size S --minutes 25 --lr 1e-3 > "$RUNS/protonet_S.log" 2>&1
  $TRAIN --method reptile --size S --minutes 15 --lr 1e-3 > "$RUNS/reptile_S.log" 2>&1
  $TRAIN --method maml --size S --minutes 15 --lr 1e-3 > "$RUNS/maml_S.log" 2>&1
  $TRAIN --method pfn --size tiny --minutes 45 --lr 1e-3 > "$RUNS/pfn_tiny.log" 2>&1
) &
LANE_B=$!
wait $LANE_A $LANE_B
echo "stretch done: $RUNS"
