"""h2ot: efficient video-based 3D human pose estimation with the Hierarchical Hourglass Tokenizer.

The names below are loaded on first use (PEP 562), so ``import h2ot`` (and ``h2ot --help``) does not load
PyTorch until a model is needed.
"""
from __future__ import annotations

import importlib
import pkgutil

__version__ = "0.1.0"

_LAZY = {"Lifter": "h2ot.infer", "infer_video": "h2ot.infer", "PoseLifter": "h2ot.lifter",
         "BACKBONES": "h2ot.models", "create_model": "h2ot.models", "load_pretrained": "h2ot.pretrained"}
_SUBMODULES = {m.name for m in pkgutil.iter_modules(__path__)}

__all__ = ["BACKBONES", "Lifter", "PoseLifter", "create_model", "infer_video", "load_pretrained", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"h2ot.{name}")
    raise AttributeError(f"module 'h2ot' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
