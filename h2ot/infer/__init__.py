"""Inference on real data: video → 2D keypoints → one person → 3D poses → files and a rendered video.

``Lifter`` (model + preprocessing, ``predict``), ``lift_sequence`` (windows over any length),
``infer_video`` / ``lift_file`` (the ``h2ot demo`` / ``h2ot lift`` pipelines), ``write_bvh``. The video
parts need the optional extra ``pip install -e ".[video]"`` (PyAV, matplotlib, MediaPipe). The names below
load their module on first use (PEP 562): the video pipeline starts its detector before PyTorch is imported.
"""
from __future__ import annotations

import importlib

_NAMES = {
    "h2ot.data.mocap": ["resample"],
    "h2ot.infer.bvh_writer": ["read_bvh_h36m", "write_bvh"],
    "h2ot.infer.lifting": ["Lifter", "lift_sequence"],
    "h2ot.infer.pipeline": ["InferenceResult", "demo_video_path", "infer_video", "lift_file"],
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
