"""Honest measurement: parameters, FLOPs in two conventions, and latency.

- ``count_flops``: every floating-point operation that ``torch.utils.flop_counter.FlopCounterMode`` sees
  (matrix products of attention included).
- ``count_flops_paper``: the convention of the HoT/H2OT papers (thop-style module hooks): 2 x the
  multiply-adds of ``nn.Linear`` / ``nn.Conv*`` / ``nn.BatchNorm*`` modules, biases and everything else
  (attention products, LayerNorm, functional ops) not counted. It reproduces the published GFLOPs.
- ``time_models``: latency of several models measured side by side (interleaved), so the noise of a
  shared machine hits them alike, with what the machine was doing meanwhile (:mod:`h2ot.timing`).
"""

from __future__ import annotations

import statistics
from functools import partial

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from h2ot.timing import Machine, machine_dict, summarize, time_calls


def _cpu_sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


# FlopCounterMode knows the CUDA attention kernels but not the CPU one; count it with the same formula.
_EXTRA_FLOP_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def example_input(model: nn.Module, batch: int = 1, device: str | torch.device = "cpu",
                  seed: int = 0) -> torch.Tensor:
    """A random input clip ``[batch, F, J, Cin]`` for ``model`` (confidence channel, if any, in [0, 1])."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, model.frames, model.num_joints, model.in_channels, generator=gen) * 0.3
    if model.in_channels == 3:
        x[..., 2] = torch.rand(batch, model.frames, model.num_joints, generator=gen)
    return x.to(device)


@torch.no_grad()
def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    """All FLOPs of one forward pass as counted by ``FlopCounterMode``."""
    with FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOP_FORMULAS) as counter:
        model(x)
    return int(counter.get_total_flops())


def _paper_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    if isinstance(module, nn.Linear):
        return module.in_features * output.numel()
    if isinstance(module, nn.modules.conv._ConvNd):
        kernel = module.weight.shape[2:].numel()
        return output.numel() * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        # thop's count_normalization: 2 ops per element, doubled when the norm is affine (weight and bias).
        return (4 if module.affine else 2) * inputs[0].numel()
    return 0


@torch.no_grad()
def count_flops_paper(model: nn.Module, x: torch.Tensor) -> int:
    """FLOPs in the papers' convention: 2 x module-hook multiply-adds of Linear/Conv/BatchNorm."""
    total = [0]

    def hook(module, inputs, output):
        total[0] += _paper_macs(module, inputs, output)

    counted = (nn.Linear, nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, counted)]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return 2 * total[0]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def time_models(models: dict, x: torch.Tensor, warmup: int = 2, repeats: int = 10,
                require_quiet: bool = False) -> tuple[dict[object, list[float]], Machine]:
    """Latency in milliseconds of every model on ``x``, interleaved (each round runs each model once), and
    what the machine was doing meanwhile (:mod:`h2ot.timing`): ``({name: [ms]}, machine)``."""
    calls = {name: partial(model, x) for name, model in models.items()}
    return time_calls(calls, warmup, repeats, synchronize=lambda: _synchronize(x.device),
                      require_quiet=require_quiet, cpu=x.device.type == "cpu")


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def plain_counterpart(model: nn.Module) -> nn.Module:
    """The same backbone and sizes without pruning (a fresh, randomly initialised model)."""
    from h2ot.models import create_model

    return create_model(model.model_name, pipeline=model.pipeline, input_norm=getattr(model, "input_norm", None),
                        **model.size)


def profile(model: nn.Module, batch: int = 1, device: str = "cpu", warmup: int = 2, repeats: int = 10,
            baseline: bool = True, require_quiet: bool = False) -> dict:
    """Parameters, FLOPs (both conventions, batch 1) and latency at ``batch`` for ``model`` (median, min,
    p90, spread) with the state of the machine during the timing (``machine``, :mod:`h2ot.timing`).

    For a pruned model (and ``baseline``) the plain backbone is measured in the same process, timed
    interleaved with it, and the ratios are reported. ``require_quiet``: refuse a busy machine.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    one = example_input(model, 1, device)
    result = {
        "model": model.describe(),
        "frames": model.frames,
        "batch": batch,
        "device": str(device),
        "params": count_params(model),
        "flops": count_flops(model, one),
        "flops_paper": count_flops_paper(model, one),
    }
    models = {"model": model}
    if baseline and model.schedule:
        plain = plain_counterpart(model).to(device).eval()
        models["baseline"] = plain
        result.update(baseline_params=count_params(plain), baseline_flops=count_flops(plain, one),
                      baseline_flops_paper=count_flops_paper(plain, one))
    times, machine = time_models(models, example_input(model, batch, device), warmup, repeats, require_quiet)
    result["machine"] = machine_dict(machine)
    result.update({f"latency_{k}": v for k, v in summarize(times["model"]).items() if k != "runs"})
    result["latency_ms"] = median(times["model"])
    if "baseline" in times:
        result["baseline_latency_ms"] = median(times["baseline"])
        result["speedup"] = result["baseline_latency_ms"] / result["latency_ms"]
        result["flops_ratio"] = result["baseline_flops"] / result["flops"]
        result["flops_paper_ratio"] = result["baseline_flops_paper"] / result["flops_paper"]
    return result
