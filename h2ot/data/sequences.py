"""Per-sequence data and the loaders that produce it.

A :class:`Sequence` is one video (one subject, one action, one camera): 2D keypoints in normalised
screen coordinates and 3D joints in the camera frame, metres, Human3.6M-17 order. Loaders:

- :func:`load_vp3d` — the VideoPose3D npz layout: the Human3.6M files
  (``data_3d_h36m.npz`` + ``data_2d_h36m_cpn_ft_h36m_dbb.npz`` or ``data_2d_h36m_gt.npz``) and the
  files ``h2ot data mocap`` writes (which carry their own ``cameras``);
- :func:`load_3dhp` — MPI-INF-3DHP ``data_train_3dhp.npz`` / ``data_test_3dhp.npz`` (the layout of
  P-STMO, PoseFormerV2 and MotionAGFormer), with the test set's valid-frame masks.

Reading these files never runs code from them. VideoPose3D's files (and those h2ot wrote before) hold
pickled dicts as 0-d object arrays; they are read through a restricted unpickler that builds only numpy
arrays, dtypes and numpy scalars, and plain dicts/lists/tuples/sets, and refuses anything else (a crafted
file that asks for ``os.system`` gets a ``ValueError`` naming the file and the forbidden global). Files
h2ot writes (:func:`npz_members`, used by :func:`h2ot.data.mocap.save_npz_atomic`) hold no pickles at all:
``np.load(path, allow_pickle=False)`` opens every member. Both layouts read as the same dicts.
"""
from __future__ import annotations

import json
import math
import pickle
import re
import zipfile
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


# ----------------------------------------------------------------------------------------------
# Dataset npz files: written without pickles, read without running code
# ----------------------------------------------------------------------------------------------

#: The member that marks h2ot's pickle-free layout. Its content never changes, so the members of one such
#: file, read with ``np.load`` and written again (:func:`h2ot.data.mocap.save_npz_atomic`), stay valid.
NPZ_MARKER = "__h2ot_npz__"
NPZ_MARKER_VALUE = "h2ot npz without pickles, version 1"
_INLINE_MAX = 64  # numeric arrays up to this many values are written inside the JSON (camera parameters)


class _NpzLayoutError(ValueError):
    """A readable file whose content is not what the readers expect (message complete, names the file)."""


class _ForbiddenGlobal(Exception):
    pass


def _escape(name: str) -> str:
    return name.replace("%", "%25").replace("/", "%2F")


def npz_members(arrays: dict) -> dict[str, np.ndarray]:
    """The members (name → numeric or string array) of an npz file that stores ``arrays`` without pickles;
    :func:`h2ot.data.mocap.save_npz_atomic` writes them, :func:`_load_npz` reads them back as ``arrays``.

    A numpy array (or a number) is one member, as ``np.savez`` stores it. Any other value — dicts, lists,
    tuples, strings, numbers, ``None``, nested in any way, with numpy arrays as leaves (VideoPose3D's
    ``positions_3d[subject][action]``, ``positions_2d[subject][action][camera]``, ``cameras``, ``metadata``)
    — is a 0-d string member holding JSON, in which an array of more than 64 values is a reference
    ``{"$npy": "positions_3d/S1/Walking"}`` to a member of its own, named by its path (``%`` and ``/`` in
    names written ``%25`` and ``%2F``), and a smaller one is written inline as
    ``{"$array": [dtype, shape, values]}``; a dict whose keys are not all strings (or that start with
    ``$``) is ``{"$dict": [[key, value], …]}``, a tuple ``{"$tuple": […]}``. The member ``__h2ot_npz__``
    marks the layout; in it, every 0-d string member is JSON. Members given as arrays are kept as they are.
    """
    members: dict[str, np.ndarray] = {NPZ_MARKER: np.array(NPZ_MARKER_VALUE)}
    taken = {str(k) for k in arrays} | {NPZ_MARKER}

    def own_member(path: str, array: np.ndarray) -> str:
        name, n = path, 1
        while name in taken:
            n += 1
            name = f"{path}~{n}"
        taken.add(name)
        members[name] = array
        return name

    def encode(value, path: str):
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in value):
                return {k: encode(v, f"{path}/{_escape(k)}") for k, v in value.items()}
            return {"$dict": [[encode(k, f"{path}/key"), encode(v, f"{path}/{_escape(str(k))}")]
                              for k, v in value.items()]}
        if isinstance(value, tuple):
            return {"$tuple": [encode(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [encode(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                if value.shape == ():
                    return encode(value.item(), path)
                raise ValueError(f"{path}: an object array {value.shape} cannot be stored without pickles; "
                                 f"give a dict, a list or a numeric array")
            if value.dtype.kind in "biuf" and value.size <= _INLINE_MAX:
                return {"$array": [value.dtype.str, list(value.shape), value.ravel().tolist()]}
            return {"$npy": own_member(path, value)}
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ValueError(f"{path}: a {type(value).__name__} cannot be stored without pickles (only dicts, "
                         f"lists, tuples, strings, numbers and numpy arrays)")

    for key, value in arrays.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"npz member names must be non-empty strings, got {key!r}")
        if key == NPZ_MARKER:
            continue  # copied from a file in this layout: the marker is written once, above
        if isinstance(value, np.ndarray) and value.dtype.hasobject and value.shape == ():
            value = value.item()
        if isinstance(value, np.ndarray) and value.dtype.kind == "U" and value.shape == ():
            try:  # a JSON member copied from a file in this layout (its arrays come along as members)
                json.loads(str(value))
                members[key] = value
                continue
            except ValueError:
                value = str(value)
        if isinstance(value, (dict, list, tuple, str)) or value is None:
            members[key] = np.array("")  # keeps the order of the keys
            members[key] = np.array(json.dumps(encode(value, _escape(key)), separators=(",", ":")))
        else:
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise ValueError(f"{key}: an object array {array.shape} cannot be stored without pickles; "
                                 f"give a dict, a list or a numeric array")
            members[key] = array
    return members


_SAFE_GLOBALS: dict | None = None


def _safe_globals() -> dict:
    """What the pickled object arrays of VideoPose3D-layout files may name: numpy's array, dtype and
    scalar reconstruction, and plain containers. Nothing here runs code or touches files."""
    global _SAFE_GLOBALS
    if _SAFE_GLOBALS is None:
        import collections
        import importlib

        allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                   ("collections", "OrderedDict"): collections.OrderedDict}
        for module in ("builtins", "__builtin__"):  # __builtin__: Python 2 pickles
            for kind in (dict, list, tuple, set, frozenset):
                allowed[(module, kind.__name__)] = kind
        for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer")):
            found = None
            for package in ("numpy._core", "numpy.core"):
                try:
                    found = getattr(importlib.import_module(f"{package}.{module}"), name)
                    break
                except (ImportError, AttributeError):
                    continue
            if found is not None:
                for package in ("numpy._core", "numpy.core"):
                    allowed[(f"{package}.{module}", name)] = found
        _SAFE_GLOBALS = allowed
    return _SAFE_GLOBALS


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        found = _safe_globals().get((module, name))
        if found is None:
            raise _ForbiddenGlobal(f"{module}.{name}")
        return found


#: the header ``np.save`` writes for a plain dtype (numpy's own reader, which is slower, reads any other)
_NPY_HEADER = re.compile(rb"\{'descr': '([<>|=]?[a-zA-Z]\d*)', 'fortran_order': (True|False), "
                         rb"'shape': \(((?:\d+, ?)*\d*)\), \} *\n")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member; object arrays through :class:`_SafeUnpickler`."""
    with zf.open(info) as fp:
        start = fp.read(10)
        match = None
        if start[:8] == b"\x93NUMPY\x01\x00":
            header = fp.read(int.from_bytes(start[8:10], "little"))
            match = _NPY_HEADER.fullmatch(header)
        if match:
            dtype, fortran_order = np.dtype(match[1].decode()), match[2] == b"True"
            shape = tuple(int(v) for v in match[3].split(b",") if v.strip())
        else:
            fp.seek(0)
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                shape, fortran_order, dtype = np.lib.format._read_array_header(fp, version)
        if dtype.hasobject:
            array = _SafeUnpickler(fp, encoding="ASCII").load()
            if not isinstance(array, np.ndarray):
                raise ValueError(f"member {info.filename} holds a {type(array).__name__}, not an array")
            return array
        count = math.prod(shape)
        if count * dtype.itemsize > info.file_size:  # a header that claims more than the member holds
            raise ValueError(f"member {info.filename} is shorter than its shape {shape} says (truncated)")
        buffer = bytearray(count * dtype.itemsize)
        view, done = memoryview(buffer), 0
        while done < len(buffer):
            got = fp.readinto(view[done:])
            if not got:
                raise ValueError(f"member {info.filename} is shorter than its shape {shape} says (truncated)")
            done += got
        array = np.frombuffer(buffer, dtype=dtype, count=count)
        return array.reshape(shape[::-1]).transpose() if fortran_order else array.reshape(shape)


def _read_npz(path, keys=None, required: tuple[str, ...] = ()) -> tuple[list[str], dict]:
    """``(the file's keys, {key: value})`` for ``keys`` (None = all) of a dataset npz in either layout:
    VideoPose3D's (0-d object arrays, read without running code: :class:`_SafeUnpickler`) or h2ot's
    pickle-free one (:func:`npz_members`). Any unreadable file is a one-line ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
            marked = NPZ_MARKER in infos
            if marked:  # the members of the JSON trees are not keys of their own
                escaped = {_escape(n) for n in infos if "/" not in n}
                names = [n for n in infos if n != NPZ_MARKER and not ("/" in n and n.split("/", 1)[0] in escaped)]
            else:
                names = list(infos)
            missing = [k for k in required if k not in names]
            if missing:
                raise _NpzLayoutError(f"{path}: missing key(s) {missing}; expected {list(required)}, "
                                      f"found {names}")

            def member(name):
                if not isinstance(name, str) or name not in infos:
                    raise _NpzLayoutError(f"{path}: a reference to a missing member {name!r}")
                try:
                    return _read_member(zf, infos[name])
                except _ForbiddenGlobal:
                    raise
                except Exception as err:  # truncated, corrupt, a broken pickle, …
                    raise _NpzLayoutError(f"{path}: cannot read as an npz file ({_reason(err)})") from None

            def hook(obj: dict):
                if len(obj) != 1:
                    return obj
                (tag, value), = obj.items()
                if tag == "$npy":
                    return member(value)
                if tag == "$array":
                    dtype, shape, values = value
                    if np.dtype(dtype).kind not in "biuf":
                        raise ValueError(f"inline array of dtype {dtype!r}")
                    return np.array(values, dtype=np.dtype(dtype)).reshape(shape)
                if tag == "$tuple":
                    return tuple(value)
                if tag == "$dict":
                    return {(tuple(k) if isinstance(k, list) else k): v for k, v in value}
                return obj

            out = {}
            for key in names if keys is None else [k for k in names if k in keys]:
                value = member(key)
                if not marked:
                    out[key] = value.item() if value.dtype == object and value.shape == () else value
                elif value.shape == () and value.dtype.kind == "U":
                    try:
                        out[key] = json.loads(str(value), object_hook=hook)
                    except _NpzLayoutError:
                        raise
                    except (ValueError, TypeError) as err:
                        raise _NpzLayoutError(f"{path}: member {key!r} is not the JSON h2ot writes "
                                              f"({_reason(err)})") from None
                else:
                    out[key] = value
    except _NpzLayoutError:
        raise
    except _ForbiddenGlobal as err:
        raise ValueError(f"{path}: refusing to load: the file's pickled data asks for {err} (only numpy "
                         f"arrays and plain dicts/lists are allowed)") from None
    except Exception as err:  # not a zip, a broken central directory, …
        raise ValueError(f"{path}: cannot read as an npz file ({_reason(err)})") from None
    return names, out


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _load_npz(path, required: tuple[str, ...]) -> dict:
    """Every key of a dataset npz (either layout, :func:`_read_npz`); 0-d object arrays and JSON members
    become the dicts/lists they hold. ``ValueError`` if a ``required`` key is missing."""
    return _read_npz(path, None, required)[1]


def npz_metadata(path) -> tuple[set[str], dict]:
    """The keys of an npz data file and its ``metadata`` dict (``{}`` when it has none), without reading the
    arrays; ``FileNotFoundError`` for a missing file."""
    names, values = _read_npz(path, ("metadata",))
    meta = values.get("metadata")
    return set(names), meta if isinstance(meta, dict) else {}


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
