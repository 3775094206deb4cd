"""Data: skeletons and keypoint formats, cameras, BVH mocap conversion, views like real videos, Human3.6M,
MPI-INF-3DHP and HumanEva-I loaders, windowing for seq2seq / seq2frame. See docs/data.md, "Data and
evaluation".

The names below load their module on first use (PEP 562): ``from h2ot.data.skeleton import flip_pose`` does not
load the BVH parser or the mocap builder.
"""
from __future__ import annotations

import importlib

_NAMES = {
    "camera": ["Camera", "camera_to_world", "denormalize_screen", "focal_pixels", "look_at", "look_at_frame",
               "matrix_to_quaternion", "normalize_screen", "project", "quaternion_to_matrix", "rotation_to",
               "world_to_camera"],
    "h36m": ["SUBJECTS_TEST", "SUBJECTS_TRAIN", "h36m_cameras"],
    "humaneva": ["load_humaneva"],
    "sequences": ["Sequence", "load_3dhp", "load_vp3d"],
    "skeleton": ["H36M_FLIP_PERM", "H36M_JOINT_NAMES", "H36M_LEFT", "H36M_PARENTS", "H36M_RIGHT", "bone_lengths",
                 "convert_keypoints", "derive_torso", "flip_pose"],
    "views": ["ViewRange", "VirtualViewWindows", "sample_view"],
    "windows": ["PoseWindows"],
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
