"""A BVH (Biovision Hierarchy) reader with forward kinematics.

- any rotation channel order per joint (``Zrotation Xrotation Yrotation`` means the local rotation
  is ``Rz @ Rx @ Ry``), position channels on any joint (they replace the joint's offset on the axes
  they name), end sites (named ``<parent>_end``);
- tabs or spaces, any line layout (the file is tokenised);
- forward kinematics loops over joints and is vectorised over frames.

Positions come out in the file's units and axes (BVH is Y-up); :mod:`h2ot.data.mocap` converts them.
"""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_AXES = {"X": 0, "Y": 1, "Z": 2}


@dataclass
class BVH:
    """A parsed BVH file.

    ``names``: joint names (end sites included, as ``<parent>_end``), in file order;
    ``parents``: parent index per joint (-1 for the root); ``offsets``: ``[J, 3]``;
    ``channels``: per joint, the list of channel names (empty for end sites);
    ``motion``: ``[T, C]`` channel values (degrees for rotations); ``frame_time`` in seconds.
    """

    path: str
    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[list[str]]
    motion: np.ndarray
    frame_time: float

    @property
    def num_frames(self) -> int:
        return self.motion.shape[0]

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"{self.path}: no joint named {name!r}; joints are {self.names}") from None

    def forward_kinematics(self, frames: slice | None = None, rest: bool = False) -> np.ndarray:
        """Global joint positions ``[T, J, 3]`` in file units and axes.

        ``rest=True`` gives the rest pose (all channels zero) as ``[1, J, 3]``.
        """
        motion = np.zeros((1, self.motion.shape[1])) if rest else self.motion[frames or slice(None)]
        num_frames = motion.shape[0]
        positions = np.zeros((num_frames, len(self.names), 3))
        rotations = np.zeros((num_frames, len(self.names), 3, 3))
        column = 0
        for j, (parent, channels) in enumerate(zip(self.parents, self.channels)):
            local_t = np.broadcast_to(self.offsets[j], (num_frames, 3)).copy()
            local_r = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
            for name in channels:
                values = motion[:, column]
                column += 1
                axis = _AXES[name[0].upper()]
                if name.lower().endswith("position"):
                    local_t[:, axis] = values
                else:
                    local_r = local_r @ _axis_rotation(axis, np.radians(values))
            if parent < 0:
                positions[:, j] = local_t
                rotations[:, j] = local_r
            else:
                positions[:, j] = positions[:, parent] + np.einsum(
                    "tij,tj->ti", rotations[:, parent], local_t)
                rotations[:, j] = rotations[:, parent] @ local_r
        return positions


def _axis_rotation(axis: int, angles: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[T, 3, 3]`` about one axis by ``angles`` (radians)."""
    c, s = np.cos(angles), np.sin(angles)
    m = np.zeros(angles.shape + (3, 3))
    a, b = [i for i in range(3) if i != axis]
    m[..., axis, axis] = 1.0
    m[..., a, a] = c
    m[..., b, b] = c
    # right-handed: about X (a=Y, b=Z), about Y (a=X, b=Z, sign flipped), about Z (a=X, b=Y)
    sign = -1.0 if axis == 1 else 1.0
    m[..., a, b] = -s * sign
    m[..., b, a] = s * sign
    return m


def read_bvh(path) -> BVH:
    """Parse a BVH file (``.bvh`` or gzip-compressed ``.bvh.gz``). Raises ``ValueError`` naming the file for malformed or truncated input."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BVH file not found: {path}")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # a corrupt or truncated .gz
        raise ValueError(f"{path}: cannot decompress ({err})") from None
    text = raw.decode("utf-8", errors="replace")
    head, sep, motion_text = text.partition("MOTION")
    if not sep:
        raise ValueError(f"{path}: no MOTION section; the file is not a BVH or is truncated")
    names, parents, offsets, channels = _parse_hierarchy(head.split(), path)
    num_channels = sum(len(c) for c in channels)

    tokens = motion_text.split()
    try:
        frames_at = tokens.index("Frames:")
        num_frames = int(tokens[frames_at + 1])
        time_at = tokens.index("Time:")
        frame_time = float(tokens[time_at + 1])
    except (ValueError, IndexError):
        raise ValueError(f"{path}: MOTION section lacks 'Frames: N' and 'Frame Time: dt'") from None
    if frame_time <= 0:
        raise ValueError(f"{path}: Frame Time must be positive, got {frame_time}")
    values = tokens[time_at + 2:]
    expected = num_frames * num_channels
    if len(values) < expected:
        full = len(values) // num_channels
        raise ValueError(
            f"{path}: truncated MOTION data: header says {num_frames} frames x {num_channels} "
            f"channels = {expected} values, found {len(values)} (only {full} complete frames)")
    try:
        motion = np.array(values[:expected], dtype=np.float64).reshape(num_frames, num_channels)
    except ValueError:
        raise ValueError(f"{path}: MOTION data contains a value that is not a number") from None
    if not np.all(np.isfinite(motion)):
        raise ValueError(f"{path}: MOTION data contains NaN or infinite values")
    return BVH(str(path), names, parents, np.array(offsets, dtype=np.float64), channels, motion,
               frame_time)


def _parse_hierarchy(tokens: list[str], path) -> tuple[list, list, list, list]:
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    i = 0

    def fail(msg):
        raise ValueError(f"{path}: malformed HIERARCHY: {msg}")

    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                i += 2
            elif tok == "End":  # "End Site"
                names.append(f"{names[stack[-1]]}_end" if stack else "end")
                i += 2
            elif tok == "{":
                if len(parents) != len(names) - 1:
                    fail("'{' without a joint")
                parents.append(stack[-1] if stack else -1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                stack.append(len(names) - 1)
                i += 1
            elif tok == "}":
                if not stack:
                    fail("unbalanced '}'")
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1:i + 4]]
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                chans = tokens[i + 2:i + 2 + n]
                for c in chans:
                    if c[0].upper() not in _AXES or not c.lower().endswith(("position", "rotation")):
                        fail(f"unknown channel {c!r}")
                channels[stack[-1]] = chans
                i += 2 + n
            else:
                i += 1  # HIERARCHY and anything unknown
    except (IndexError, ValueError) as err:
        if isinstance(err, ValueError) and str(err).startswith(str(path)):
            raise
        fail(f"unexpected end or bad number near token {i}")
    if stack:
        fail("unbalanced '{' (file truncated?)")
    if not names:
        fail("no ROOT joint")
    return names, parents, offsets, channels
