"""Write Human3.6M-17 joint positions as a BVH file (Blender, MotionBuilder, … import it).

The skeleton (Y-up, the character faces +Z in the rest pose, a T-pose; names follow the CMU/MotionBuilder
convention so retargeting tools recognise them)::

    Hips (pelvis; 6 channels: X/Y/Z position, Z/X/Y rotation)
      RHipJoint → RightUpLeg (R hip) → RightLeg (R knee) → RightFoot (R ankle) → End Site
      LHipJoint → LeftUpLeg  (L hip) → LeftLeg  (L knee) → LeftFoot  (L ankle) → End Site
      LowerBack → Spine (spine) → Spine1 (thorax)
          NeckJoint      → Neck (neck/nose) → Head (head top) → End Site
          LShoulderJoint → LeftArm  (L shoulder) → LeftForeArm  (L elbow) → LeftHand  (L wrist) → End Site
          RShoulderJoint → RightArm (R shoulder) → RightForeArm (R elbow) → RightHand (R wrist) → End Site

``*Joint`` and ``LowerBack`` are zero-offset branch joints (as in the CMU BVH files): each turns one branch,
so every Human3.6M joint position is reproduced exactly, whatever the angles between branches. Every
other joint has three rotation channels ``Zrotation Xrotation Yrotation`` (local rotation
``Rz · Rx · Ry``, degrees). Rotations are solved from the positions: Hips and Spine1 (thorax) take the
frame spanned by the hips / shoulders and the spine; every other joint the minimal rotation (no twist
relative to its parent) that points its bone at its child; wrists, ankles and head top keep their
parent's orientation. Bone lengths are fixed in BVH: the offsets are the median lengths over the
sequence, so positions read back exactly when the bone lengths are constant, and within the per-frame
length deviation otherwise.

Coordinates: input in camera axes (x right, y down, z forward, metres) → BVH ``(x, −y, −z)`` (Y-up,
right-handed, the subject facing the camera faces +Z), in ``units`` (``m`` by default, which Blender's
importer reads at scale 1; ``cm`` for tools that expect centimetres).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from h2ot.data.skeleton import NUM_JOINTS
from h2ot.fileio import write_text_atomic

# (name, Human3.6M joint whose position the joint sits at, parent name, rest direction of the offset
#  from the parent, or None for a zero-offset branch joint)
_SKELETON = (
    ("Hips", 0, None, None),
    ("RHipJoint", 0, "Hips", None),
    ("RightUpLeg", 1, "RHipJoint", (-1, 0, 0)),
    ("RightLeg", 2, "RightUpLeg", (0, -1, 0)),
    ("RightFoot", 3, "RightLeg", (0, -1, 0)),
    ("LHipJoint", 0, "Hips", None),
    ("LeftUpLeg", 4, "LHipJoint", (1, 0, 0)),
    ("LeftLeg", 5, "LeftUpLeg", (0, -1, 0)),
    ("LeftFoot", 6, "LeftLeg", (0, -1, 0)),
    ("LowerBack", 0, "Hips", None),
    ("Spine", 7, "LowerBack", (0, 1, 0)),
    ("Spine1", 8, "Spine", (0, 1, 0)),
    ("NeckJoint", 8, "Spine1", None),
    ("Neck", 9, "NeckJoint", (0, 1, 0)),
    ("Head", 10, "Neck", (0, 1, 0)),
    ("LShoulderJoint", 8, "Spine1", None),
    ("LeftArm", 11, "LShoulderJoint", (1, 0, 0)),
    ("LeftForeArm", 12, "LeftArm", (1, 0, 0)),
    ("LeftHand", 13, "LeftForeArm", (1, 0, 0)),
    ("RShoulderJoint", 8, "Spine1", None),
    ("RightArm", 14, "RShoulderJoint", (-1, 0, 0)),
    ("RightForeArm", 15, "RightArm", (-1, 0, 0)),
    ("RightHand", 16, "RightForeArm", (-1, 0, 0)),
)
#: BVH joint name of each Human3.6M-17 joint
BVH_NAMES = {j: name for name, j, _, direction in _SKELETON if direction is not None or name == "Hips"}
#: end-site offsets (metres, in the leaf's rest frame)
_END_SITES = {"RightFoot": (0, -0.05, 0.1), "LeftFoot": (0, -0.05, 0.1), "Head": (0, 0.08, 0),
              "LeftHand": (0.08, 0, 0), "RightHand": (-0.08, 0, 0)}
_UNITS = {"m": 1.0, "cm": 100.0, "mm": 1000.0}


def camera_to_bvh(positions: np.ndarray) -> np.ndarray:
    """Camera axes (x right, y down, z forward) → BVH Y-up axes ``(x, −y, −z)``."""
    return np.asarray(positions, dtype=np.float64) * np.array([1.0, -1.0, -1.0])


def _normalize(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _frame(x_dir, y_dir):
    """Rotation ``[T, 3, 3]`` whose X axis is along ``x_dir`` and Y axis as close as possible to ``y_dir``."""
    x = _normalize(x_dir)
    y = _normalize(y_dir - np.sum(y_dir * x, axis=-1, keepdims=True) * x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def _swing(a, b):
    """Minimal rotations ``[T, 3, 3]`` taking unit vectors ``a`` to ``b`` (``[T, 3]``)."""
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    k = np.zeros(a.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    eye = np.broadcast_to(np.eye(3), k.shape)
    out = eye + k + k @ k / np.maximum(1 + c, 1e-12)[..., None, None]
    opposite = c < -1 + 1e-9  # a half turn about any axis perpendicular to a
    if opposite.any():
        ax = np.cross(a[opposite], np.array([1.0, 0, 0]))
        bad = np.linalg.norm(ax, axis=-1) < 1e-6
        ax[bad] = np.cross(a[opposite][bad], np.array([0, 1.0, 0]))
        ax = _normalize(ax)
        out[opposite] = 2 * ax[:, :, None] * ax[:, None, :] - np.eye(3)
    return out


def _euler_zxy(r: np.ndarray) -> np.ndarray:
    """``R = Rz(z) Rx(x) Ry(y)`` → degrees ``[..., (z, x, y)]``."""
    x = np.arcsin(np.clip(r[..., 2, 1], -1, 1))
    y = np.arctan2(-r[..., 2, 0], r[..., 2, 2])
    z = np.arctan2(-r[..., 0, 1], r[..., 1, 1])
    return np.degrees(np.stack([z, x, y], axis=-1))


def solve_rotations(positions: np.ndarray, offsets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Global rotations ``[T, 3, 3]`` of every BVH joint from BVH-axes positions ``[T, 17, 3]``."""
    p = positions
    index = {name: k for k, (name, *_rest) in enumerate(_SKELETON)}
    children = {name: [c for c, _, parent, _d in _SKELETON if parent == name] for name, *_r in _SKELETON}
    glob: dict[str, np.ndarray] = {}
    for name, joint, parent, _direction in _SKELETON:
        if name == "Hips":
            glob[name] = _frame(p[:, 4] - p[:, 1], p[:, 7] - p[:, 0])
            continue
        if name == "Spine1":
            glob[name] = _frame(p[:, 11] - p[:, 14], p[:, 8] - p[:, 7])
            continue
        kids = children[name]
        if not kids:  # a leaf: keep the parent's orientation
            glob[name] = glob[parent]
            continue
        child = _SKELETON[index[kids[0]]]
        target = _normalize(p[:, child[1]] - p[:, joint])
        current = _normalize(np.einsum("tij,j->ti", glob[parent], offsets[child[0]]))
        glob[name] = _swing(current, target) @ glob[parent]
    return glob


def write_bvh(path, positions, fps: float, units: str = "m", axes: str = "camera") -> Path:
    """Write ``positions [T, 17, 3]`` (metres, Human3.6M-17; camera axes by default, or ``axes="bvh"`` for
    Y-up positions) as a BVH file at ``fps``. The root (Hips) follows the pelvis position. Written to a
    temporary name and renamed. Returns the path."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"expected positions [T, {NUM_JOINTS}, 3], found {positions.shape}")
    if not np.isfinite(positions).all():
        raise ValueError("the positions contain NaN or infinite values")
    if units not in _UNITS:
        raise ValueError(f"units must be one of {sorted(_UNITS)}, found {units!r}")
    p = camera_to_bvh(positions) if axes == "camera" else positions.copy()
    p = p * _UNITS[units]
    offsets: dict[str, np.ndarray] = {}
    for name, joint, parent, direction in _SKELETON:
        if direction is None:
            offsets[name] = np.zeros(3)
            continue
        parent_joint = _SKELETON[[n for n, *_r in _SKELETON].index(parent)][1]
        length = float(np.median(np.linalg.norm(p[:, joint] - p[:, parent_joint], axis=-1)))
        offsets[name] = np.asarray(direction, dtype=np.float64) * max(length, 1e-6 * _UNITS[units])
    glob = solve_rotations(p, offsets)

    lines = ["HIERARCHY"]
    columns = [p[:, 0]]
    children = {name: [c for c, _, parent, _d in _SKELETON if parent == name] for name, *_r in _SKELETON}
    parents = {name: parent for name, _, parent, _d in _SKELETON}

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        parent = parents[name]
        local = glob[name] if parent is None else np.swapaxes(glob[parent], -1, -2) @ glob[name]
        euler = np.unwrap(_euler_zxy(local), period=360.0, axis=0)
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        off = offsets[name]
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        if parent is None:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        columns.append(euler)
        if children[name]:
            for child in children[name]:
                emit(child, depth + 1)
        else:
            end = np.asarray(_END_SITES[name]) * _UNITS[units]
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit("Hips", 0)
    motion = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {len(motion)}", f"Frame Time: {1.0 / float(fps):.8f}"]
    body = "\n".join(" ".join(f"{v:.6g}" if abs(v) >= 1e-9 else "0" for v in row) for row in motion)
    return write_text_atomic(path, "\n".join(lines) + "\n" + body + "\n")


def read_bvh_h36m(path, axes: str = "camera") -> np.ndarray:
    """Read back a file written by :func:`write_bvh`: ``[T, 17, 3]`` positions in the file's units
    (camera axes by default; ``axes="bvh"`` keeps Y-up)."""
    from h2ot.data.bvh import read_bvh

    bvh = read_bvh(path)
    fk = bvh.forward_kinematics()
    out = np.stack([fk[:, bvh.index(BVH_NAMES[j])] for j in range(NUM_JOINTS)], axis=1)
    return camera_to_bvh(out) if axes == "camera" else out
