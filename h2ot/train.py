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
import os
import random
import sys
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from h2ot.config import ConfigError, TrainConfig, to_dict, validate
from h2ot.fileio import atomic_path, write_text_atomic
from h2ot.losses import pose_loss

log = logging.getLogger(__name__)

CHECKPOINT_KEYS = ("model_name", "model_kwargs", "state_dict")


# ----------------------------------------------------------------------------------------------
# Distributed helpers
# ----------------------------------------------------------------------------------------------

class Dist:
    """Rank / world size of this process; ``active`` when a process group is initialised."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0, active: bool = False):
        self.rank, self.world, self.local_rank, self.active = rank, world, local_rank, active

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def setup_distributed(device_kind: str) -> Dist:
    """Join the process group that ``torchrun`` describes in the environment (no-op for one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if device_kind == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local_rank, True)


def resolve_device(name: str, ddp: Dist | None = None) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {name!r} requested but CUDA is not available here")
        if ddp is not None and ddp.active and device.index is None:
            device = torch.device("cuda", ddp.local_rank)
    return device


# ----------------------------------------------------------------------------------------------
# RNG states (plain types and tensors only, for weights_only loading)
# ----------------------------------------------------------------------------------------------

def get_rng_state() -> dict:
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": int(py_state[0]), "state": [int(v) for v in py_state[1]],
                   "gauss": py_state[2]},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------

def atomic_save(obj, path: str | Path) -> None:
    """``torch.save``, atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_logs(history: list[dict], out: Path) -> None:
    """``log.jsonl`` and ``log.csv``: one row per finished epoch (rewritten whole, atomically)."""
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
    from h2ot.pretrained import read_weights

    try:
        return read_weights(path)
    except (FileNotFoundError, ValueError) as err:  # missing, corrupt, or not an h2ot checkpoint
        raise ConfigError(str(err)) from None


def check_same_model(ckpt: dict, model, where: str) -> None:
    """Refuse a checkpoint built for another model, naming both."""
    from h2ot.pretrained import describe_model, same_model

    if not same_model(ckpt, model):
        raise ConfigError(
            f"{where} holds a checkpoint for {describe_model(ckpt['model_name'], ckpt['model_kwargs'])}, "
            f"but the config builds {describe_model(model.model_name, model.model_kwargs)}; use the same "
            "model settings to resume, or a new output folder")


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def _keep_cameras(sequences, cameras):
    if cameras is None:
        return sequences
    counter: dict = {}
    kept = []
    for seq in sequences:
        index = counter.get((seq.subject, seq.action), 0)
        counter[(seq.subject, seq.action)] = index + 1
        if index in cameras:
            kept.append(seq)
    return kept


def load_sequences(cfg: TrainConfig):
    """Training and test data from the config's files and subjects: lists of :class:`~h2ot.data.Sequence`,
    or, with ``data.virtual_views``, world clips ``[T, 17, 3]`` for training."""
    from h2ot.data.h36m import SUBJECTS_TEST, SUBJECTS_TRAIN
    from h2ot.data.sequences import load_vp3d, npz_metadata
    from h2ot.data.views import load_world_clips
    from h2ot.evaluate import load_test_sequences

    train = []
    for path in cfg.data.train:
        meta = npz_metadata(path)[1]
        if cfg.data.free_only and meta.get("noncommercial"):
            raise ConfigError(f"data.train: {path} was built from a non-commercial source "
                              f"({meta.get('licences')}); data.free_only refuses it")
        subjects = cfg.data.train_subjects or meta.get("subjects_train") or list(SUBJECTS_TRAIN)
        if cfg.data.virtual_views:  # world clips; views are drawn per window
            train += load_world_clips(path, subjects)
        else:
            train += load_vp3d(path, cfg.data.data_2d, subjects=subjects)
    if not cfg.data.virtual_views:
        train = _keep_cameras(train, cfg.data.cameras)
    test_path = cfg.data.test or cfg.data.train[0]
    test_2d = cfg.data.test_2d if cfg.data.test else (cfg.data.test_2d or cfg.data.data_2d)
    subjects = cfg.data.test_subjects
    if subjects is None and not npz_metadata(test_path)[1].get("subjects_test"):
        subjects = list(SUBJECTS_TEST)
    test = _keep_cameras(load_test_sequences(test_path, test_2d, subjects), cfg.data.cameras)
    if not train:
        raise ConfigError(f"no training sequences in {cfg.data.train} (subjects {cfg.data.train_subjects}, "
                          f"cameras {cfg.data.cameras})")
    return train, test


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------

def build_model(cfg: TrainConfig):
    from h2ot.models import create_model

    try:
        return create_model(cfg.model.name, **cfg.model.create_kwargs())
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model: {err}") from None


def _supervise(model, x, y, pipeline: str):
    """Prediction and matching target. seq2frame supervises every kept frame (as the authors do)."""
    if pipeline == "seq2frame":
        pred, kept = model(x, return_kept=True)
        target = torch.gather(y, 1, kept[:, :, None, None].expand(-1, -1, *y.shape[2:]))
        return pred, target
    return model(x), y


def augment_2d(x: torch.Tensor, scale: float, shift: float) -> torch.Tensor:
    """Random per-clip 2D scale about the root joint (``1 ± scale``) and shift (``± shift``) of ``x``
    ``[B, F, J, C]`` (x, y only; a confidence channel is kept). The 3D target is root-relative and unchanged,
    so the lifter learns not to read the person's size or place in the image as depth. Global torch RNG."""
    if not scale and not shift:
        return x
    b = x.shape[0]
    s = 1.0 + (torch.rand(b, 1, 1, 1) * 2 - 1) * scale
    t = (torch.rand(b, 1, 1, 2) * 2 - 1) * shift
    xy = x[..., :2]
    root = xy[:, :, :1]
    xy = (xy - root) * s + root + t
    return torch.cat([xy, x[..., 2:]], dim=-1)


def train(cfg: TrainConfig, resume: bool | str = False, stop_after_epoch: int | None = None) -> dict:
    """Train ``cfg``; returns a summary dict (final and best metrics, times, paths).

    ``resume``: True continues from ``<out>/last.pt``, a path from that checkpoint.
    ``stop_after_epoch``: return after finishing (and saving) that epoch, as if killed (tests).
    """
    validate(cfg, check_files=True)
    out = Path(cfg.out)
    device = resolve_device(cfg.device)
    ddp = setup_distributed(device.type)
    device = resolve_device(cfg.device, ddp)
    if cfg.threads > 0 and device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)

    # --- everything a user can get wrong is checked before any work -------------------------
    seed_everything(cfg.seed)
    model = build_model(cfg)
    ckpt = None
    if resume:
        path = out / "last.pt" if resume is True else Path(resume)
        ckpt = load_checkpoint(path)
        check_same_model(ckpt, model, str(path))
        for key in ("optimizer", "scheduler", "epoch", "rng"):
            if key not in ckpt:
                raise ConfigError(f"{path}: a model-only checkpoint (no {key!r}); cannot resume training from it")
    elif (out / "last.pt").exists():
        raise ConfigError(f"{out} already holds a training run (last.pt); pass --resume to continue it, "
                          "or choose another output folder (out=...)")
    elif cfg.init:  # fine-tuning; a resumed run has its own weights
        from h2ot.pretrained import load_weights
        # token selection and input normalisation have no parameters: a fine-tune may switch them
        load_weights(model, cfg.init, ignore=("pruning", "input_norm"))
    amp = cfg.optim.amp
    if amp != "none" and device.type != "cuda":
        warnings.warn(f"optim.amp={amp!r} needs CUDA; training in float32 on {device}")
        amp = "none"
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError("optim.amp=bf16: this GPU does not support bfloat16; use fp16")

    train_seqs, test_seqs = load_sequences(cfg)
    from h2ot.data.windows import PoseWindows
    from h2ot.evaluate import evaluate

    frames = model.frames
    stride = cfg.data.stride or max(frames // 3, 1)
    try:
        if cfg.data.virtual_views:
            from h2ot.data.views import VirtualViewWindows
            strides = [next((int(v) for k, v in cfg.data.stride_by_prefix.items() if subject.startswith(k)), stride)
                       for subject, _ in train_seqs]
            windows = VirtualViewWindows([clip for _, clip in train_seqs], frames, strides,
                                         in_channels=model.in_channels,
                                         flip_augment=cfg.data.flip_augment, noise=cfg.data.view_noise,
                                         bone_jitter=cfg.data.bone_jitter)
        else:
            windows = PoseWindows(train_seqs, frames, "seq2seq", train=True, stride=stride,
                                  flip_augment=cfg.data.flip_augment, in_channels=model.in_channels,
                                  pad_short=cfg.data.pad_short)
    except ValueError as err:
        raise ConfigError(f"data: {err}") from None
    sampler = DistributedSampler(windows, num_replicas=ddp.world, rank=ddp.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(windows, batch_size=cfg.optim.batch_size, sampler=sampler,
                        num_workers=cfg.data.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=False)
    steps = len(loader)
    if cfg.optim.max_steps_per_epoch:
        steps = min(steps, cfg.optim.max_steps_per_epoch)

    model.to(device)
    if cfg.optim.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                                amsgrad=cfg.optim.amsgrad)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                               amsgrad=cfg.optim.amsgrad)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.optim.lr_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)
                if amp != "none" else nullcontext())

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
        import yaml

        write_text_atomic(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
        if history:
            write_logs(history, out)
        if cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                writer = SummaryWriter(str(out / "tensorboard"))
            except Exception:  # tensorboard not installed
                writer = None
        if start_epoch == 0:
            log.info("%s, %.2fM params; %d windows (%d sequences), %d steps/epoch of %d x %d on %s; out %s",
                     model.describe(), sum(p.numel() for p in model.parameters()) / 1e6, len(windows),
                     len(train_seqs), steps, cfg.optim.batch_size, ddp.world, device, out)
        else:
            log.info("resuming %s after epoch %d", out, start_epoch)

    last_metrics = history[-1] if history else {}
    for epoch in range(start_epoch, cfg.optim.epochs):
        sampler.set_epoch(epoch)
        net.train()
        tty = sys.stderr.isatty()
        progress = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.optim.epochs}", unit="step",
                        disable=not (cfg.progress and ddp.main), file=sys.stderr, mininterval=0.5 if tty else 60,
                        dynamic_ncols=True)
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        count = 0
        for step, batch in enumerate(loader):
            if step >= steps:
                break
            x = augment_2d(batch["input"], cfg.data.scale_augment, cfg.data.shift_augment).to(device, non_blocking=True)
            y = batch["target"].to(device, non_blocking=True)
            with autocast:
                pred, target = _supervise(net, x, y, model.pipeline)
            loss, terms = pose_loss(pred, target, cfg.loss)
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
        progress.close()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_s = time.perf_counter() - t0
        lr = opt.param_groups[0]["lr"]
        sched.step()
        times["train_s"] += train_s

        row = {"epoch": epoch + 1, "lr": lr, "train_s": round(train_s, 2)}
        row.update({f"train_{k}" if k != "loss" else "train_loss": v / max(count, 1) for k, v in sums.items()})
        final = epoch + 1 == cfg.optim.epochs
        if ddp.main and ((epoch + 1) % cfg.eval.every == 0 or final) and test_seqs:
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
            atomic_save(ckpt_out, out / "last.pt")
            if improved:
                atomic_save({k: ckpt_out[k] for k in (*CHECKPOINT_KEYS, "epoch", "config", "metrics")},
                            out / "best.pt")
            write_logs(history, out)
            if writer is not None:
                for k, v in row.items():
                    if k != "epoch" and isinstance(v, (int, float)):
                        writer.add_scalar(k, v, epoch + 1)
                writer.flush()
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
