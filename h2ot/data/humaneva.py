"""HumanEva-I (Sigal, Balan, Black) in the VideoPose3D layout — for EVALUATION only.

HumanEva-I is for non-commercial research use: evaluate on it, never train a shipped model on it, and
never copy it into the project. The files (``data_3d_humaneva15.npz``, ``data_2d_humaneva15_gt.npz``)
are those VideoPose3D's HumanEva preparation script writes:

- ``positions_3d[subject][action]``: ``[T, 15, 3]`` world metres (Z up), 60 fps; ``subject`` is
  ``"Train/S1"`` … ``"Validate/S3"``; actions are named ``"Walking 1 chunk0"``, ``"Jog 1 chunk2"``,
  ``"Box 1 chunk4"``, ``"Gestures 1 …"``, ``"ThrowCatch 1 …"``: each trial is cut into chunks where the
  original mocap had gaps (the even and odd chunks of trial 1 alternate between Train and Validate);
- ``positions_2d[subject][action]``: a list of 3 colour cameras (C1, C2, C3) of ``[T, 15, 2]`` pixels,
  640×480, the 3D projected with each camera's calibration (lens distortion included);
  ``metadata = {"layout_name": "humaneva15", "num_joints": 15, "keypoints_symmetry": [left, right]}``.

:func:`load_humaneva` turns them into :class:`~h2ot.data.sequences.Sequence` objects (Human3.6M-17
order, 3D in the camera frame, 2D normalised, resampled to the model's frame rate) whose ``joints``
name the 15 joints that exist in HumanEva, so :func:`h2ot.evaluate.evaluate` scores only those.
"""
from __future__ import annotations

import numpy as np

from .camera import Camera, normalize_screen
from .mocap import resample
from .sequences import Sequence, _check_finite, _load_npz

#: HumanEva-15 joint order as VideoPose3D writes it (checked against the data: bone lengths are
#: constant per subject, and joints 2-4 / 8-10 are on the subject's left while it walks and jogs —
#: the left side of the walking direction in the Z-up world — as ``keypoints_symmetry`` says).
HUMANEVA15_JOINTS = ("pelvis", "thorax", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
                     "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "head")
HUMANEVA15_PARENTS = (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1)

#: HumanEva-15 → Human3.6M-17: for each Human3.6M joint, the HumanEva joint it is (an int), or the
#: HumanEva joints whose mean stands in for it (a tuple). Measured on Validate (S1, mean over frames):
#: pelvis→thorax 437 mm, thorax→head 312 mm (so ``head`` is the top of the head, as Human3.6M's
#: joint 10), pelvis→hip 69 mm (narrower than Human3.6M's 133), thigh 400, shin 384, upper arm 263,
#: forearm 250 mm.
#:
#: Two Human3.6M joints do not exist in HumanEva and are derived for the *input* 2D only (and filled
#: the same way in the 3D target so the arrays keep 17 joints); they are never scored:
#:
#: - spine (7) = midpoint of pelvis and thorax (as :func:`h2ot.data.skeleton.convert_keypoints`
#:   derives it from detector keypoints);
#: - neck/nose (9) = midpoint of thorax and head (Human3.6M's thorax→nose 121 mm and nose→head
#:   115 mm put the nose about halfway up that segment).
HUMANEVA_TO_H36M = (
    0,        # 0 pelvis       <- pelvis
    11,       # 1 R hip        <- r_hip
    12,       # 2 R knee       <- r_knee
    13,       # 3 R ankle      <- r_ankle
    8,        # 4 L hip        <- l_hip
    9,        # 5 L knee       <- l_knee
    10,       # 6 L ankle      <- l_ankle
    (0, 1),   # 7 spine        <- mid(pelvis, thorax)   [derived, not scored]
    1,        # 8 thorax       <- thorax
    (1, 14),  # 9 neck/nose    <- mid(thorax, head)     [derived, not scored]
    14,       # 10 head top    <- head
    2,        # 11 L shoulder  <- l_shoulder
    3,        # 12 L elbow     <- l_elbow
    4,        # 13 L wrist     <- l_wrist
    5,        # 14 R shoulder  <- r_shoulder
    6,        # 15 R elbow     <- r_elbow
    7,        # 16 R wrist     <- r_wrist
)

#: the Human3.6M-17 joints that HumanEva has (all but spine 7 and neck/nose 9): the scored subset
SCORED_JOINTS = tuple(j for j, src in enumerate(HUMANEVA_TO_H36M) if isinstance(src, int))

FPS = 60.0  # the HumanEva-I mocap and the VideoPose3D files
RESOLUTION = (640, 480)  # colour cameras C1-C3
ACTIONS = ("Walk", "Jog", "Box")  # the standard evaluation actions (Validate split)
SPLITS = ("Validate", "Train")  # the standard test split; the other one, used here to validate (never trained on)

#: Camera extrinsics of HumanEva-I's colour cameras C1, C2, C3 per subject, as published with the
#: dataset and listed in VideoPose3D's ``common/humaneva_dataset.py``
#: (``humaneva_cameras_extrinsic_params``): orientation = camera-to-world quaternion (w, x, y, z),
#: translation = camera centre in world millimetres (S3 shares S1's calibration).
HUMANEVA_EXTRINSICS = {
    "S1": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.227, 663.2477, 1528.397)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.67377, 3916.3174, 1433.6602)),
    ),
    "S2": (
        ((0.4214752, -0.4961493, -0.5838273, 0.4851187), (4112.9121, 626.4929, 1545.2988)),
        ((0.6501393, -0.7476588, -0.0954617, 0.0959808), (923.5740, -3877.9243, 1504.5518)),
        ((0.0699353, -0.0712403, 0.7421637, -0.662742), (-781.4915, 3838.8853, 1444.9929)),
    ),
    "S3": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.2271, 663.2477, 1528.3970)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.6738, 3916.3174, 1433.6602)),
    ),
}

#: Intrinsics of C1, C2, C3: ``(fx, fy, cx, cy)`` pixels and Bouguet/OpenCV distortion
#: ``(k1, k2, p1, p2)`` (``x' = x (1 + k1 r² + k2 r⁴) + [2 p1 x y + p2 (r² + 2x²),
#: p1 (r² + 2y²) + 2 p2 x y]`` on ``(x, y) = (X/Z, Y/Z)``). VideoPose3D lists no intrinsics, so these
#: were ESTIMATED here from the files' own 2D–3D correspondences (every Train and Validate frame of
#: S1-S3, the published extrinsics above held fixed, Levenberg-Marquardt on the reprojection error).
#: With them the published extrinsics reproduce ``positions_2d`` to 0.002 px on average and 0.27 px
#: at worst (``tests/test_humaneva.py``), which verifies the extrinsics; one set per camera fits
#: all three subjects.
HUMANEVA_INTRINSICS = (
    ((765.78693, 765.3249, 299.77345, 232.3477), (-0.28932, 0.10549, -0.00136, 0.00113)),
    ((688.41019, 686.78312, 273.09054, 221.97522), (-0.32211, 0.09536, 0.00024, -0.00704)),
    ((724.26519, 723.568, 302.63022, 204.91196), (-0.32745, 1.27639, -0.00654, -0.00537)),
)


def humaneva_cameras() -> dict[str, list[Camera]]:
    """The 3 colour cameras per subject (``"S1"``, ``"S2"``, ``"S3"``), translation in metres.

    ``focal``/``center`` are the estimated intrinsics; the Bouguet distortion ``(k1, k2, p1, p2)`` is
    in ``camera.extra["kc"]`` (use :func:`project_points`; ``Camera.project`` implements the
    Human3.6M distortion model, whose tangential terms differ, so ``radial``/``tangential`` are left
    at zero here)."""
    out = {}
    for subject, cams in HUMANEVA_EXTRINSICS.items():
        out[subject] = []
        for index, ((quat, centre_mm), (intr, kc)) in enumerate(zip(cams, HUMANEVA_INTRINSICS)):
            out[subject].append(Camera(
                focal=intr[:2], center=intr[2:], res_w=RESOLUTION[0], res_h=RESOLUTION[1],
                orientation=tuple(quat), translation=tuple(v / 1000.0 for v in centre_mm),
                id=f"C{index + 1}", extra={"kc": tuple(kc)}))
    return out


def project_points(points_cam, camera: Camera) -> np.ndarray:
    """Camera-frame points ``[..., 3]`` (metres) → pixels ``[..., 2]`` with the Bouguet distortion
    model in ``camera.extra["kc"]`` (how HumanEva's 2D was made)."""
    p = np.asarray(points_cam, dtype=np.float64)
    if np.any(p[..., 2] <= 0):
        raise ValueError("project_points: some points are behind the camera (z <= 0)")
    k1, k2, p1, p2 = camera.extra.get("kc", (0.0, 0.0, 0.0, 0.0))
    x, y = p[..., 0] / p[..., 2], p[..., 1] / p[..., 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([camera.focal[0] * xd + camera.center[0],
                     camera.focal[1] * yd + camera.center[1]], axis=-1)


def to_h36m(points) -> np.ndarray:
    """HumanEva-15 ``[..., 15, C]`` → Human3.6M-17 ``[..., 17, C]`` with :data:`HUMANEVA_TO_H36M`
    (spine and neck/nose derived as midpoints)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-2] != 15:
        raise ValueError(f"HumanEva-15 points must be [..., 15, C], got {points.shape}")
    cols = [points[..., src, :] if isinstance(src, int) else points[..., list(src), :].mean(axis=-2)
            for src in HUMANEVA_TO_H36M]
    return np.stack(cols, axis=-2)


def _action_label(action: str, actions) -> str | None:
    """``"Walking 1 chunk2"`` → ``"Walk"`` when ``"Walk"`` is wanted (the first word starts with it,
    as VideoPose3D's ``--actions`` filter matches), else None."""
    first = action.split(" ")[0]
    for wanted in actions:
        if first.startswith(wanted):
            return wanted
    return None


def load_humaneva(path_3d, path_2d, split: str = "Validate", actions=ACTIONS, fps: float = 50.0,
                  cameras=None, subjects=None) -> list[Sequence]:
    """HumanEva-I sequences (one per subject, action chunk and camera) for evaluation.

    ``split``: ``"Validate"`` (the standard test split) or ``"Train"``; ``actions``: action prefixes
    (``"Walk"`` matches ``"Walking 1 chunk0"``), also the sequences' ``group`` so tables report per
    action; ``fps``: the output frame rate (2D and 3D resampled linearly from 60 fps with
    :func:`h2ot.data.mocap.resample`); ``cameras``: indices (0-2) or ids (``"C1"``) to keep (default
    all 3); ``subjects``: ``"S1"`` or ``"Validate/S1"`` names to keep (default all).

    3D: world → camera frame with the published extrinsics, metres, Human3.6M-17 order. 2D: the
    file's pixels, Human3.6M-17 order (spine, neck/nose derived), normalised with
    :func:`h2ot.data.camera.normalize_screen` (640×480). Each sequence's ``joints`` is
    :data:`SCORED_JOINTS`: spine and neck/nose are not scored.
    """
    if split not in SPLITS:
        raise ValueError(f"HumanEva-I split: expected one of {', '.join(SPLITS)}, got {split!r}")
    data_3d = _load_npz(path_3d, ("positions_3d",))
    data_2d = _load_npz(path_2d, ("positions_2d",))
    meta = data_2d.get("metadata")
    if isinstance(meta, dict) and meta.get("num_joints", 15) != 15:
        raise ValueError(f"{path_2d}: metadata says {meta.get('num_joints')} joints "
                         f"({meta.get('layout_name')}); HumanEva-15 has 15")
    positions_3d, positions_2d = data_3d["positions_3d"], data_2d["positions_2d"]
    for path, what, value in ((path_3d, "positions_3d", positions_3d),
                              (path_2d, "positions_2d", positions_2d)):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: '{what}' must be a dict {{subject: {{action: array}}}}, got "
                             f"{type(value).__name__}")
    all_cameras = humaneva_cameras()
    wanted_cams = None
    if cameras is not None:
        wanted_cams = set()
        for c in cameras:
            index = int(str(c).upper().lstrip("C")) - 1 if str(c).upper().startswith("C") else int(c)
            if not 0 <= index < 3:
                raise ValueError(f"HumanEva-I has cameras 0-2 (C1-C3), got {c!r}")
            wanted_cams.add(index)
    wanted_subjects = None if subjects is None else {
        s if "/" in str(s) else f"{split}/{s}" for s in subjects}
    prefix = f"{split}/"
    sequences = []
    for key in sorted(positions_2d):
        if not key.startswith(prefix) or (wanted_subjects is not None and key not in wanted_subjects):
            continue
        subject = key[len(prefix):]
        if subject not in all_cameras:
            raise ValueError(f"{path_2d}: no camera calibration for {key!r} (have "
                             f"{sorted(all_cameras)})")
        for action in sorted(positions_2d[key]):
            group = _action_label(action, actions)
            if group is None:
                continue
            where = f"{path_2d}: positions_2d[{key!r}][{action!r}]"
            if key not in positions_3d or action not in positions_3d[key]:
                raise ValueError(f"{path_3d}: positions_3d has no [{key!r}][{action!r}] for the 2D "
                                 f"in {path_2d}")
            world = np.asarray(positions_3d[key][action], dtype=np.float64)
            if world.ndim != 3 or world.shape[1:] != (15, 3):
                raise ValueError(f"{path_3d}: positions_3d[{key!r}][{action!r}] must be "
                                 f"[T, 15, 3] (HumanEva-15), got {world.shape}")
            _check_finite(world, f"{path_3d}: positions_3d[{key!r}][{action!r}]")
            views = positions_2d[key][action]
            for index, (kp, cam) in enumerate(zip(views, all_cameras[subject])):
                if wanted_cams is not None and index not in wanted_cams:
                    continue
                kp = np.asarray(kp, dtype=np.float64)
                if kp.ndim != 3 or kp.shape[1:] != (15, 2):
                    raise ValueError(f"{where}[{index}] must be [T, 15, 2], got {kp.shape}")
                _check_finite(kp, f"{where}[{index}]")
                if len(world) < len(kp):
                    raise ValueError(f"{where}[{index}] has {len(kp)} frames but the 3D has only "
                                     f"{len(world)}")
                positions = to_h36m(cam.world_to_camera(world[:len(kp)]))
                keypoints = normalize_screen(to_h36m(kp), cam.res_w, cam.res_h)
                positions = resample(positions, FPS, fps)
                keypoints = resample(keypoints, FPS, fps)
                sequences.append(Sequence(key, action, cam.id, keypoints.astype(np.float32),
                                          positions.astype(np.float32), None, group, float(fps),
                                          joints=SCORED_JOINTS))
    if not sequences:
        raise ValueError(f"{path_2d}: no {split!r} sequences for actions {list(actions)}"
                         + (f", subjects {sorted(wanted_subjects)}" if wanted_subjects else ""))
    return sequences
