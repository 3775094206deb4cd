"""CUDA check: every pruning x recovery x pipeline gives the same kept frames and poses on CUDA as on CPU.

    python benchmarks/cuda_check.py            # needs a CUDA device; prints one line per combination

TF32 is switched off so the comparison is float32 against float32.
"""

from __future__ import annotations

import itertools

import torch

import h2ot
from h2ot.tokenizer import PRUNERS, RECOVERIES


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    size = dict(frames=81, depth=4, dim=64, num_heads=4, mlp_hidden=128)
    x = torch.randn(4, 81, 17, 2, generator=torch.Generator().manual_seed(0)) * 0.3
    worst = 0.0
    combos = [(p, r, "seq2seq") for p, r in itertools.product(sorted(PRUNERS), RECOVERIES)]
    combos += [(p, None, "seq2frame") for p in sorted(PRUNERS)]
    for pruning, recovery, pipeline in combos:
        torch.manual_seed(0)
        model = h2ot.create_model("mixste", schedule="1:41,2:27,3:9", pruning=pruning, recovery=recovery,
                                  pipeline=pipeline, **size).eval()
        with torch.inference_mode():
            cpu, cpu_kept = model(x, return_kept=True)
            gpu, gpu_kept = model.cuda()(x.cuda(), return_kept=True)
        diff = (cpu - gpu.cpu()).abs().max().item()
        same = torch.equal(cpu_kept, gpu_kept.cpu())
        worst = max(worst, diff)
        print(f"{pipeline:9s} {pruning:9s} {recovery or '-':13s} kept frames equal: {same}  max |diff| {diff:.2e}")
        assert same and diff < 1e-4, (pruning, recovery, pipeline)
    print(f"all {len(combos)} combinations agree; worst max |diff| {worst:.2e}")


if __name__ == "__main__":
    main()
