#!/usr/bin/env bash
# The one prepared GPU run for issue 7: meta-train the few-shot learners, benchmark them
# on meta-validation (gate + default choice) and meta-test, and leave everything in $OUT.
#
# Prepare ON THE CPU MACHINE first (the GPU box cannot see ../shared):
#   echo /.fewshot_cache/ >> .git/info/exclude
#   python -m autometa.fewshot.episodes pack --split train --split val --split test \
#       --out .fewshot_cache/corpus.npz
# then run this with the device tool: command "bash scripts/gpu_fewshot_run.sh",
# carry [".fewshot_cache"], timeout_s 600.  It ends in about 9 minutes:
#   ~4.5 min training (pfn_M, pfn_S and protonet/maml/reptile_S concurrently on the GPU),
#   <= 100 s meta-val benchmark, <= 110 s meta-test benchmark.
# Bring back: unpack $OUT/fewshot_weights.tgz into data/fewshot/weights/ (the .pt files
# already carry the gate record; default.json names the winner), copy the bench_*.json/md
# into benchmarks/results/.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/fewshot_out}
W="$OUT/weights"
LOGS="$OUT/logs"
mkdir -p "$W" "$LOGS"
PACK=${PACK:-.fewshot_cache/corpus.npz}
TRAIN_MIN=${TRAIN_MIN:-4.5}
SMALL_MIN=$(python3 -c "print(round($TRAIN_MIN / 3, 2))")
L="python3 scripts/fewshot_launch.py"
COMMON="--device cuda --packed $PACK --out $W --seed 0 --checkpoint-every 500"
# Continue from the CPU-trained weights where they exist (fine-tuning with a fresh
# optimiser): INIT_DIR=data/fewshot/weights (the default); INIT_DIR= starts from scratch.
INIT_DIR=${INIT_DIR-data/fewshot/weights}
init() { [ -n "$INIT_DIR" ] && [ -f "$INIT_DIR/$1.pt" ] && echo "--init $INIT_DIR/$1.pt"; }

nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$LOGS/gpu.txt"
python3 -c "import torch, sklearn; print('torch', torch.__version__, 'sklearn', sklearn.__version__)" | tee -a "$LOGS/gpu.txt"
test -f "$PACK" || { echo "missing $PACK: pack the corpus first (see header)"; exit 2; }

# Quick CUDA test of the package (CPU vs CUDA agreement etc.) before spending the budget.
timeout 60 $L -m pytest -q -x tests/fewshot -p no:cacheprovider > "$LOGS/pytest_cuda.log" 2>&1
tail -3 "$LOGS/pytest_cuda.log"

$L -m autometa.fewshot.train $COMMON --minutes "$TRAIN_MIN" --method pfn --size M $(init pfn_M) \
    --batch-size 64 --tokens-per-batch 1500000 --n-query 128 --lr 3e-4 > "$LOGS/train_pfn_M.log" 2>&1 &
P1=$!
$L -m autometa.fewshot.train $COMMON --minutes "$TRAIN_MIN" --method pfn --size S $(init pfn_S) \
    --batch-size 64 --tokens-per-batch 1500000 --n-query 128 --lr 5e-4 > "$LOGS/train_pfn_S.log" 2>&1 &
P2=$!
(
  for m in protonet maml reptile; do
    $L -m autometa.fewshot.train $COMMON --minutes "$SMALL_MIN" --method $m --size S $(init ${m}_S) \
        --batch-size 64 --tokens-per-batch 600000 --n-query 128 --lr 1e-3 > "$LOGS/train_${m}_S.log" 2>&1
  done
) &
P3=$!
wait $P1 $P2 $P3
tail -n 2 "$LOGS"/train_*.log
ls -la "$W"

MODELS=$(cd "$W" && ls *.pt | sed 's/\.pt$//' | paste -sd, -)
NJ=$(( $(nproc) - 2 ))
timeout 100 $L benchmarks/fewshot.py --split val --packed "$PACK" --weights "$W" --models "$MODELS" \
    --episodes 8 --device cuda --n-jobs $NJ --write-gate --choose-default --out "$OUT/bench_val.json" \
    > "$LOGS/bench_val.log" 2>&1
echo "val benchmark rc=$?"; tail -n 40 "$LOGS/bench_val.log"
timeout 110 $L benchmarks/fewshot.py --split test --packed "$PACK" --weights "$W" --models "$MODELS" \
    --episodes 8 --imbalanced --device cuda --n-jobs $NJ --out "$OUT/bench_test.json" \
    > "$LOGS/bench_test.log" 2>&1
echo "test benchmark rc=$?"; tail -n 60 "$LOGS/bench_test.log"

# At most 8 files come back: bundle weights (+ run records, loss curves) and logs.
(cd "$W" && tar czf "$OUT/fewshot_weights.tgz" *.pt *.json *_loss.csv 2>/dev/null)
(cd "$OUT" && tar czf "$OUT/fewshot_logs.tgz" logs)
rm -rf "$W" "$LOGS"
ls -la "$OUT"
