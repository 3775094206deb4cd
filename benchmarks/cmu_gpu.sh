#!/usr/bin/env bash
# The CMU benchmark's training and the default pretrained model, as run on a lent CUDA machine
# (results into $OUT when set). Reports are made on the CPU afterwards:
#   python benchmarks/cmu_accuracy.py report
# Needs runs/data/cmu_h36m.npz and runs/data/cmu_rand8.npz (docs/training.md).
set -uo pipefail
out=${OUT:-gpu-results}; mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
EPOCHS=${EPOCHS:-15}          # epochs per benchmark variant (the table in docs/training.md)
PRE_BUDGET=${PRE_BUDGET:-160} # seconds of training for the pretrained model
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$out/gpu.txt"
timeout ${BENCH_TIMEOUT:-330} python3 benchmarks/cmu_accuracy.py train --device cuda --epochs "$EPOCHS" \
  --runs runs/cmu15 --set eval.every="$EPOCHS" --threads 4 2>&1 | grep -v '^epoch' | tee "$out/bench.log"
timeout ${PRE_TIMEOUT:-220} python3 benchmarks/cmu_accuracy.py pretrained --device cuda --pick \
  --runs runs/cmu15 --budget-s "$PRE_BUDGET" --threads 4 2>&1 | grep -v '^epoch' | tee "$out/pretrained.log"
python3 - "$out" <<'PY'
import sys, torch
out = sys.argv[1]
for name in ("last", "best"):
    try:
        ck = torch.load(f"runs/pretrained/{name}.pt", map_location="cpu", weights_only=True)
    except FileNotFoundError:
        continue
    keep = {k: ck[k] for k in ("model_name", "model_kwargs", "state_dict", "epoch", "config", "metrics")}
    keep["history"] = ck.get("history")
    torch.save(keep, f"{out}/pretrained_{name}.pt")
PY
tar czf "$out/cmu_runs.tgz" runs/cmu15/*/summary.json runs/cmu15/*/log.csv runs/cmu15/*/config.yaml \
  runs/pretrained/summary.json runs/pretrained/log.csv runs/pretrained/config.yaml 2>/dev/null
ls -la "$out"
# fp16 autocast + GradScaler check (a few steps)
timeout ${FP16_TIMEOUT:-40} python3 -m h2ot train --config configs/cmu_mixste128.yaml --set optim.amp=fp16 \
  --set optim.epochs=1 --set optim.max_steps_per_epoch=5 --set out=/tmp/fp16 --set device=cuda 2>&1 \
  | grep -v '^epoch' | tail -3 | tee "$out/fp16.log"
