"""Per-sequence data and the loaders that produce it.

A :class:`Sequence` is one video (one subject, one action, one camera): 2D keypoints in normalised
screen coordinates and 3D joints in the camera frame, metres, Human3.6M-17 order. Loaders:

- :func:`load_vp3d` — the VideoPose3D npz layout: the Human3.6M files
  (``data_3d_h36m.npz`` + ``data_2d_h36m_cpn_ft_h36m_dbb.npz`` or ``data_2d_h36m_gt.npz``) and the
  files ``h2ot data mocap`` writes (which carry their own ``cameras``);
- :func:`load_3dhp` — MPI-INF-3DHP ``data_train_3dhp.npz`` / ``data_test_3dhp.npz`` (the layout of
  P-STMO, PoseFormerV2 and MotionAGFormer), with the test set's valid-frame masks.

These npz files hold pickled Python dicts (``allow_pickle=True`` is needed, as in VideoPose3D):
only load files you trust.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .camera import Camera
from .h36m import action_group, h36m_cameras, reduce_32_to_17


@dataclass
class Sequence:
    """One video. ``keypoints``: ``[T, 17, 2|3]`` normalised screen coordinates (+ confidence);
    ``positions``: ``[T, 17, 3]`` camera frame, metres (absolute, or root-relative where the source
    gives only that); ``valid``: ``[T]`` bool, frames to score (None = all); ``joints``: the
    Human3.6M-17 indices to score (None = all 17), for datasets that lack some joints (HumanEva-I:
    no spine, no neck/nose); it must include the root, 0."""

    subject: str
    action: str
    camera: str
    keypoints: np.ndarray
    positions: np.ndarray
    valid: np.ndarray | None = None
    group: str = ""
    fps: float = 50.0
    joints: tuple[int, ...] | None = None

    def __post_init__(self):
        if not self.group:
            self.group = self.action
        name = self.name
        if self.keypoints.ndim != 3 or self.keypoints.shape[1:] not in ((17, 2), (17, 3)):
            raise ValueError(f"{name}: keypoints must be [T, 17, 2|3], got {self.keypoints.shape}")
        if self.positions.shape != self.keypoints.shape[:1] + (17, 3):
            raise ValueError(f"{name}: positions must be [T, 17, 3] with T = {len(self.keypoints)}, "
                             f"got {self.positions.shape}")
        if self.valid is not None and self.valid.shape != (len(self.keypoints),):
            raise ValueError(f"{name}: valid must be [T], got {self.valid.shape}")
        if self.joints is not None:
            self.joints = tuple(sorted({int(j) for j in self.joints}))
            if self.joints[0] != 0 or self.joints[-1] > 16:
                raise ValueError(f"{name}: joints must be Human3.6M-17 indices (0-16) including the "
                                 f"root 0, got {self.joints}")

    @property
    def name(self) -> str:
        return f"{self.subject}/{self.action}/{self.camera}"

    def __len__(self) -> int:
        return self.keypoints.shape[0]


def _load_npz(path, required: tuple[str, ...]) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        npz = np.load(path, allow_pickle=True)
    except Exception as err:  # not a zip / corrupt
        raise ValueError(f"{path}: cannot read as an npz file ({err})") from None
    with npz:
        missing = [k for k in required if k not in npz.files]
        if missing:
            raise ValueError(f"{path}: missing key(s) {missing}; expected {list(required)}, "
                             f"found {npz.files}")
        out = {}
        for key in npz.files:
            value = npz[key]
            out[key] = value.item() if value.dtype == object and value.shape == () else value
    return out


def npz_metadata(path) -> tuple[set[str], dict]:
    """The keys of an npz data file and its ``metadata`` dict (``{}`` when it has none), without reading the
    arrays; ``FileNotFoundError`` for a missing file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    with np.load(path, allow_pickle=True) as npz:
        keys = set(npz.files)
        meta = npz["metadata"] if "metadata" in keys else None
        meta = meta.item() if meta is not None and meta.dtype == object and meta.shape == () else {}
    return keys, meta if isinstance(meta, dict) else {}


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))
        raise ValueError(f"{what}: {len(bad)} NaN/inf values, first at index {tuple(bad[0])}")


def load_vp3d(path_3d, path_2d=None, subjects=None, require_3d: bool = True) -> list[Sequence]:
    """Load VideoPose3D-layout files as :class:`Sequence` objects (one per subject, action, camera).

    ``path_3d``: npz with ``positions_3d[subject][action]`` ``[T, 32|17, 3]`` world metres (and, for
    mocap files, ``positions_2d``, ``metadata`` and ``cameras``). ``path_2d``: npz with
    ``positions_2d[subject][action]`` = list per camera of ``[T, 17, 2|3]`` pixels; defaults to the
    2D stored in ``path_3d``. ``subjects``: keep only these. Cameras come from the file's
    ``cameras`` key when present (a list per subject, or ``{clip: list}`` where each clip has its own),
    else the published Human3.6M calibration. 3D is trimmed to the
    2D length (VideoPose3D's convention; the 3D must not be shorter).
    """
    data_3d = _load_npz(path_3d, ("positions_3d",))
    data_2d = data_3d if path_2d is None else _load_npz(path_2d, ("positions_2d",))
    source_2d = path_3d if path_2d is None else path_2d
    if "positions_2d" not in data_2d:
        raise ValueError(f"{path_3d}: no 'positions_2d' key; pass the 2D file (--data-2d) too")
    positions_3d, positions_2d = data_3d["positions_3d"], data_2d["positions_2d"]
    for what, value in (("positions_3d", positions_3d), ("positions_2d", positions_2d)):
        if not isinstance(value, dict):
            raise ValueError(f"'{what}' must be a dict {{subject: {{action: array}}}}, got "
                             f"{type(value).__name__}")
    def as_cameras(cams):  # a list per subject, or a dict {clip: list} where cameras were drawn per clip
        if isinstance(cams, dict):
            return {clip: [Camera.from_dict(c) for c in v] for clip, v in cams.items()}
        return [Camera.from_dict(c) for c in cams]

    cameras = ({s: as_cameras(cams) for s, cams in data_3d["cameras"].items()}
               if "cameras" in data_3d else h36m_cameras())
    fps = float(data_3d.get("metadata", {}).get("fps", 50.0)) if isinstance(
        data_3d.get("metadata"), dict) else 50.0

    sequences = []
    for subject in sorted(positions_2d):
        if subjects is not None and subject not in subjects:
            continue
        for action in sorted(positions_2d[subject]):
            views = positions_2d[subject][action]
            where = f"{source_2d}: positions_2d[{subject!r}][{action!r}]"
            if subject not in positions_3d or action not in positions_3d[subject]:
                if require_3d:
                    raise ValueError(f"{path_3d}: positions_3d has no [{subject!r}][{action!r}] "
                                     f"for the 2D in {source_2d}")
                continue
            if subject not in cameras:
                raise ValueError(f"no cameras for subject {subject!r} (have {sorted(cameras)})")
            world = np.asarray(positions_3d[subject][action], dtype=np.float64)
            if world.ndim != 3 or world.shape[1:] not in ((32, 3), (17, 3)):
                raise ValueError(f"{path_3d}: positions_3d[{subject!r}][{action!r}] must be "
                                 f"[T, 32|17, 3], got {world.shape}")
            if world.shape[1] == 32:
                world = reduce_32_to_17(world)
            _check_finite(world, f"{path_3d}: positions_3d[{subject!r}][{action!r}]")
            cams = cameras[subject]
            if isinstance(cams, dict):
                if action not in cams:
                    raise ValueError(f"no cameras for {subject!r} / {action!r}")
                cams = cams[action]
            if len(views) > len(cams):
                raise ValueError(f"{where}: {len(views)} camera views but only "
                                 f"{len(cams)} cameras for {subject!r}")
            for index, (kp, cam) in enumerate(zip(views, cams)):
                kp = np.asarray(kp, dtype=np.float64)
                if kp.ndim != 3 or kp.shape[1:] not in ((17, 2), (17, 3)):
                    raise ValueError(f"{where}[{index}] must be [T, 17, 2|3], got {kp.shape}")
                _check_finite(kp, f"{where}[{index}]")
                if len(world) < len(kp):
                    raise ValueError(f"{where}[{index}] has {len(kp)} frames but the 3D has only "
                                     f"{len(world)}")
                positions = cam.world_to_camera(world[:len(kp)])
                sequences.append(Sequence(
                    subject, action, cam.id or str(index), cam.normalize(kp).astype(np.float32),
                    positions.astype(np.float32), None, action_group(action), fps))
    if not sequences:
        raise ValueError(f"{source_2d}: no sequences found" +
                         (f" for subjects {list(subjects)}" if subjects is not None else ""))
    return sequences


#: MPI-INF-3DHP 17-joint order → Human3.6M-17 order (3DHP: 0 head top, 1 neck, 2-4 R arm,
#: 5-7 L arm, 8-10 R leg, 11-13 L leg, 14 pelvis, 15 spine, 16 head)
MPI3DHP_TO_H36M = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)
_3DHP_TEST_RESOLUTION = {"TS5": (1920, 1080), "TS6": (1920, 1080)}  # others 2048 × 2048


def load_3dhp(path, sequences_filter=None) -> list[Sequence]:
    """Load ``data_train_3dhp.npz`` or ``data_test_3dhp.npz`` (key ``data``).

    Train layout: ``data["S1 Seq1"] = [{camera: {"data_2d": [T,17,2] px, "data_3d": [T,17,3] mm}},
    fps]``, images 2048×2048. Test layout: ``data["TS1"] = {"data_2d", "data_3d", "valid": [T]}``,
    TS5/TS6 1920×1080, others 2048×2048. Joints are reordered to Human3.6M-17, 3D converted to
    metres (camera frame), 2D normalised; test sequences keep the valid-frame mask.
    """
    data = _load_npz(path, ("data",))["data"]
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: 'data' must be a non-empty dict of sequences")
    perm = list(MPI3DHP_TO_H36M)
    out = []

    def make(subject, action, camera, entry, w, h, fps, where):
        for key in ("data_2d", "data_3d"):
            if key not in entry:
                raise ValueError(f"{path}: {where} lacks {key!r}; it has {sorted(entry)}")
        kp = np.asarray(entry["data_2d"], dtype=np.float64)
        pos = np.asarray(entry["data_3d"], dtype=np.float64)
        if kp.ndim != 3 or kp.shape[1:] not in ((17, 2), (17, 3)) or pos.shape != kp.shape[:1] + (17, 3):
            raise ValueError(f"{path}: {where}: expected data_2d [T,17,2] and data_3d [T,17,3], got "
                             f"{kp.shape} and {pos.shape}")
        _check_finite(kp, f"{path}: {where}['data_2d']")
        _check_finite(pos, f"{path}: {where}['data_3d']")
        valid = entry.get("valid")
        if valid is not None:
            valid = np.asarray(valid).reshape(-1).astype(bool)
            if valid.shape != (len(kp),):
                raise ValueError(f"{path}: {where}['valid'] must have {len(kp)} entries, got "
                                 f"{valid.shape}")
        kp = kp[:, perm]
        kp[..., :2] = kp[..., :2] / w * 2 - np.array([1.0, h / w])
        out.append(Sequence(subject, action, camera, kp.astype(np.float32),
                            (pos[:, perm] / 1000.0).astype(np.float32), valid, action, float(fps)))

    for key in sorted(data):
        if sequences_filter is not None and key not in sequences_filter:
            continue
        entry = data[key]
        if isinstance(entry, dict):  # test layout
            w, h = _3DHP_TEST_RESOLUTION.get(key, (2048, 2048))
            make(key, key, "0", entry, w, h, 0.0, f"data[{key!r}]")  # fps: not in the file
        elif isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], dict):
            subject, _, seq = key.partition(" ")
            for cam in sorted(entry[0], key=str):
                make(subject, seq or key, str(cam), entry[0][cam], 2048, 2048, float(entry[1]),
                     f"data[{key!r}][0][{cam!r}]")
        else:
            raise ValueError(f"{path}: data[{key!r}] is neither the test layout (a dict with "
                             f"data_2d/data_3d/valid) nor the train layout ([{{camera: {{...}}}}, fps])")
    if not out:
        raise ValueError(f"{path}: no sequences selected")
    return out
