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
"""
from __future__ import annotations

import json
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
    flat = np.asarray(flat, dtype=np.float64).ravel()
    if flat.size != size * 3:
        raise ValueError(f"{where}: a person has {flat.size} values ({_guess(flat.size)}), but format "
                         f"{fmt!r} expects {size} keypoints × (x, y, confidence) = {size * 3} values; "
                         f"pass the --format the file was written in")
    return flat.reshape(size, 3)


def _frame_number(image_id, fallback: int):
    if isinstance(image_id, (int, float)):
        return image_id
    numbers = re.findall(r"\d+", str(image_id))
    return int(numbers[-1]) if numbers else fallback


def _load_coco_json(path: Path, fmt: str, size: int) -> list[np.ndarray]:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a JSON file ({error})") from None
    if isinstance(data, dict) and "people" in data:
        raise ValueError(f"{path}: this is an OpenPose file; use --format openpose")
    order = None
    if isinstance(data, dict) and "annotations" in data:
        if "images" in data:
            order = {img["id"]: k for k, img in enumerate(sorted(
                data["images"], key=lambda im: _frame_number(im.get("file_name", im["id"]), im["id"])))}
        data = data["annotations"]
    if not isinstance(data, list) or not all(isinstance(d, dict) and "keypoints" in d for d in data):
        raise ValueError(f"{path}: expected a COCO-style list of {{'image_id', 'keypoints'}} entries "
                         f"(or a dict with 'annotations') for format {fmt!r}")
    if not data:
        raise ValueError(f"{path}: the file holds no detections")
    keys = [order[d["image_id"]] if order else _frame_number(d.get("image_id"), k) for k, d in enumerate(data)]
    frames = sorted(set(keys))
    if order:
        frames = list(range(len(order)))
    index = {f: k for k, f in enumerate(frames)}
    people: list[list[np.ndarray]] = [[] for _ in frames]
    for k, (key, d) in enumerate(zip(keys, data)):
        people[index[key]].append(_person(d["keypoints"], size, fmt, f"{path} entry {k}"))
    return [np.stack(p) if p else np.zeros((0, size, 3)) for p in people]


def _load_openpose(path: Path, size: int) -> list[np.ndarray]:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no OpenPose *.json files in this folder")
    out = []
    for file in files:
        try:
            data = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{file}: not a JSON file ({error})") from None
        if not isinstance(data, dict) or "people" not in data:
            raise ValueError(f"{file}: not an OpenPose file (expected {{'people': [{{'pose_keypoints_2d': "
                             f"...}}]}}); pass the --format the keypoints were written in")
        people = [_person(p.get("pose_keypoints_2d", []), size, "openpose", str(file)) for p in data["people"]]
        out.append(np.stack(people) if people else np.zeros((0, size, 3)))
    return out


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
                    raise ValueError(f"{path}: no array named 'keypoints' (found {keys})")
                array = npz[key]
                for name in ("image_size", "fps", "format", "detected"):
                    if name in keys:
                        meta[name] = npz[name].tolist()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: cannot read this file as a numpy array ({error})") from None
    return np.asarray(array, dtype=np.float64), meta


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
        if declared is not None and format_size(str(declared))[0] != canonical:
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
        if array.shape[-1] == 2:
            array = np.concatenate([array, np.ones(array.shape[:-1] + (1,))], axis=-1)
        frames = []
        for people in array:
            present = ~np.isnan(people[..., :2]).all(axis=(-1, -2))
            frames.append(people[present])
        return frames, meta
    if canonical == "body25":
        return _load_openpose(path, size), {}
    if path.is_dir():
        raise ValueError(f"{path} is a folder; only --format openpose reads a folder of JSON files")
    if path.suffix.lower() != ".json":
        raise ValueError(f"{path}: unsupported keypoint file; expected .json, .npy or .npz")
    return _load_coco_json(path, canonical, size), {}
