"""Where the time of a pruned model goes at batch 1: CUDA kernels launched and GPU time per forward pass.

    python benchmarks/where_time_goes.py [--device cuda] [--batch 1]
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from h2ot.models import create_model
from h2ot.models.presets import PRESETS
from h2ot.profile import example_input


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    device = torch.device(args.device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    print("| MixSTE variant | kernels per forward | GPU busy (ms) | wall (ms) |")
    print("|---|---:|---:|---:|")
    for variant, kwargs in PRESETS["mixste"].items():
        model = create_model("mixste", **kwargs).to(device).eval()
        x = example_input(model, args.batch, device)
        with torch.inference_mode():
            for _ in range(3):
                model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            with profile(activities=activities) as prof:
                model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
        events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        busy = sum(e.device_time for e in events) / 1000.0
        wall = max(e.time_range.end for e in prof.events()) - min(e.time_range.start for e in prof.events())
        print(f"| {variant} | {len(events)} | {busy:.2f} | {wall / 1000.0:.2f} |")


if __name__ == "__main__":
    main()
