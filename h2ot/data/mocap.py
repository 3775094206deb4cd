"""Motion capture (BVH) → Human3.6M-17 training data with virtual cameras.

Pipeline for one clip (:func:`load_bvh_h36m`):

1. read the BVH and run forward kinematics (:mod:`h2ot.data.bvh`);
2. drop the synthetic T-pose (frame 0 of the Hahne CMU conversions) and the few blend frames that
   follow it (:func:`leading_frames_to_drop`);
3. map the rig's joints to the 17 Human3.6M joints with a preset (Daz, MotionBuilder, CMU ASF, picked
   from the joint names) or a user mapping (:func:`mapping_matrix`);
4. convert units to metres (detected from the rest-pose size, :func:`detect_units`) and axes from
   BVH's Y-up to the Human3.6M world's Z-up: ``(x, y, z)_world = (x, -z, y)_bvh``;
5. resample to the target frame rate (linear interpolation of joint positions, default 50 fps).

Then virtual cameras (:func:`h36m_like_cameras`, :func:`random_cameras`) render the 2D keypoints,
optionally through a detector-like noise model (:func:`add_detector_noise`), and
:func:`build_mocap_dataset` writes the VideoPose3D npz layout (without pickles: :func:`save_npz_atomic`).
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .bvh import BVH, read_bvh
from .camera import Camera, look_at, matrix_to_quaternion
from .skeleton import (H36M_BONES, H36M_JOINT_NAMES, H36M_LEFT, H36M_RIGHT, bone_lengths, derive_torso,
                       set_bone_lengths)

# ----------------------------------------------------------------------------------------------
# Joint mappings
# ----------------------------------------------------------------------------------------------

#: A mapping gives, for each Human3.6M joint name, a rig joint name, a list of names (their mean),
#: or a dict ``{name: weight}`` (a weighted sum; weights should sum to 1, negative weights
#: extrapolate). End sites are named ``<parent>_end``.
MAPPING_PRESETS: dict[str, dict] = {
    # Daz-friendly CMU conversions (centimetres). The rig has no head-top joint: it is extrapolated
    # along the neck→head direction (about 8 cm above the eyes); the nose is halfway between the
    # head joint and the eyes.
    "daz": {
        "pelvis": "hip", "r_hip": "rThigh", "r_knee": "rShin", "r_ankle": "rFoot",
        "l_hip": "lThigh", "l_knee": "lShin", "l_ankle": "lFoot",
        "spine": ["abdomen", "chest"], "thorax": "neck",
        "neck": {"head": 0.5, "leftEye": 0.25, "rightEye": 0.25},
        "head": {"neck": -2.2, "head": 3.2},
        "l_shoulder": "lShldr", "l_elbow": "lForeArm", "l_wrist": "lHand",
        "r_shoulder": "rShldr", "r_elbow": "rForeArm", "r_wrist": "rHand",
    },
    # MotionBuilder-style CMU conversions (CMU units). "Head" is the base of the head bone (its end
    # site has zero length), so the head top is extrapolated one upper-neck length above it; the
    # nose is halfway up the upper neck → head segment.
    "motionbuilder": {
        "pelvis": "Hips", "r_hip": "RightUpLeg", "r_knee": "RightLeg", "r_ankle": "RightFoot",
        "l_hip": "LeftUpLeg", "l_knee": "LeftLeg", "l_ankle": "LeftFoot",
        "spine": "Spine", "thorax": "Spine1", "neck": {"Neck1": 0.5, "Head": 0.5},
        "head": {"Head": 2.0, "Neck1": -1.0},
        "l_shoulder": "LeftArm", "l_elbow": "LeftForeArm", "l_wrist": "LeftHand",
        "r_shoulder": "RightArm", "r_elbow": "RightForeArm", "r_wrist": "RightHand",
    },
    # Bandai Namco Research Motion Datasets 1 and 2 (centimetres). "Neck" is the base of the neck and
    # "Head" the base of the head (its end site has zero length), 6.5 cm above it: the nose and the head
    # top are placed along that direction at the Human3.6M distances above the thorax (121 and 236 mm).
    "bandai": {
        "pelvis": "Hips", "r_hip": "UpperLeg_R", "r_knee": "LowerLeg_R", "r_ankle": "Foot_R",
        "l_hip": "UpperLeg_L", "l_knee": "LowerLeg_L", "l_ankle": "Foot_L",
        "spine": "Spine", "thorax": "Neck",
        "neck": {"Neck": -0.87, "Head": 1.87}, "head": {"Neck": -2.65, "Head": 3.65},
        "l_shoulder": "UpperArm_L", "l_elbow": "LowerArm_L", "l_wrist": "Hand_L",
        "r_shoulder": "UpperArm_R", "r_elbow": "LowerArm_R", "r_wrist": "Hand_R",
    },
    # ReActIdle (metres). No hand joints: the wrists are the forearms' end sites. "face" sits 17.6 cm
    # above the neck base; nose and head top along neck -> face at the Human3.6M distances.
    "reactidle": {
        "pelvis": "pelvis", "r_hip": "thigh.R", "r_knee": "shin.R", "r_ankle": "foot.R",
        "l_hip": "thigh.L", "l_knee": "shin.L", "l_ankle": "foot.L",
        "spine": "spine.001", "thorax": "neck",
        "neck": {"neck": 0.31, "face": 0.69}, "head": {"neck": -0.34, "face": 1.34},
        "l_shoulder": "upper_arm.L", "l_elbow": "forearm.L", "l_wrist": "forearm.L_end",
        "r_shoulder": "upper_arm.R", "r_elbow": "forearm.R", "r_wrist": "forearm.R_end",
    },
    # CMU's native ASF names (lower case; e.g. the 16_xx clips of the Daz folder).
    "asf": {
        "pelvis": "hip", "r_hip": "rfemur", "r_knee": "rtibia", "r_ankle": "rfoot",
        "l_hip": "lfemur", "l_knee": "ltibia", "l_ankle": "lfoot",
        "spine": "upperback", "thorax": "thorax", "neck": {"upperneck": 0.5, "head": 0.5},
        "head": "head_end",
        "l_shoulder": "lhumerus", "l_elbow": "lradius", "l_wrist": "lwrist",
        "r_shoulder": "rhumerus", "r_elbow": "rradius", "r_wrist": "rwrist",
    },
}


def _mapping_joint_names(mapping: dict) -> set[str]:
    names = set()
    for spec in mapping.values():
        names.update([spec] if isinstance(spec, str) else spec)
    return names


def detect_preset(names) -> str:
    """The preset whose joint names all appear in ``names``; ``ValueError`` if none fits."""
    names = set(names)
    missing = {preset: sorted(_mapping_joint_names(mapping) - names) for preset, mapping in MAPPING_PRESETS.items()}
    for preset, lacking in missing.items():
        if not lacking:
            return preset
    closest = min(missing, key=lambda p: len(missing[p]))
    raise ValueError(
        f"no mapping preset fits this rig: the closest, {closest!r}, needs joints it lacks: "
        f"{', '.join(missing[closest])} (presets: {', '.join(MAPPING_PRESETS)}); pass a mapping "
        "{h36m_joint: rig_joint} for the joints " + ", ".join(H36M_JOINT_NAMES))


def mapping_matrix(mapping: dict, names: list[str], source: str = "BVH") -> np.ndarray:
    """``[17, J]`` weights so that ``h36m = W @ rig_positions``.

    ``mapping``: see :data:`MAPPING_PRESETS`. ``ValueError`` lists missing Human3.6M joints and
    rig joints not found in ``names`` (``source`` names the file in the message).
    """
    missing_h36m = [j for j in H36M_JOINT_NAMES if j not in mapping]
    if missing_h36m:
        raise ValueError(f"{source}: the joint mapping lacks Human3.6M joints {missing_h36m}")
    missing = sorted(n for n in _mapping_joint_names(mapping) if n not in names)
    if missing:
        raise ValueError(f"{source}: mapped joints {missing} are not in the skeleton; it has {names}")
    weights = np.zeros((len(H36M_JOINT_NAMES), len(names)))
    for j, joint in enumerate(H36M_JOINT_NAMES):
        spec = mapping[joint]
        if isinstance(spec, str):
            spec = {spec: 1.0}
        elif not isinstance(spec, dict):
            spec = {n: 1.0 / len(spec) for n in spec}
        for name, w in spec.items():
            weights[j, names.index(name)] += w
    return weights


# ----------------------------------------------------------------------------------------------
# Units, T-pose, resampling
# ----------------------------------------------------------------------------------------------

#: metres per file unit
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
_TYPICAL_REST_SIZE_M = 1.5  # the largest extent of a rest pose (height or arm span), roughly


def detect_units(bvh: BVH) -> str:
    """Guess the length unit from the rest pose (the first frame when every joint carries position
    channels and the rest pose collapses to a point): the unit that makes its largest extent closest
    (in ratio) to 1.5 m. Candidates: :data:`UNITS`."""
    # the root is left out: some rigs keep it at the origin while a child carries the translation (Bandai)
    size = float(np.ptp(bvh.forward_kinematics(rest=True)[0, 1:], axis=0).max())
    if size <= 0 and bvh.num_frames:  # every joint has position channels (Bandai): use the first frame
        size = float(np.ptp(bvh.forward_kinematics(slice(0, 1))[0, 1:], axis=0).max())
    if size <= 0:
        raise ValueError(f"{bvh.path}: the rest pose has zero size; cannot detect units")
    return min(UNITS, key=lambda u: abs(np.log(size * UNITS[u] / _TYPICAL_REST_SIZE_M)))


def _near_zero_fraction(bvh: BVH, frame: int) -> float:
    rot = [i for i, c in enumerate(c for chans in bvh.channels for c in chans)
           if c.lower().endswith("rotation")]
    return float(np.mean(np.abs(bvh.motion[frame, rot]) < 0.5))


def is_tpose_frame(bvh: BVH) -> bool:
    """True when frame 0 is a synthetic rest/T-pose: most rotation channels are below 0.5° there,
    clearly more than in the rest of the clip (the Hahne CMU conversions start this way)."""
    if bvh.num_frames < 3:
        return False
    frame0 = _near_zero_fraction(bvh, 0)
    later = np.median([_near_zero_fraction(bvh, k) for k in range(1, bvh.num_frames, 10)])
    return frame0 > 0.7 and frame0 - later > 0.15


def leading_frames_to_drop(bvh: BVH, positions: np.ndarray, settle_s: float = 0.25) -> int:
    """Frames to drop at the start of a clip: 0 unless frame 0 is a synthetic T-pose; then the
    T-pose and the conversion's lead-in after it: every frame up to the last jump (a per-frame
    motion above 4× the clip's median) within the first ``settle_s`` seconds. Some CMU conversions
    blend from the T-pose over ~5 frames, others hold a frozen or misplaced pose for a few frames.
    ``positions``: ``[T, J, 3]`` from forward kinematics."""
    if not is_tpose_frame(bvh):
        return 0
    motion = np.linalg.norm(np.diff(positions, axis=0), axis=-1).mean(axis=-1)  # [T-1]
    median = np.median(motion) + 1e-9
    window = max(1, int(round(settle_s * bvh.fps)))
    jumps = np.nonzero(motion[:window] > 4 * median)[0]
    return max(1, int(jumps[-1]) + 1 if jumps.size else 1)


def align_floor(positions: np.ndarray, joint_height: float = 0.08) -> np.ndarray:
    """Shift world positions ``[T, 17, 3]`` (Z up, metres) vertically so that the lowest joint is
    on average ``joint_height`` m above z = 0 (the median over frames of the per-frame minimum;
    ankles sit about 8 cm above the floor). Mocap clips put their floor at different heights."""
    lowest = np.median(positions[..., 2].min(axis=1))
    return positions - np.array([0.0, 0.0, lowest - joint_height], dtype=positions.dtype)


def resample(positions: np.ndarray, src_fps: float, dst_fps: float, num_out: int | None = None) -> np.ndarray:
    """Linear resampling along time. ``positions``: ``[T, ...]`` → ``[T', ...]`` where frame k is
    at time ``k / dst_fps``. ``num_out`` defaults to the frames that fit in the source's duration (the
    last at or before the source's last frame); beyond the source's ends the end frames are held."""
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {src_fps} → {dst_fps}")
    positions = np.asarray(positions)
    num = positions.shape[0]
    if num_out is None:
        num_out = int(np.floor((num - 1) / src_fps * dst_fps + 1e-9)) + 1 if num else 0
    if (abs(src_fps - dst_fps) < 1e-9 and num_out == num) or num == 0:
        return positions.copy()
    if num == 1:
        return np.repeat(positions, num_out, axis=0)
    src = np.clip(np.arange(num_out) / dst_fps * src_fps, 0, num - 1)
    lo = np.minimum(np.floor(src).astype(int), num - 2)
    frac = (src - lo).reshape(-1, *([1] * (positions.ndim - 1)))
    return positions[lo] * (1 - frac) + positions[lo + 1] * frac


# ----------------------------------------------------------------------------------------------
# One clip
# ----------------------------------------------------------------------------------------------

@dataclass
class MocapClip:
    """A converted clip: ``positions`` ``[T, 17, 3]`` world metres (Z up), at ``fps``."""

    name: str
    subject: str
    positions: np.ndarray
    fps: float
    preset: str
    units: str
    dropped: int


#: BVH (Y up) → world (Z up): (x, y, z) → (x, -z, y), a proper rotation
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def load_bvh_h36m(path, mapping: str | dict | None = None, units: str | float = "auto",
                  fps: float = 50.0, drop_tpose: bool | str = "auto",
                  subject: str | None = None) -> MocapClip:
    """Read a BVH file as Human3.6M-17 positions in metres.

    ``mapping``: a preset name, a mapping dict (see :data:`MAPPING_PRESETS`) or None to detect the
    preset from the joint names. ``units``: "auto", a key of :data:`UNITS` or metres per unit.
    ``units`` "auto" takes the unit a known source documents (:data:`SOURCES`), else detects it.
    ``drop_tpose``: "auto" (detect), True (drop frame 0 and the blend) or False.
    ``subject``: defaults to the person the file name names, by the preset's :class:`Source` (CMU
    ``SS_CC.bvh`` → ``"S" + SS``).
    """
    path = Path(path)
    bvh = read_bvh(path)
    if mapping is None:
        try:
            preset = detect_preset(bvh.names)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        mapping = MAPPING_PRESETS[preset]
    elif isinstance(mapping, str):
        if mapping not in MAPPING_PRESETS:
            raise ValueError(f"unknown mapping preset {mapping!r}; presets: {list(MAPPING_PRESETS)}")
        preset, mapping = mapping, MAPPING_PRESETS[mapping]
    else:
        preset = "custom"
    weights = mapping_matrix(mapping, bvh.names, source=str(path))

    if units == "auto":
        units = SOURCES[SOURCE_OF_PRESET.get(preset, "custom")].units or detect_units(bvh)
    scale = UNITS[units] if isinstance(units, str) else float(units)
    if isinstance(units, str) and units not in UNITS:
        raise ValueError(f"unknown unit {units!r}; expected one of {list(UNITS)} or a number")

    positions = bvh.forward_kinematics()  # [T, J, 3]
    dropped = 0
    if drop_tpose == "auto":
        dropped = leading_frames_to_drop(bvh, positions)
    elif drop_tpose:
        dropped = max(1, leading_frames_to_drop(bvh, positions))
    positions = positions[dropped:]
    if positions.shape[0] < 2:
        raise ValueError(f"{path}: fewer than 2 frames left after dropping {dropped} T-pose frames")

    h36m = np.einsum("kj,tjc->tkc", weights, positions) * scale @ _Y_UP_TO_Z_UP.T
    h36m = align_floor(resample(h36m, bvh.fps, fps))
    name = path.name.removesuffix(".gz").removesuffix(".bvh")
    subject = subject or _source_person(preset, name)[2]
    return MocapClip(name, subject, h36m.astype(np.float32), fps, preset,
                     units if isinstance(units, str) else f"{scale} m", dropped)


# ----------------------------------------------------------------------------------------------
# Virtual cameras
# ----------------------------------------------------------------------------------------------

#: Human3.6M-like intrinsics (camera 54138969 of the published calibration, no distortion).
H36M_LIKE_INTRINSICS = dict(focal=(1145.0, 1144.0), center=(512.5, 515.5), res_w=1000, res_h=1002)
#: azimuths (degrees, around the subject) and heights (m) resembling the four Human3.6M cameras
H36M_LIKE_VIEWS = ((70.0, 1.56), (-70.0, 1.61), (110.0, 1.49), (-110.0, 1.57))
_LOOK_AT_HEIGHT = 1.0  # m; with cameras at ~1.5 m this looks slightly down, as Human3.6M's do


def _camera_at(centre_xy, azimuth_deg, distance, height, intrinsics, look_height, cam_id) -> Camera:
    a = np.radians(azimuth_deg)
    position = np.array([centre_xy[0] + distance * np.cos(a), centre_xy[1] + distance * np.sin(a),
                         height])
    target = np.array([centre_xy[0], centre_xy[1], look_height])
    rotation = look_at(position, target)
    return Camera(orientation=tuple(matrix_to_quaternion(rotation)), translation=tuple(position),
                  id=cam_id, **intrinsics)


def _stand_off(radius: float, base: float, intrinsics: dict) -> float:
    """Camera distance that keeps a subject wandering ``radius`` m from the centre in view."""
    half_fov = np.arctan(0.5 * intrinsics["res_w"] / intrinsics["focal"][0])
    return float(max(base, radius + 1.5, radius / np.tan(0.8 * half_fov)))


def h36m_like_cameras(centre_xy, radius: float = 0.0, distance: float = 5.0) -> list[Camera]:
    """The four fixed Human3.6M-like viewpoints around ``centre_xy`` (world metres), ``distance``
    m away (farther when the subject wanders more than ``radius`` allows to keep it in view)."""
    d = _stand_off(radius, distance, H36M_LIKE_INTRINSICS)
    return [_camera_at(centre_xy, az, d, h, H36M_LIKE_INTRINSICS, _LOOK_AT_HEIGHT, f"virtual{i}")
            for i, (az, h) in enumerate(H36M_LIKE_VIEWS)]


def random_cameras(n: int, rng: np.random.Generator, centre_xy, radius: float = 0.0) -> list[Camera]:
    """``n`` random Human3.6M-like cameras: azimuth uniform, distance 4.5–5.5 m, height
    1.5–1.8 m, looking at 0.9–1.1 m, focal 1145 px ± 5 %, 1000×1002 images."""
    cams = []
    for i in range(n):
        f = 1145.0 * rng.uniform(0.95, 1.05)
        intr = dict(H36M_LIKE_INTRINSICS, focal=(f, f))
        d = _stand_off(radius, rng.uniform(4.5, 5.5), intr)
        cams.append(_camera_at(centre_xy, rng.uniform(0, 360), d, rng.uniform(1.5, 1.8), intr,
                               rng.uniform(0.9, 1.1), f"random{i}"))
    return cams


def render_2d(positions_world: np.ndarray, camera: Camera) -> np.ndarray:
    """World ``[T, J, 3]`` metres → pixels ``[T, J, 2]`` through ``camera`` (with its distortion)."""
    return camera.project(camera.world_to_camera(positions_world))


# ----------------------------------------------------------------------------------------------
# Detector-like 2D noise
# ----------------------------------------------------------------------------------------------

#: relative jitter per Human3.6M joint (extremities are noisier, as with real detectors)
_JOINT_NOISE = np.array([1.0, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 1.3, 1.0, 1.0, 1.2, 1.0, 1.3, 1.6,
                         1.0, 1.3, 1.6])


def add_detector_noise(pixels: np.ndarray, rng: np.random.Generator, jitter: float = 0.01,
                       outlier_rate: float = 0.01, outlier_scale: float = 0.15) -> np.ndarray:
    """Imitate a 2D detector. ``pixels``: ``[T, 17, 2]`` → ``[T, 17, 3]`` (x, y, confidence).

    - jitter: Gaussian, ``jitter × person height × per-joint factor`` pixels (σ ≈ 1 % of the
      person's 2D height, more on wrists and ankles), smoothed over 3 frames so it is partly
      correlated in time as detector errors are;
    - outliers: with probability ``outlier_rate`` per joint and frame, a jump of
      ``U(0.5, 1) × outlier_scale × person height`` in a random direction, or (half of them) the
      left/right counterpart's position — a detector's swap;
    - confidence: ``0.95 exp(-½ (e / 3σ)²)`` of each joint's error e, times U(0.9, 1), so bad
      points get low confidence.
    """
    pixels = np.asarray(pixels, dtype=np.float64)
    height = np.ptp(pixels[..., 1], axis=1)[:, None, None] + 1.0  # [T, 1, 1] person size in px
    sigma = jitter * height * _JOINT_NOISE[None, :, None]  # [T, 17, 1]
    raw = rng.standard_normal(pixels.shape)
    padded = np.concatenate([raw[:1], raw, raw[-1:]])
    smooth = (padded[:-2] + padded[1:-1] + padded[2:]) / np.sqrt(3.0)
    noisy = pixels + sigma * smooth

    hits = rng.random(pixels.shape[:2]) < outlier_rate  # [T, 17]
    if hits.any():
        angle = rng.uniform(0, 2 * np.pi, hits.shape)
        size = rng.uniform(0.5, 1.0, hits.shape) * outlier_scale * height[..., 0]
        jump = np.stack([np.cos(angle), np.sin(angle)], -1) * size[..., None]
        swap = np.arange(17)
        swap[list(H36M_LEFT)], swap[list(H36M_RIGHT)] = H36M_RIGHT, H36M_LEFT
        swapped = pixels[:, swap] + sigma * smooth
        use_swap = (rng.random(hits.shape) < 0.5)[..., None]
        outlier = np.where(use_swap, swapped, noisy + jump)
        noisy = np.where(hits[..., None], outlier, noisy)

    error = np.linalg.norm(noisy - pixels, axis=-1)  # [T, 17]
    conf = 0.95 * np.exp(-0.5 * (error / (3 * sigma[..., 0])) ** 2) * rng.uniform(0.9, 1.0, error.shape)
    return np.concatenate([noisy, conf[..., None]], axis=-1)


# ----------------------------------------------------------------------------------------------
# The CMU benchmark: split, dataset builder, bone statistics
# ----------------------------------------------------------------------------------------------

#: Typical Human3.6M bone lengths in mm (../shared/data/README.md), by bone
H36M_REFERENCE_MM = {
    "pelvis->hip": 133, "thigh": 442, "shin": 454, "pelvis->spine": 233, "spine->thorax": 257,
    "thorax->neck/nose": 121, "neck/nose->head": 115, "thorax->shoulder": 151, "upper arm": 278,
    "forearm": 252,
}
#: which of the 16 bones (by child joint) belong to each reference bone
_BONE_GROUPS = {
    "pelvis->hip": (1, 4), "thigh": (2, 5), "shin": (3, 6), "pelvis->spine": (7,),
    "spine->thorax": (8,), "thorax->neck/nose": (9,), "neck/nose->head": (10,),
    "thorax->shoulder": (11, 14), "upper arm": (12, 15), "forearm": (13, 16),
}


def bone_stats(positions: list[np.ndarray] | np.ndarray) -> dict[str, dict[str, float]]:
    """Bone-length statistics (mm) of Human3.6M-17 poses against the Human3.6M figures.

    ``positions``: ``[T, 17, 3]`` metres or a list of them. Returns ``{bone: {"h36m", "mean",
    "std", "ratio"}}`` (left and right bones pooled; std over frames and clips).
    """
    if isinstance(positions, np.ndarray):
        positions = [positions]
    lengths = np.concatenate([bone_lengths(p).reshape(-1, len(H36M_BONES)) for p in positions]) * 1000
    children = [c for _, c in H36M_BONES]
    stats = {}
    for bone, members in _BONE_GROUPS.items():
        values = lengths[:, [children.index(c) for c in members]].ravel()
        mean = float(values.mean())
        stats[bone] = {"h36m": float(H36M_REFERENCE_MM[bone]), "mean": mean,
                       "std": float(values.std()), "ratio": mean / H36M_REFERENCE_MM[bone]}
    return stats


def format_bone_stats(stats: dict) -> str:
    """A Markdown table of :func:`bone_stats`."""
    lines = ["| bone | Human3.6M (mm) | converted mean (mm) | std (mm) | ratio |",
             "|---|---|---|---|---|"]
    for bone, s in stats.items():
        lines.append(f"| {bone} | {s['h36m']:.0f} | {s['mean']:.1f} | {s['std']:.1f} | "
                     f"{s['ratio']:.2f} |")
    return "\n".join(lines)


def h36m_bone_lengths(rng: np.random.Generator | None = None, jitter: float = 0.0) -> np.ndarray:
    """The 16 bone lengths (m, order of ``H36M_BONES``) of :data:`H36M_REFERENCE_MM`.

    With ``jitter`` > 0 (and an ``rng``) a random person around it: one overall size factor in
    ``1 ± jitter`` times a factor per bone in ``1 ± jitter / 2``, the same for left and right.
    """
    lengths = np.zeros(len(H36M_BONES))
    size = rng.uniform(1 - jitter, 1 + jitter) if jitter else 1.0
    children = [c for _, c in H36M_BONES]
    for bone, members in _BONE_GROUPS.items():
        factor = size * (rng.uniform(1 - jitter / 2, 1 + jitter / 2) if jitter else 1.0)
        for child in members:
            lengths[children.index(child)] = H36M_REFERENCE_MM[bone] / 1000 * factor
    return lengths


def retarget_clip(clip: "MocapClip", lengths: np.ndarray) -> "MocapClip":
    """The clip with its bones set to ``lengths`` (directions and root path kept, floor re-aligned)."""
    return replace(clip, positions=align_floor(set_bone_lengths(clip.positions, lengths)).astype(np.float32))


# ----------------------------------------------------------------------------------------------
# Sources: people, held-out split, licence
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A motion-capture collection: how its file names name a person, and what is held out for testing.

    ``person``: a regular expression on the file stem whose group 1 is the person (or, where a collection
    does not say who performed a clip, the part it does say); subjects are ``prefix + person``.
    ``test_people``: people held out whole. ``units``: the documented length unit (else detected). ``test_every``: also hold out every N-th clip (by sorted file
    name) of the others, as the subject ``prefix + person + "-test"``; 0 = none.
    """

    name: str
    person: str
    prefix: str
    test_people: tuple[str, ...] = ()
    test_every: int = 0
    units: str | None = None  # the length unit when the collection documents one; None: detect it
    licence: str | None = None  # "open" or "non-commercial" when documented; None: read the folder's files


#: The sources this project knows, by the rig preset that reads them (:data:`MAPPING_PRESETS`).
SOURCES = {
    # CMU: SS_CC.bvh = subject SS; test: walk/run/jump (02), runs (09), soccer (10), walk + tai chi (12)
    "cmu": Source("cmu", r"^(\d+)_", "S", test_people=("02", "09", "10", "12"), licence="open"),
    # ReActIdle: NNN_acted / NNN_genuine = person NNN; two people held out (both their clips)
    "reactidle": Source("reactidle", r"^(\d+)_", "R", test_people=("002", "010"), units="m", licence="open"),
    # Bandai Namco: the files do not say which of the three actors performed; whole clips are held
    # out instead: every 10th of each dataset
    "bandai": Source("bandai", r"^dataset-(\d+)_", "B", test_every=10, units="cm", licence="non-commercial"),
    "custom": Source("custom", r"^([^_]+)", "S"),
}
SOURCE_OF_PRESET = {"daz": "cmu", "motionbuilder": "cmu", "asf": "cmu", "bandai": "bandai",
                    "reactidle": "reactidle", "custom": "custom"}

#: Fixed subject split of the CMU clips in ../shared/data/cmu/daz (about 20 % of frames in test).
CMU_TEST_SUBJECTS = tuple(SOURCES["cmu"].prefix + p for p in SOURCES["cmu"].test_people)

_NONCOMMERCIAL = ("noncommercial", "non-commercial", "non commercial", "by-nc", "not for commercial",
                  "research purposes only", "academic use")


def folder_licence(folder) -> str:
    """The licence of a data folder, from the ``LICENSE*``/``LICENCE*``/``COPYING*`` files in it, in its
    sub-folders two levels down, or (when there are none) in its two parents: ``"non-commercial"`` if any
    of them is (Creative Commons NC and the like), ``"open"`` (other licence files) or ``"unstated"``."""
    folder = Path(folder).resolve()
    prefixes = ("LICENSE", "LICENCE", "COPYING")
    below = [p for pattern in ("*", "*/*", "*/*/*") for p in folder.glob(pattern)]
    above = [p for where in list(folder.parents)[:2] for p in where.glob("*")]
    for candidates in (below, above):
        found = [p for p in candidates if p.is_file() and p.name.upper().startswith(prefixes)]
        if found:
            texts = [p.read_text(errors="replace")[:4000].lower() for p in found]
            return ("non-commercial" if any(k in t for t in texts for k in _NONCOMMERCIAL) else "open")
    return "unstated"


def _check_free(folder, licence: str) -> None:
    if licence != "open":
        raise ValueError(f"{folder}: its licence is {licence}, and a dataset for a model free for any use may only "
                         "include sources whose licence allows it (drop this source or build without --free-only)")


def bvh_files(folder) -> list[Path]:
    """Every ``*.bvh`` and ``*.bvh.gz`` under ``folder`` (recursively), sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.name.endswith((".bvh", ".bvh.gz")))


def clip_subjects(clips: list["MocapClip"], test_subjects=None) -> tuple[list[str], set[str]]:
    """The subject of every clip and the set of test subjects, by each clip's :class:`Source` (from its
    preset) — or, when ``test_subjects`` is given, exactly those subjects are the test split."""
    subjects, test = [], set()
    seen: dict[str, int] = {}
    for clip in clips:
        source, person, subject = _source_person(clip.preset, clip.name)
        if test_subjects is None:
            if person in source.test_people:
                test.add(subject)
            elif source.test_every:
                seen[subject] = seen.get(subject, 0) + 1
                if seen[subject] % source.test_every == 0:
                    subject += "-test"
                    test.add(subject)
        subjects.append(subject)
    if test_subjects is not None:
        test = set(test_subjects)
    return subjects, test


def _source_person(preset: str, name: str) -> tuple[Source, str, str]:
    """The source of a clip read with ``preset``, its person and subject, from the clip ``name``."""
    source = SOURCES[SOURCE_OF_PRESET.get(preset, "custom")]
    match = re.match(source.person, name)
    person = match.group(1) if match else name
    return source, person, source.prefix + person


def build_mocap_dataset(src, out, fps: float = 50.0, cameras: str | int = "h36m",
                        noise: bool = True, seed: int = 0, mapping=None,
                        test_subjects=None, bones: str = "recorded",
                        bone_jitter: float = 0.0, joints: str = "rig", train_2d: bool = True,
                        free_only: bool = False) -> dict:
    """Convert every ``*.bvh`` / ``*.bvh.gz`` under ``src`` (a folder or a list of folders, one per
    source) and write a VideoPose3D-layout npz to ``out``.

    The npz holds ``positions_3d[subject][clip]`` ``[T, 17, 3]`` world metres,
    ``positions_2d[subject][clip]`` a list (one per camera) of ``[T, 17, 2]`` pixels (or
    ``[T, 17, 3]`` with a confidence when ``noise``), ``metadata`` (layout, joint symmetry, fps,
    split, sources and their licences) and ``cameras[subject]`` (a list of camera dicts, translation in
    metres; for ``cameras="wide"`` a dict ``{clip: [camera dicts]}``, the cameras being drawn per clip).
    ``cameras``: "h36m" (four fixed Human3.6M-like views), an int (that many random Human3.6M-like cameras
    per subject, seeded) or ``"wide"`` / ``"wide:N"`` (N, default 2, cameras per clip from
    :class:`h2ot.data.views.ViewRange`: phones to lab cameras, portrait and landscape).
    Subjects and the held-out split come from each clip's :class:`Source`; ``test_subjects`` overrides
    the split. ``bones``: "recorded" (the rig's own bone lengths) or "h36m" (every clip retargeted to
    the Human3.6M reference lengths, :func:`h36m_bone_lengths`; with ``bone_jitter`` > 0 each clip a
    random person around them). ``joints="detector"`` re-derives the pelvis, spine and thorax from the
    hips and shoulders as from a detector's keypoints (:func:`h2ot.data.skeleton.derive_torso`).
    ``train_2d=False`` renders 2D for the test subjects only (training then draws views on the fly).
    ``free_only``: refuse any source whose licence is not known to allow any use (a licence file, or the
    licence a known collection documents, :attr:`Source.licence`). Returns a summary dict (clips,
    frames per split, bone stats).
    """
    from .views import ViewRange, render_view, sample_view

    if bones not in ("recorded", "h36m"):
        raise ValueError(f"bones must be 'recorded' or 'h36m', got {bones!r}")
    if joints not in ("rig", "detector"):
        raise ValueError(f"joints must be 'rig' or 'detector', got {joints!r}")
    if not 0 <= bone_jitter < 0.5:
        raise ValueError(f"bone_jitter must be in [0, 0.5), got {bone_jitter}")
    wide = isinstance(cameras, str) and cameras.startswith("wide")
    if wide and joints != "detector":
        raise ValueError("--cameras wide renders the torso joints from the projected hips and shoulders, as from a "
                         "detector; use it with --joints detector so that the 3D is defined the same way")
    views_per_clip = int(cameras.partition(":")[2] or 2) if wide else 0
    folders = [Path(f) for f in ([src] if isinstance(src, (str, Path)) else src)]
    files, licences = [], {}
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"mocap source folder not found: {folder}")
        found = bvh_files(folder)
        if not found:
            raise FileNotFoundError(f"no .bvh or .bvh.gz files in {folder}")
        licences[str(folder)] = folder_licence(folder)
        if free_only and licences[str(folder)] == "non-commercial":  # fail before reading anything
            _check_free(folder, licences[str(folder)])
        files += [(folder, f) for f in found]
    rng = np.random.default_rng(seed)
    clips = [load_bvh_h36m(f, mapping=mapping, fps=fps) for _, f in files]
    for (folder, _), clip in zip(files, clips):  # a collection's documented licence where no file says it
        documented = SOURCES[SOURCE_OF_PRESET.get(clip.preset, "custom")].licence
        if licences[str(folder)] == "unstated" and documented:
            licences[str(folder)] = documented
    if free_only:
        for folder, licence in licences.items():
            _check_free(folder, licence)
    if bones == "h36m":
        clips = [retarget_clip(c, h36m_bone_lengths(rng, bone_jitter)) for c in clips]
    if joints == "detector":
        clips = [replace(c, positions=derive_torso(c.positions).astype(np.float32)) for c in clips]
    subjects, test = clip_subjects(clips, test_subjects)
    seen: dict[tuple[str, str], Path] = {}
    for (_, path), clip, subject in zip(files, clips, subjects):
        if (subject, clip.name) in seen:
            raise ValueError(f"{path}: a clip named {clip.name!r} of subject {subject!r} was already read from "
                             f"{seen[subject, clip.name]}; give one copy of each clip (e.g. --src …/cmu/daz, not …/cmu)")
        seen[subject, clip.name] = path

    by_subject: dict[str, list[MocapClip]] = {}
    for clip, subject in zip(clips, subjects):
        by_subject.setdefault(subject, []).append(replace(clip, subject=subject))

    positions_3d, positions_2d, camera_dicts = {}, {}, {}
    for subject, subject_clips in sorted(by_subject.items()):
        positions_3d[subject] = {c.name: c.positions for c in subject_clips}
        if not (train_2d or subject in test):
            continue
        roots = np.concatenate([c.positions[:, 0, :2] for c in subject_clips])
        centre = roots.mean(axis=0)
        radius = float(np.linalg.norm(roots - centre, axis=1).max())
        if wide:
            cams = {c.name: [sample_view(rng, c.positions, ViewRange(), f"wide{i}") for i in range(views_per_clip)]
                    for c in subject_clips}
            camera_dicts[subject] = {name: [c.to_dict() for c in cs] for name, cs in cams.items()}
        else:
            shared = (h36m_like_cameras(centre, radius) if cameras == "h36m"
                      else random_cameras(int(cameras), rng, centre, radius))
            cams = {c.name: shared for c in subject_clips}
            camera_dicts[subject] = [c.to_dict() for c in shared]
        positions_2d[subject] = {}
        for clip in subject_clips:
            views = []
            for cam in cams[clip.name]:
                if wide:  # pixels through the ideal pinhole, torso from the projected hips and shoulders
                    kp, _ = render_view(clip.positions, cam, rng, noise)
                    pix = cam.denormalize(kp[..., :2])
                    pix = np.concatenate([pix, kp[..., 2:]], axis=-1) if noise else pix
                else:
                    pix = render_2d(clip.positions, cam)
                    if noise:
                        pix = add_detector_noise(pix, rng)
                views.append(pix.astype(np.float32))
            positions_2d[subject][clip.name] = views

    frames = {"train": 0, "test": 0}
    for clip, subject in zip(clips, subjects):
        frames["test" if subject in test else "train"] += clip.positions.shape[0]
    sources = sorted({SOURCE_OF_PRESET.get(c.preset, "custom") for c in clips})
    metadata = {
        "layout_name": "h36m", "num_joints": 17,
        "keypoints_symmetry": [list(H36M_LEFT), list(H36M_RIGHT)],
        "fps": float(fps), "source": ",".join(str(f) for f in folders), "noise": bool(noise),
        "cameras": str(cameras), "seed": int(seed), "bones": bones, "bone_jitter": float(bone_jitter),
        "joints": joints, "train_2d": bool(train_2d),
        "subjects_test": [s for s in sorted(by_subject) if s in test],
        "subjects_train": [s for s in sorted(by_subject) if s not in test],
        "presets": sorted({c.preset for c in clips}), "sources": sources, "licences": licences,
        "noncommercial": any(v == "non-commercial" for v in licences.values()),
    }
    save_npz_atomic(out, positions_3d=positions_3d, positions_2d=positions_2d,
                    metadata=metadata, cameras=camera_dicts)
    return {"clips": len(clips), "subjects": len(by_subject), "frames": frames,
            "cameras_per_subject": views_per_clip or len(next(iter(camera_dicts.values()), [])),
            "dropped_leading_frames": sum(c.dropped for c in clips),
            "bone_stats": bone_stats([c.positions for c in clips]), "metadata": metadata}


def save_npz_atomic(path, **arrays) -> None:
    """A compressed npz without pickles, written to a temporary file in the same folder, then ``os.replace``.

    Dicts and lists (VideoPose3D's ``positions_3d[subject][clip]`` …, ``cameras``, ``metadata``) are stored
    as JSON members whose arrays are members of their own (:func:`h2ot.data.sequences.npz_members`), so
    ``np.load(path, allow_pickle=False)`` opens every member; :func:`h2ot.data.sequences.load_vp3d` and the
    other readers return the same dicts as from VideoPose3D's pickled layout."""
    import zipfile

    from .sequences import npz_members

    members = npz_members(arrays)  # refuses what would need a pickle before anything is written
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for name, array in members.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
