#!/usr/bin/env bash
# GPU efficiency tables for the docs (h2ot bench on CUDA) and a profile of where batch-1 time goes.
set -uo pipefail
out=${OUT:-gpu-results}; mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -m h2ot bench --device cuda --batch 1,32 --flip --warmup 5 --repeats 20 --json > "$out/bench_cuda.json"
python3 - <<'PY' | tee "$out/bench_cuda.md"
import json, os
from h2ot.bench import format_rows
print(format_rows(json.load(open(os.environ.get("OUT", "gpu-results") + "/bench_cuda.json"))))
PY
timeout 300 python3 -m h2ot bench --models mixste --device cuda --batch 1,32 --compile --warmup 5 --repeats 20 \
  2>&1 | grep -v Warning | tee "$out/bench_cuda_compile.md"
python3 benchmarks/where_time_goes.py 2>&1 | tee "$out/where_time_goes.txt"
