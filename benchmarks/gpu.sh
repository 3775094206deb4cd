#!/usr/bin/env bash
# The GPU measurements in the docs, as run on a lent CUDA machine (writes into $OUT when set).
set -uo pipefail
out=${OUT:-gpu-results}; mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$out/gpu.txt"
python3 benchmarks/cuda_check.py 2>&1 | tee "$out/cuda_check.txt"
for batch in 1 32; do
  python3 benchmarks/latency.py --device cuda --batch "$batch" --warmup 10 --repeats 50 2>&1 | tee "$out/latency_cuda_b$batch.md"
done
