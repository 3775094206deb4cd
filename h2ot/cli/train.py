"""``h2ot train``: train a lifter from a YAML config (:mod:`h2ot.train`); under torchrun
(``torchrun --nproc_per_node N -m h2ot train --config ...``) with DistributedDataParallel."""
from __future__ import annotations

import argparse


def run(args) -> int:
    import torch.distributed as dist

    from h2ot.config import load_config
    from h2ot.train import train

    try:
        cfg = load_config(args.config, args.set)
        resume = args.resume if args.resume else False
        train(cfg, resume=True if resume == "last" else resume)
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML config (configs/*.yaml); sections model, data, optim, "
                                                   "loss, eval and top-level out, seed, device")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=1e-3 --set model.schedule=1:41,2:27 "
                        "(repeatable; values are parsed as YAML)")
    p.add_argument("--resume", nargs="?", const="last", default=None, metavar="CHECKPOINT",
                   help="continue from <out>/last.pt (or the given checkpoint) exactly where it stopped")


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="train a lifter from a YAML config",
                              description="Train a lifter (any backbone, pruning, recovery) from a YAML config; "
                                          "run under torchrun for DistributedDataParallel.")
    add_arguments(p)
    p.set_defaults(func=run)
    return p
