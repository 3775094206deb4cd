"""The Human3.6M 17-joint skeleton and converters from common 2D keypoint formats.

Every model in h2ot reads and writes joints in the Human3.6M-17 order:

    0 pelvis, 1 R hip, 2 R knee, 3 R ankle, 4 L hip, 5 L knee, 6 L ankle, 7 spine, 8 thorax,
    9 neck/nose, 10 head top, 11 L shoulder, 12 L elbow, 13 L wrist, 14 R shoulder, 15 R elbow,
    16 R wrist

A keypoint format (COCO-17, Halpe-26, OpenPose BODY_25, MediaPipe BlazePose-33) is converted with
a fixed linear map: each Human3.6M joint is a weighted sum of source keypoints (a copy, a midpoint, or
an extrapolation). The derived joints are, for every format:

- pelvis = mid(L hip, R hip); thorax = mid(L shoulder, R shoulder); spine = mid(pelvis, thorax);
- neck/nose = the nose;
- head top = the format's head-top point where it has one (Halpe "head"), otherwise extrapolated
  from the face: ``mid_eyes + 2 * (mid_eyes - nose)`` (about 12 cm above the nose for a frontal face,
  close to Human3.6M's nose→head 115 mm).

When the input carries a confidence channel (``[..., K, 3]``), the output does too; a derived joint's
confidence is the minimum of its contributing keypoints' confidences.
"""
from __future__ import annotations

import numpy as np

H36M_JOINT_NAMES = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)
NUM_JOINTS = 17
#: parent of each joint (-1 for the root); the bone list is ``(parent, child)`` for child > 0.
H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
H36M_LEFT = (4, 5, 6, 11, 12, 13)
H36M_RIGHT = (1, 2, 3, 14, 15, 16)


def _flip_permutation() -> tuple[int, ...]:
    perm = list(range(NUM_JOINTS))
    for left, right in zip(H36M_LEFT, H36M_RIGHT):
        perm[left], perm[right] = right, left
    return tuple(perm)


#: ``joints[..., H36M_FLIP_PERM, :]`` swaps left and right joints.
H36M_FLIP_PERM = _flip_permutation()
#: bones as ``(parent, child)`` pairs, in child order 1..16.
H36M_BONES = tuple((H36M_PARENTS[j], j) for j in range(1, NUM_JOINTS))
H36M_BONE_NAMES = tuple(f"{H36M_JOINT_NAMES[p]}->{H36M_JOINT_NAMES[c]}" for p, c in H36M_BONES)


def flip_pose(x, flip_x: bool = True):
    """Mirror poses horizontally: negate the x coordinate and swap left/right joints.

    Works for 2D (normalised screen coordinates centred on 0, with or without a confidence channel)
    and for 3D camera coordinates. ``x``: numpy array or torch tensor ``[..., 17, C]``; the
    confidence channel (index 2 of a 2D+conf array) is swapped but not negated, as is z of 3D.
    Returns a new array/tensor of the same type and shape.
    """
    if x.shape[-2] != NUM_JOINTS:
        raise ValueError(f"flip_pose expects [..., {NUM_JOINTS}, C] joints, got shape {tuple(x.shape)}")
    out = x[..., list(H36M_FLIP_PERM), :]
    out = out.clone() if hasattr(out, "clone") else out.copy()
    if flip_x:
        out[..., 0] = -out[..., 0]
    return out


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """Bone lengths of Human3.6M-17 poses. ``positions``: ``[..., 17, 3]`` → ``[..., 16]``."""
    positions = np.asarray(positions)
    parents = [p for p, _ in H36M_BONES]
    children = [c for _, c in H36M_BONES]
    return np.linalg.norm(positions[..., children, :] - positions[..., parents, :], axis=-1)


def set_bone_lengths(positions: np.ndarray, lengths) -> np.ndarray:
    """Retarget Human3.6M-17 poses to other bone lengths, keeping every bone's direction.

    ``positions``: ``[..., 17, 3]``; ``lengths``: ``[16]`` or ``[..., 16]`` (bone order of
    :data:`H36M_BONES`). The root stays where it is and each child is placed ``length`` along its
    bone's direction from its (already placed) parent, so joint angles and the root trajectory are
    unchanged. A zero-length bone has no direction and is refused.
    """
    positions = np.asarray(positions, dtype=np.float64)
    lengths = np.broadcast_to(np.asarray(lengths, dtype=np.float64), positions.shape[:-2] + (NUM_JOINTS - 1,))
    if positions.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"set_bone_lengths expects [..., {NUM_JOINTS}, 3] poses, got {positions.shape}")
    out = positions.copy()
    for k, (parent, child) in enumerate(H36M_BONES):
        bone = positions[..., child, :] - positions[..., parent, :]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        if (norm < 1e-9).any():
            raise ValueError(f"bone {H36M_BONE_NAMES[k]} has zero length in some frame: no direction "
                             "to keep")
        out[..., child, :] = out[..., parent, :] + bone / norm * lengths[..., k, None]
    return out


# ----------------------------------------------------------------------------------------------
# Keypoint formats
# ----------------------------------------------------------------------------------------------

#: names of the source keypoints in each format (index = position in the list)
FORMAT_KEYPOINTS: dict[str, tuple[str, ...]] = {
    "coco": (
        "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
        "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    ),
    "halpe": (
        "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
        "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
        "head", "neck", "hip", "l_big_toe", "r_big_toe", "l_small_toe", "r_small_toe", "l_heel",
        "r_heel",
    ),
    "body25": (
        "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
        "mid_hip", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye",
        "r_ear", "l_ear", "l_big_toe", "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel",
    ),
    "blazepose": (
        "nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer",
        "l_ear", "r_ear", "mouth_l", "mouth_r", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
        "l_wrist", "r_wrist", "l_pinky", "r_pinky", "l_index", "r_index", "l_thumb", "r_thumb",
        "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_heel", "r_heel",
        "l_foot_index", "r_foot_index",
    ),
}
FORMAT_ALIASES = {"coco17": "coco", "coco-17": "coco", "halpe26": "halpe", "halpe-26": "halpe",
                  "openpose": "body25", "body_25": "body25", "mediapipe": "blazepose",
                  "blazepose33": "blazepose", "h36m": "h36m"}

_HIPS = {"l_hip": 0.5, "r_hip": 0.5}
_SHOULDERS = {"l_shoulder": 0.5, "r_shoulder": 0.5}
_SPINE = {"l_hip": 0.25, "r_hip": 0.25, "l_shoulder": 0.25, "r_shoulder": 0.25}
# head top = mid_eyes + 2 (mid_eyes - nose) = 1.5 l_eye + 1.5 r_eye - 2 nose
_HEAD_FROM_FACE = {"l_eye": 1.5, "r_eye": 1.5, "nose": -2.0}


def _recipe(head: dict[str, float]) -> list[dict[str, float]]:
    """The 17 weighted sums (source keypoint name → weight) shared by all formats."""
    one = lambda name: {name: 1.0}  # noqa: E731
    return [
        _HIPS, one("r_hip"), one("r_knee"), one("r_ankle"), one("l_hip"), one("l_knee"),
        one("l_ankle"), _SPINE, _SHOULDERS, one("nose"), head, one("l_shoulder"), one("l_elbow"),
        one("l_wrist"), one("r_shoulder"), one("r_elbow"), one("r_wrist"),
    ]


def derive_torso(poses) -> np.ndarray:
    """Human3.6M-17 poses ``[..., 17, C]`` (2D or 3D) with the pelvis, spine and thorax re-derived from
    the hips and shoulders by the rule :func:`convert_keypoints` applies to every detector format
    (pelvis = mid-hips, thorax = mid-shoulders, spine = their midpoint). Motion capture rigs place these
    joints elsewhere (a root above the hips, a thorax at the neck base); training on the detector's
    definition makes the model's input look like what it is given at run time."""
    poses = np.asarray(poses, dtype=np.float64)
    out = poses.copy()
    recipe = _recipe({"head": 1.0})
    for joint in ("pelvis", "spine", "thorax"):
        j = H36M_JOINT_NAMES.index(joint)
        out[..., j, :] = sum(w * poses[..., H36M_JOINT_NAMES.index(name), :] for name, w in recipe[j].items())
    return out


def conversion_matrix(fmt: str) -> np.ndarray:
    """The ``[17, K]`` matrix ``W`` such that ``h36m = W @ keypoints`` for the format ``fmt``."""
    fmt = FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if fmt == "h36m":
        return np.eye(NUM_JOINTS)
    if fmt not in FORMAT_KEYPOINTS:
        known = ", ".join(sorted(FORMAT_KEYPOINTS) + ["h36m"])
        raise ValueError(f"unknown keypoint format {fmt!r}; expected one of: {known}")
    names = FORMAT_KEYPOINTS[fmt]
    head = {"head": 1.0} if "head" in names else _HEAD_FROM_FACE
    weights = np.zeros((NUM_JOINTS, len(names)))
    for j, parts in enumerate(_recipe(head)):
        for name, w in parts.items():
            weights[j, names.index(name)] = w
    return weights


def convert_keypoints(keypoints, fmt: str) -> np.ndarray:
    """Convert keypoints of a format into Human3.6M-17.

    ``keypoints``: ``[..., K, 2]`` or ``[..., K, 3]`` (x, y, confidence), K the format's keypoint
    count (COCO 17, Halpe 26, BODY_25 25, BlazePose 33; extra trailing channels such as BlazePose's
    z/visibility must be dropped by the caller). Returns ``[..., 17, 2|3]`` float arrays; a derived
    joint's confidence is the minimum over its contributing keypoints.
    """
    weights = conversion_matrix(fmt)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim < 2 or keypoints.shape[-2] != weights.shape[1] or keypoints.shape[-1] not in (2, 3):
        raise ValueError(
            f"format {fmt!r} expects keypoints shaped [..., {weights.shape[1]}, 2 or 3], "
            f"got {tuple(keypoints.shape)}")
    xy = np.einsum("jk,...kc->...jc", weights, keypoints[..., :2])
    if keypoints.shape[-1] == 2:
        return xy
    conf = keypoints[..., 2]
    mask = weights != 0  # [17, K]
    big = np.where(mask, conf[..., None, :], np.inf)  # [..., 17, K]
    return np.concatenate([xy, big.min(axis=-1)[..., None]], axis=-1)
