"""One training loop for every lifter: ``h2ot train --config configs/X.yaml [--set key=value ...] [--resume]``.

- CPU or CUDA; DistributedDataParallel when started by ``torchrun`` (the standard ``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT`` variables; NCCL on CUDA, gloo on
  CPU): ``torchrun --nproc_per_node 2 -m h2ot train --config configs/X.yaml``.
- Mixed precision on CUDA (``optim.amp: bf16 | fp16``), gradient clipping, seeds.
- Every epoch: evaluation on the test split (the protocols of ``h2ot eval``), a line in
  ``log.jsonl`` / ``log.csv`` (and TensorBoard when installed), and an atomic checkpoint ``last.pt``
  (model, optimiser, scheduler, epoch, RNG states of every rank, config, metrics, history); ``best.pt``
  when the test MPJPE improves. Checkpoints keep the format ``h2ot eval`` reads
  (``model_name``, ``model_kwargs``, ``state_dict``) and load with ``weights_only=True``.
- ``--resume`` continues from ``<out>/last.pt`` exactly where it stopped (same weights as an
  uninterrupted run on CPU: data order is a function of (seed, epoch), RNG states are restored).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
import sys
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
import yaml
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from h2ot.config import ConfigError, TrainConfig, to_dict, validate
from h2ot.data.splits import load_training_data, training_windows
from h2ot.data.windows import augment_2d
from h2ot.distributed import get_rng_state, resolve_device, seed_everything, set_rng_state, setup_distributed
from h2ot.evaluate import evaluate
from h2ot.fileio import write_text_atomic
from h2ot.losses import pose_loss
from h2ot.memory import retain_freed_memory
from h2ot.pretrained import describe_model, load_weights, read_weights, same_model, save_checkpoint
from h2ot.threads import use_threads

log = logging.getLogger(__name__)

CHECKPOINT_KEYS = ("model_name", "model_kwargs", "state_dict")


# ----------------------------------------------------------------------------------------------
# Checkpoints and logs
# ----------------------------------------------------------------------------------------------

def tensorboard_writer(out: Path):
    """A TensorBoard writer into ``out/tensorboard``, or None when TensorBoard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard not installed
        return None
    return SummaryWriter(str(out / "tensorboard"))


def write_logs(history: list[dict], out: Path, tensorboard=None) -> None:
    """``log.jsonl`` and ``log.csv``: one row per finished epoch (rewritten whole, atomically); the last row
    to ``tensorboard`` too when given."""
    if tensorboard is not None and history:
        row = history[-1]
        for k, v in row.items():
            if k != "epoch" and isinstance(v, (int, float)):
                tensorboard.add_scalar(k, v, row["epoch"])
        tensorboard.flush()
    write_text_atomic(out / "log.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    for row in history:
        writer.writerow(row)
    write_text_atomic(out / "log.csv", buf.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """A training checkpoint (``read_weights``), missing or corrupt as a :class:`ConfigError`."""
    try:
        return read_weights(path)
    except (FileNotFoundError, ValueError) as err:  # missing, corrupt, or not an h2ot checkpoint
        raise ConfigError(str(err)) from None


def check_same_model(ckpt: dict, model, where: str) -> None:
    """Refuse a checkpoint built for another model, naming both."""
    if not same_model(ckpt, model):
        raise ConfigError(
            f"{where} holds a checkpoint for {describe_model(ckpt['model_name'], ckpt['model_kwargs'])}, "
            f"but the config builds {describe_model(model.model_name, model.model_kwargs)}; use the same "
            "model settings to resume, or a new output folder")


# ----------------------------------------------------------------------------------------------
# The pieces of a run
# ----------------------------------------------------------------------------------------------

def build_model(cfg: TrainConfig):
    from h2ot.models import create_model

    try:
        return create_model(cfg.model.name, **cfg.model.create_kwargs())
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model: {err}") from None


def build_optimizer(cfg: TrainConfig, model):
    """Optimiser (AdamW or Adam) and the per-epoch exponential learning-rate decay."""
    kind = torch.optim.AdamW if cfg.optim.optimizer == "adamw" else torch.optim.Adam
    opt = kind(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay, amsgrad=cfg.optim.amsgrad)
    return opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.optim.lr_decay)


def mixed_precision(cfg: TrainConfig, device: torch.device):
    """``(amp, autocast context, GradScaler)`` for ``optim.amp`` (CUDA only; float32 elsewhere)."""
    amp = cfg.optim.amp
    if amp != "none" and device.type != "cuda":
        warnings.warn(f"optim.amp={amp!r} needs CUDA; training in float32 on {device}")
        amp = "none"
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("optim.amp=bf16: this GPU does not support bfloat16; use fp16")
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)
                if amp != "none" else nullcontext())
    return amp, autocast, torch.amp.GradScaler("cuda", enabled=amp == "fp16")


def resume_checkpoint(cfg: TrainConfig, resume: bool | str, model) -> dict | None:
    """The checkpoint to resume from (checked against ``model``), or None for a new run (whose output folder
    must not hold one); a new run starts from ``cfg.init``'s weights when given."""
    out = Path(cfg.out)
    if resume:
        path = out / "last.pt" if resume is True else Path(resume)
        ckpt = load_checkpoint(path)
        check_same_model(ckpt, model, str(path))
        for key in ("optimizer", "scheduler", "epoch", "rng"):
            if key not in ckpt:
                raise ConfigError(f"{path}: a model-only checkpoint (no {key!r}); cannot resume training from it")
        return ckpt
    if (out / "last.pt").exists():
        raise ConfigError(f"{out} already holds a training run (last.pt); pass --resume to continue it, "
                          "or choose another output folder (out=...)")
    if cfg.init:  # fine-tuning; token selection, input normalisation and the pruning schedule may change
        load_weights(model, cfg.init, ignore=("pruning", "input_norm", "schedule"))
    return None


def _supervise(model, x, y, pipeline: str):
    """Prediction, matching target and 2D input. seq2frame supervises every kept frame (as the authors do)."""
    if pipeline == "seq2frame":
        pred, kept = model(x, return_kept=True)
        at = lambda v: torch.gather(v, 1, kept[:, :, None, None].expand(-1, -1, *v.shape[2:]))  # noqa: E731
        return pred, at(y), at(x)
    return model(x), y, x


def train_epoch(cfg, epoch: int, net, model, loader, steps: int, opt, scaler, autocast, device,
                progress) -> tuple[dict, int]:
    """One pass of ``steps`` optimiser steps; returns the summed loss terms and the step count."""
    sums: dict[str, float] = {}
    count = 0
    for step, batch in enumerate(loader):
        if step >= steps:
            break
        x = augment_2d(batch["input"], cfg.data.scale_augment, cfg.data.shift_augment).to(device, non_blocking=True)
        y = batch["target"].to(device, non_blocking=True)
        with autocast:
            pred, target, x2d = _supervise(net, x, y, model.pipeline)
        loss, terms = pose_loss(pred, target, cfg.loss, x2d=x2d)
        if not torch.isfinite(loss):
            raise RuntimeError(f"epoch {epoch + 1} step {step + 1}: the loss is {float(loss)}; lower optim.lr "
                               "or turn on optim.grad_clip")
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.optim.grad_clip > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        scaler.step(opt)
        scaler.update()
        count += 1
        sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + v
        progress.update(1)
        progress.set_postfix(loss=f"{sums['loss'] / count:.4f}", refresh=False)
    return sums, count


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------

def train(cfg: TrainConfig, resume: bool | str = False, stop_after_epoch: int | None = None) -> dict:
    """Train ``cfg``; returns a summary dict (final and best metrics, times, paths).

    ``resume``: True continues from ``<out>/last.pt``, a path from that checkpoint.
    ``stop_after_epoch``: return after finishing (and saving) that epoch, as if killed (tests).
    """
    validate(cfg, check_files=True)
    out = Path(cfg.out)
    ddp = setup_distributed(resolve_device(cfg.device).type)
    device = resolve_device(cfg.device, ddp)
    if cfg.threads > 0 and device.type == "cpu":
        use_threads(cfg.threads)  # not torch.set_num_threads when the number is already right: it slows steps
    if cfg.retain_memory and device.type == "cpu":
        retain_freed_memory()  # large activations are otherwise mapped and zeroed again every step
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)

    # --- everything a user can get wrong is checked before any work -------------------------
    seed_everything(cfg.seed)
    model = build_model(cfg)
    ckpt = resume_checkpoint(cfg, resume, model)
    amp, autocast, scaler = mixed_precision(cfg, device)
    train_data, test_seqs = load_training_data(cfg.data, with_test=cfg.eval.every > 0)
    windows = training_windows(cfg.data, train_data, model.frames, model.in_channels)
    sampler = DistributedSampler(windows, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(windows, batch_size=cfg.optim.batch_size, sampler=sampler,
                        num_workers=cfg.data.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=False)
    steps = min(len(loader), cfg.optim.max_steps_per_epoch or len(loader))
    model.to(device)
    opt, sched = build_optimizer(cfg, model)

    # --- where the run starts: a checkpoint's state, or a fresh one -----------------------
    start_epoch, history, best = 0, [], {"epoch": None, "mpjpe": math.inf}
    times = {"train_s": 0.0, "eval_s": 0.0}
    if ckpt is not None:
        model.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        if "scaler" in ckpt and amp == "fp16":
            scaler.load_state_dict(ckpt["scaler"])
        start_epoch = int(ckpt["epoch"])
        history = list(ckpt.get("history", []))
        best = dict(ckpt.get("best", best))
        times = dict(ckpt.get("times", times))
        ranks = ckpt["rng"].get("ranks", [])
        set_rng_state(ranks[ddp.rank] if ddp.rank < len(ranks) else ranks[0])
    elif ddp.active:  # different augmentation per rank; DDP broadcasts rank 0's initial weights
        seed_everything(cfg.seed + ddp.rank)
    net = model
    if ddp.active:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    writer = None
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
        if history:
            write_logs(history, out)
        writer = tensorboard_writer(out) if cfg.tensorboard else None
        if start_epoch == 0:
            log.info("%s, %.2fM params; %d windows (%d sequences), %d steps/epoch of %d x %d on %s; out %s",
                     model.describe(), sum(p.numel() for p in model.parameters()) / 1e6, len(windows),
                     len(train_data), steps, cfg.optim.batch_size, ddp.world, device, out)
        else:
            log.info("resuming %s after epoch %d", out, start_epoch)

    last_metrics = history[-1] if history else {}
    for epoch in range(start_epoch, cfg.optim.epochs):
        # --- train ------------------------------------------------------------------------
        sampler.set_epoch(epoch)
        net.train()
        progress = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", unit="step",
                        disable=not (cfg.progress and ddp.main), file=sys.stderr,
                        mininterval=0.5 if sys.stderr.isatty() else 60, dynamic_ncols=True)
        t0 = time.perf_counter()
        sums, count = train_epoch(cfg, epoch, net, model, loader, steps, opt, scaler, autocast, device, progress)
        progress.close()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_s = time.perf_counter() - t0
        lr = opt.param_groups[0]["lr"]
        sched.step()
        times["train_s"] += train_s
        row = {"epoch": epoch + 1, "lr": lr, "train_s": round(train_s, 2)}
        row.update({f"train_{k}" if k != "loss" else "train_loss": v / max(count, 1) for k, v in sums.items()})

        # --- evaluate ---------------------------------------------------------------------
        if ddp.main and test_seqs and ((epoch + 1) % cfg.eval.every == 0 or epoch + 1 == cfg.optim.epochs):
            t1 = time.perf_counter()
            result = evaluate(model, test_seqs, protocol=cfg.eval.protocol, flip=cfg.eval.flip,
                              batch_size=cfg.eval.batch_size, device=device)
            eval_s = time.perf_counter() - t1
            times["eval_s"] += eval_s
            row.update({f"test_{k}": v for k, v in result["average"].items()})
            row["eval_s"] = round(eval_s, 2)
        ddp.barrier()

        # --- checkpoint: RNG states of every rank, taken after everything this epoch drew ---------
        rng = get_rng_state()
        ranks = [None] * ddp.world
        if ddp.active:
            dist.all_gather_object(ranks, rng)
        else:
            ranks = [rng]
        if ddp.main:
            history.append(row)
            last_metrics = row
            improved = "test_mpjpe" in row and row["test_mpjpe"] < best["mpjpe"]
            if improved:
                best = {"epoch": epoch + 1, "mpjpe": row["test_mpjpe"]}
            ckpt_out = {
                "model_name": model.model_name, "model_kwargs": model.model_kwargs,
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "epoch": epoch + 1, "rng": {"ranks": ranks}, "config": to_dict(cfg), "metrics": row,
                "best": best, "history": history, "times": times, "world_size": ddp.world,
            }
            if amp == "fp16":
                ckpt_out["scaler"] = scaler.state_dict()
            save_checkpoint(ckpt_out, out / "last.pt")
            if improved:
                save_checkpoint({k: ckpt_out[k] for k in (*CHECKPOINT_KEYS, "epoch", "config", "metrics")},
                                out / "best.pt")
            write_logs(history, out, writer)
            if cfg.progress:
                log.info(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
        ddp.barrier()
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
            break

    if writer is not None:
        writer.close()
    summary = {"out": str(out), "model_name": model.model_name, "model_kwargs": model.model_kwargs,
               "epochs": len(history) if ddp.main else None, "final": last_metrics,
               "best": best, "times": times, "world_size": ddp.world}
    if ddp.main:
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary
