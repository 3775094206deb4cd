"""Read 2D keypoints that other tools wrote, as per-frame detections ``[N, K, 3]`` (pixels, confidence).

- ``coco`` / ``halpe`` JSON: the COCO results layout (a list of ``{"image_id", "keypoints": [x, y, c, …],
  "score"}``, as AlphaPose, MMPose, Detectron2 write) or a COCO dataset dict with ``annotations`` (and
  ``images``). Frames are the image ids in order (numbers, or the number inside a file name such as
  ``"000012.jpg"``); several entries per image are several people.
- ``openpose`` / ``body25``: a folder of OpenPose ``*_keypoints.json`` files (one per frame, in name order),
  each ``{"people": [{"pose_keypoints_2d": [75 values]}]}``; or one such file.
- any format: an ``.npy`` / ``.npz`` array ``[T, K, 2|3]`` or ``[T, N, K, 2|3]`` (NaN = missing); an npz
  holds it under ``keypoints`` (h2ot's own ``keypoints2d.npz``), ``keypoints2d``, ``positions_2d`` or
  as its only array. h2ot's npz also carries ``image_size``, ``fps``, its ``format`` (checked against the
  declared one) and the ``detected`` flags (undetected frames are gaps again).

The number of keypoints per person must match the declared format (COCO 17, Halpe 26, BODY_25 25,
BlazePose 33, Human3.6M 17); otherwise a ``ValueError`` says what the file holds.

Missing keypoints. The pipeline's convention is NaN: a missing keypoint is NaN, a person with none is not a
detection, and a frame with nobody is an empty ``[0, K, 3]`` (the person's gaps are then interpolated and
get confidence 0, :func:`h2ot.infer.track.fill_gaps`). Each format's own marker becomes that:

- JSON (COCO / Halpe / AlphaPose / OpenPose): a keypoint with confidence 0 (OpenPose and COCO write a
  missing one as ``(0, 0, 0)``; a COCO dataset's visibility 0), a negative or non-finite confidence,
  ``null`` or a non-finite coordinate is missing;
- arrays (``.npy`` / ``.npz``): NaN (or another non-finite value) in x or y, and an exact ``(0, 0, 0)``;
  a person whose values are all 0 (padding) is not a detection;
- a person with none of the keypoints the Human3.6M-17 conversion uses is not a detection; a frame whose
  people are all empty has no detection.

Keypoints the conversion to Human3.6M-17 never uses (COCO's ears, BODY_25's neck, mid-hip, ears and
feet, …) are set to ``(0, 0, 0)`` when missing instead of NaN: they do not reach the lifter, and one that
is never seen must not stop the lift. A file that is not what its format promises (an annotation naming
an image id that is not in ``images``, ``people`` that is not a list, a keypoint list of the wrong length,
values that are not numbers) is a one-line ``ValueError`` naming the file and what was expected.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from h2ot.data.skeleton import FORMAT_ALIASES, FORMAT_KEYPOINTS

FORMATS = ("coco", "halpe", "openpose", "body25", "mediapipe", "blazepose", "h36m")


def format_size(fmt: str) -> tuple[str, int]:
    canonical = FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if canonical == "h36m":
        return canonical, 17
    if canonical not in FORMAT_KEYPOINTS:
        raise ValueError(f"unknown keypoint format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return canonical, len(FORMAT_KEYPOINTS[canonical])


def _guess(values: int) -> str:
    names = {17 * 3: "COCO-17 or Human3.6M-17", 26 * 3: "Halpe-26", 25 * 3: "OpenPose BODY_25",
             18 * 3: "OpenPose COCO-18", 33 * 3: "MediaPipe BlazePose-33", 133 * 3: "COCO-WholeBody-133",
             136 * 3: "Halpe-136"}
    return names.get(values, f"{values / 3:g} keypoints")


def _person(flat, size: int, fmt: str, where: str) -> np.ndarray:
    """One person's ``[x, y, c, …]`` list → ``[size, 3]`` float (``null`` → NaN)."""
    try:
        values = np.asarray(flat)
    except ValueError:  # ragged nested lists
        values = np.asarray(None)
    if values.dtype == object:
        items = values.ravel().tolist() if values.ndim else [flat]
        if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in items):
            values = np.array([np.nan if v is None else v for v in items], dtype=np.float64)
    if values.dtype.kind not in "iuf":
        raise ValueError(f"{where}: a person's keypoints must be a list of numbers [x, y, confidence, …] "
                         f"(null for a missing value), found {_short(flat)}")
    values = values.astype(np.float64).ravel()
    if values.size != size * 3:
        raise ValueError(f"{where}: a person has {values.size} values ({_guess(values.size)}), but format "
                         f"{fmt!r} expects {size} keypoints × (x, y, confidence) = {size * 3} values; "
                         f"pass the --format the file was written in")
    return values.reshape(size, 3)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _used_keypoints(fmt: str) -> np.ndarray:
    """``[K]`` bool: the keypoints of ``fmt`` that the conversion to Human3.6M-17 uses."""
    from h2ot.data.skeleton import conversion_matrix

    return (conversion_matrix(fmt) != 0).any(axis=0)


def _mark_missing(people: np.ndarray, missing: np.ndarray, fmt: str) -> np.ndarray:
    """``people [N, K, 3]`` with the ``missing [N, K]`` keypoints set to NaN (to ``(0, 0, 0)`` where the
    Human3.6M conversion does not use them); people with none of the used keypoints are dropped."""
    people = np.array(people, dtype=np.float64)
    if not people.size:
        return people
    used = _used_keypoints(fmt)
    people[missing & used] = np.nan
    people[missing & ~used] = 0.0
    return people[(~missing & used).any(axis=-1)]


def _json_people(people: np.ndarray, fmt: str) -> np.ndarray:
    """The JSON formats' missing keypoints: confidence 0 (``(0, 0, 0)``), ≤ 0, non-finite, or a non-finite
    coordinate."""
    missing = ~np.isfinite(people[..., :2]).all(axis=-1) | ~(np.isfinite(people[..., 2]) & (people[..., 2] > 0))
    return _mark_missing(people, missing, fmt)


def _frame_number(image_id, fallback: int):
    if isinstance(image_id, (int, float)):
        return image_id
    numbers = re.findall(r"\d+", str(image_id))
    return int(numbers[-1]) if numbers else fallback


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"{path}: not a JSON file ({error})") from None
    except OSError as error:
        raise ValueError(f"{path}: cannot read this file ({error.strerror or error})") from None


def _check_image_id(image_id, path: Path, where: str):
    if isinstance(image_id, bool) or not isinstance(image_id, (int, float, str)) or (
            isinstance(image_id, float) and not math.isfinite(image_id)):
        raise ValueError(f"{path}: {where} has image id {_short(image_id)}; expected a number or a string")
    return image_id


def _load_coco_json(path: Path, fmt: str, size: int) -> list[np.ndarray]:
    data = _read_json(path)
    if isinstance(data, dict) and "people" in data:
        raise ValueError(f"{path}: this is an OpenPose file; use --format openpose")
    order = None
    if isinstance(data, dict) and "annotations" in data:
        if "images" in data:
            images = data["images"]
            if not isinstance(images, list) or not all(isinstance(im, dict) and "id" in im for im in images):
                raise ValueError(f"{path}: 'images' must be a list of {{'id', 'file_name'}} entries")
            ids = [_check_image_id(im["id"], path, f"images entry {k}") for k, im in enumerate(images)]
            if len(set(map(str, ids))) != len(ids):
                twice = next(i for i in ids if sum(str(j) == str(i) for j in ids) > 1)
                raise ValueError(f"{path}: image id {twice!r} appears more than once in 'images'; expected one "
                                 "entry per image")

            def rank(k):  # the frame number in the file name (or the id), else the id as text
                number = _frame_number(images[k].get("file_name", ids[k]), None)
                return (0, number, "") if isinstance(number, (int, float)) else (1, 0, str(ids[k]))

            order = {ids[k]: position for position, k in enumerate(sorted(range(len(images)), key=rank))}
        data = data["annotations"]
    if not isinstance(data, list) or not all(isinstance(d, dict) and "keypoints" in d for d in data):
        raise ValueError(f"{path}: expected a COCO-style list of {{'image_id', 'keypoints'}} entries "
                         f"(or a dict with 'annotations') for format {fmt!r}")
    if not data:
        raise ValueError(f"{path}: the file holds no detections")
    if order:
        keys = []
        for k, d in enumerate(data):
            image_id = d.get("image_id")
            if isinstance(image_id, (dict, list)) or image_id not in order:
                raise ValueError(f"{path}: annotation {k} names image id {_short(image_id)}, which is not in "
                                 f"its 'images' ({len(order)} images); expected one of their ids")
            keys.append(order[image_id])
        frames = list(range(len(order)))
    else:
        keys = []
        for k, d in enumerate(data):
            image_id = d.get("image_id")
            if image_id is not None:
                _check_image_id(image_id, path, f"entry {k}")
            keys.append(_frame_number(image_id, k))
        frames = sorted(set(keys))
    index = {f: k for k, f in enumerate(frames)}
    people: list[list[np.ndarray]] = [[] for _ in frames]
    for k, (key, d) in enumerate(zip(keys, data)):
        people[index[key]].append(_person(d["keypoints"], size, fmt, f"{path} entry {k}"))
    return [_json_people(np.stack(p), fmt) if p else np.zeros((0, size, 3)) for p in people]


def _load_openpose(path: Path, size: int) -> list[np.ndarray]:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no OpenPose *.json files in this folder")
    out = []
    for file in files:
        data = _read_json(file)
        if not isinstance(data, dict) or "people" not in data:
            raise ValueError(f"{file}: not an OpenPose file (expected {{'people': [{{'pose_keypoints_2d': "
                             f"...}}]}}); pass the --format the keypoints were written in")
        if not isinstance(data["people"], list) or not all(isinstance(p, dict) for p in data["people"]):
            raise ValueError(f"{file}: 'people' must be a list of {{'pose_keypoints_2d': [...]}} entries, "
                             f"found {_short(data['people'])}")
        people = [_person(p.get("pose_keypoints_2d", []), size, "openpose", str(file)) for p in data["people"]]
        out.append(_json_people(np.stack(people), "body25") if people else np.zeros((0, size, 3)))
    return out


class _ArrayFileError(ValueError):
    pass


def _load_array(path: Path) -> tuple[np.ndarray, dict]:
    meta: dict = {}
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as npz:
                keys = list(npz.files)
                key = next((k for k in ("keypoints", "keypoints2d", "positions_2d") if k in keys), None)
                if key is None and len(keys) == 1:
                    key = keys[0]
                if key is None:
                    raise _ArrayFileError(f"{path}: no array named 'keypoints' (found {keys})")
                array = npz[key]
                for name in ("image_size", "fps", "format", "detected"):
                    if name in keys:
                        meta[name] = npz[name].tolist()
    except _ArrayFileError:
        raise
    except Exception as error:  # not a numpy file, a truncated or corrupt one, a pickled (object) array, …
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{path}: cannot read this file as a numpy array ({reason})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        raise ValueError(f"{path}: expected a numeric array of keypoints, found dtype "
                         f"{getattr(array, 'dtype', type(array).__name__)}")
    _check_array_meta(path, meta)
    return np.asarray(array, dtype=np.float64), meta


def _check_array_meta(path: Path, meta: dict) -> None:
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0

    size = meta.get("image_size")
    if size is not None and not (isinstance(size, list) and len(size) == 2 and all(number(v) for v in size)):
        raise ValueError(f"{path}: 'image_size' must be [width, height] in pixels, found {_short(size)}")
    if "fps" in meta and not number(meta["fps"]):
        raise ValueError(f"{path}: 'fps' must be a positive number, found {_short(meta['fps'])}")
    if "format" in meta and not isinstance(meta["format"], str):
        raise ValueError(f"{path}: 'format' must be the name of a keypoint format, found {_short(meta['format'])}")
    if "detected" in meta and not isinstance(meta["detected"], list):
        raise ValueError(f"{path}: 'detected' must be one flag per frame, found {_short(meta['detected'])}")


def load_keypoints(path, fmt: str) -> tuple[list[np.ndarray], dict]:
    """Read a keypoint file in format ``fmt``. Returns ``(per-frame detections [N, K, 3], metadata)``;
    ``metadata`` may hold ``image_size`` and ``fps`` (h2ot's npz files)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"keypoint file not found: {path}")
    canonical, size = format_size(fmt)
    if path.suffix in (".npy", ".npz"):
        array, meta = _load_array(path)
        declared = meta.pop("format", None)
        if declared is not None:
            try:
                declared_format = format_size(declared)[0]
            except ValueError:
                raise ValueError(f"{path}: its 'format' {_short(declared)} is not a keypoint format "
                                 f"({', '.join(FORMATS)})") from None
            if declared_format != canonical:
                raise ValueError(f"{path} holds {declared!r} keypoints, but format {fmt!r} was declared; "
                                 f"pass the --format the keypoints are in")
        detected = meta.pop("detected", None)
        if detected is not None and len(detected) == len(array):  # h2ot's own file: gaps stay gaps
            array = np.array(array, dtype=np.float64)
            array[~np.asarray(detected, dtype=bool)] = np.nan
        if array.ndim == 3:
            array = array[:, None]
        if array.ndim != 4 or array.shape[-1] not in (2, 3):
            raise ValueError(f"{path}: expected an array [T, K, 2|3] or [T, N, K, 2|3], found {array.shape}")
        if array.shape[-2] != size:
            raise ValueError(f"{path}: the array has {array.shape[-2]} keypoints per person, but format "
                             f"{fmt!r} expects {size}; pass the --format the keypoints are in")
        xy = array[..., :2]
        missing = ~np.isfinite(xy).all(axis=-1)
        if array.shape[-1] == 3:
            missing |= ~np.isfinite(array[..., 2]) | ((xy == 0).all(axis=-1) & (array[..., 2] == 0))
        else:  # no confidence channel: a person at (0, 0) everywhere is padding
            missing |= (xy == 0).all(axis=(-1, -2))[..., None]
            array = np.concatenate([array, np.ones(array.shape[:-1] + (1,))], axis=-1)
        frames = [_mark_missing(people, gone, canonical) for people, gone in zip(array, missing)]
        return frames, meta
    if canonical == "body25":
        return _load_openpose(path, size), {}
    if path.is_dir():
        raise ValueError(f"{path} is a folder; only --format openpose reads a folder of JSON files")
    if path.suffix.lower() != ".json":
        raise ValueError(f"{path}: unsupported keypoint file; expected .json, .npy or .npz")
    return _load_coco_json(path, canonical, size), {}
