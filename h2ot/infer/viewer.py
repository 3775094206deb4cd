"""``poses3d.html``: an interactive 3D viewer of a result, one self-contained file that works offline.

The page shows the Human3.6M-17 skeleton in 3D (three.js r170 with OrbitControls: turn, zoom, pan; a ground
grid; moving along the trajectory, the view following, when the result has one), the 2D keypoints beside it
(on ``demo.mp4``'s video panel when that file lies beside the page and matches), play/pause, a frame slider,
speed, and marks the frames without a detection. Everything is inside the file: three.js
(``h2ot/assets/viewer/three``, MIT, its licence beside it) is inlined as ``data:`` URLs in an import map, the
viewer's own module (``viewer.js``) and style follow, and the poses are base64 blocks of little-endian int16
(``q * step``: 0.1 mm for 3D, 1/16 px for 2D unless a larger range needs a coarser power-of-two step; -32768 =
missing) with an Adler-32 checksum each, so a 10-minute 50 fps result (30,000 frames) is about 8 MB (12 MB
with a trajectory) and opens in well under a second. A damaged or missing data block shows a message instead
of the viewer.

:func:`write_viewer` writes the page from arrays (``h2ot demo`` and ``h2ot lift`` call it for every result);
:func:`view_folder` (``h2ot view RESULT_DIR``) from an output folder's ``poses3d.npz`` (and
``keypoints2d.npz``, ``demo.mp4`` when present).
"""
from __future__ import annotations

import base64
import functools
import html
import json
import os
import re
import zipfile
import zlib
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import numpy as np

from h2ot.data.skeleton import H36M_JOINT_NAMES, H36M_LEFT, H36M_PARENTS, H36M_RIGHT
from h2ot.fileio import write_text_atomic
from h2ot.infer.render import CENTRE_COLOUR, LEFT_COLOUR, MISSING_COLOUR, RIGHT_COLOUR

VIEWER_FILE = "poses3d.html"
FORMAT = "h2ot.viewer/1"
STEP_3D = 1e-4  # metres: 0.1 mm (range ±3.3 m before the step doubles)
STEP_2D = 1 / 16  # pixels (range ±2048 px before the step doubles)
MISSING = -32768


@functools.lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files("h2ot.assets").joinpath("viewer", *name.split("/")).read_text(encoding="utf-8")


def quantize(values, finest: float) -> tuple[np.ndarray, float]:
    """Float array → ``(int16 array, step)`` with ``value ≈ q * step`` (error at most ``step / 2``): ``step``
    is ``finest`` doubled until the largest finite ``|value|`` fits; NaN and ±inf become -32768."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    peak = float(np.abs(values[finite]).max()) if finite.any() else 0.0
    step = float(finest)
    while peak / step > 32766:
        step *= 2
    q = np.full(values.shape, MISSING, dtype="<i2")
    q[finite] = np.round(values[finite] / step)
    return q, step


def _block(name: str, array: np.ndarray, step: float | None = None) -> tuple[str, dict]:
    raw = np.ascontiguousarray(array).tobytes()
    spec = {"id": f"h2ot-{name}", "dtype": str(array.dtype.name), "shape": list(array.shape), "bytes": len(raw),
            "adler32": zlib.adler32(raw) & 0xFFFFFFFF}
    if step is not None:
        spec["step"] = step
    text = (f'<script type="application/octet-stream" id="{spec["id"]}">'
            f'{base64.b64encode(raw).decode("ascii")}</script>')
    return text, spec


def _json_for_script(value) -> str:
    """JSON safe inside a <script> element (no "<" at all: no "</script>", no "<!--")."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def _importmap() -> str:
    def data_url(name):
        return "data:text/javascript;base64," + base64.b64encode(_asset(name).encode("utf-8")).decode("ascii")

    return _json_for_script({"imports": {"three": data_url("three/three.module.min.js"),
                                         "three/addons/controls/OrbitControls.js": data_url("three/OrbitControls.js")}})


def floor_offset(poses3d: np.ndarray, foot_height: float = 0.08) -> float:
    """The camera-axes y (down) of a floor ``foot_height`` below the lowest ankle of the median frame (as in
    ``poses3d.bvh``): the viewer draws ``Y = floor_offset - y`` (Y up, the pelvis at ``floor_offset``)."""
    ankles = poses3d[:, [3, 6], 1].max(axis=1)
    ankles = ankles[np.isfinite(ankles)]
    return float(np.median(ankles)) + foot_height if len(ankles) else 1.0


def write_viewer(path, poses3d, keypoints2d=None, detected=None, fps: float = 50.0, image_size=None,
                 video: str | None = None, source: str = "", model: str = "", times=None,
                 joints_camera=None) -> Path:
    """Write the viewer page ``path`` (normally ``RESULT_DIR/poses3d.html``).

    ``poses3d [T, 17, 3]`` metres in camera axes (root-relative, as in ``poses3d.npz``); ``keypoints2d
    [T, 17, 2|3]`` pixels of an ``image_size`` ``(W, H)`` image, or None; ``detected [T]`` (default all);
    ``video``: a URL relative to the page of ``demo.mp4`` (shown, cropped to its video panel, only when the
    browser can play it and its length and shape match); ``times [T]``: seconds of each frame, kept when
    they are not evenly spaced at ``fps`` (a variable frame rate); ``joints_camera [T, 17, 3]``: the joints in
    the camera frame (the trajectory, ``poses3d.npz``'s ``joints_camera``), shown moving along their path
    (a "path" switch) from the first frame's pelvis. The file is written atomically. Returns its path.
    """
    path = Path(path)
    poses3d = np.asarray(poses3d, dtype=np.float64)
    if poses3d.ndim != 3 or poses3d.shape[1:] != (17, 3) or len(poses3d) == 0:
        raise ValueError(f"poses3d must be [T, 17, 3] with T >= 1, found {list(poses3d.shape)}")
    count = len(poses3d)
    detected = np.ones(count, dtype=bool) if detected is None else np.asarray(detected).astype(bool).reshape(-1)
    if len(detected) != count:
        raise ValueError(f"detected has {len(detected)} frames, poses3d {count}")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, found {fps}")
    if image_size is not None and (len(image_size) != 2 or min(int(v) for v in image_size) <= 0):
        raise ValueError(f"image_size must be two positive numbers (W, H), found {list(image_size)}")
    blocks, specs = [], {}
    text, specs["poses3d"] = _block("poses3d", *quantize(poses3d, STEP_3D))
    blocks.append(text)
    if keypoints2d is not None:
        keypoints2d = np.asarray(keypoints2d, dtype=np.float64)
        if keypoints2d.ndim != 3 or keypoints2d.shape[:2] != (count, 17) or keypoints2d.shape[2] < 2:
            raise ValueError(f"keypoints2d must be [{count}, 17, 2|3], found {list(keypoints2d.shape)}")
        text, specs["keypoints2d"] = _block("keypoints2d", *quantize(keypoints2d[..., :2], STEP_2D))
        blocks.append(text)
        if image_size is None:
            finite = keypoints2d[..., :2][np.isfinite(keypoints2d[..., 0])]
            image_size = tuple(int(np.ceil(v)) + 1 for v in finite.max(axis=0)) if len(finite) else (1, 1)
    path_floor = None
    if joints_camera is not None:
        joints_camera = np.asarray(joints_camera, dtype=np.float64)
        if joints_camera.shape != poses3d.shape:
            raise ValueError(f"joints_camera must be [{count}, 17, 3] like poses3d, found {list(joints_camera.shape)}")
        moved = joints_camera - joints_camera[0, 0] * np.array([1.0, 0.0, 1.0])  # the first pelvis above the origin
        text, specs["path3d"] = _block("path3d", *quantize(moved, STEP_3D))
        blocks.append(text)
        path_floor = round(floor_offset(moved), 5)
    text, specs["detected"] = _block("detected", detected.astype(np.uint8))
    blocks.append(text)
    if times is not None:
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if len(times) != count or not np.isfinite(times).all() or (np.diff(times) <= 0).any():
            raise ValueError(f"times must be {count} increasing seconds, found {len(times)} values")
        if np.abs(times - times[0] - np.arange(count) / fps).max() > 5e-4:  # not evenly spaced: keep them
            text, specs["times"] = _block("times", (times - times[0]).astype("<f4"))
            blocks.append(text)
    sides = ["r" if j in H36M_RIGHT else "l" if j in H36M_LEFT else "c" for j in range(17)]
    meta = {
        "format": FORMAT,
        "source": str(source),
        "model": str(model),
        "fps": float(fps),
        "num_frames": count,
        "num_detected": int(detected.sum()),
        "image_size": [int(v) for v in image_size] if image_size is not None else None,
        "units": "m",
        "coordinates": "camera axes: x right, y down, z away from the camera; root-relative",
        "joint_names": list(H36M_JOINT_NAMES),
        "parents": list(H36M_PARENTS),
        "sides": sides,
        "colours": {"right": list(RIGHT_COLOUR), "left": list(LEFT_COLOUR), "centre": list(CENTRE_COLOUR),
                    "missing": list(MISSING_COLOUR)},
        "floor_offset": round(floor_offset(poses3d), 5),
        "path_floor_offset": path_floor,
        "video": video,
        "blocks": specs,
    }
    blocks.insert(0, f'<script type="application/json" id="h2ot-meta">{_json_for_script(meta)}</script>')
    from h2ot import __version__

    title = f"{Path(source).name or 'result'}: 3D poses" if source else "3D poses"
    values = {"VERSION": html.escape(__version__), "TITLE": html.escape(title), "CSS": _asset("viewer.css"),
              "DATA": "\n".join(blocks), "IMPORTMAP": _importmap(), "APP": _asset("viewer.js"),
              "THREE_LICENSE": _asset("three/LICENSE").strip().replace("--", "- -")}
    page = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], _asset("viewer.html"))
    return write_text_atomic(path, page)


def _read_npz(path: Path, required: tuple[str, ...]) -> dict:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in required if key not in npz.files]
            if missing:
                raise ValueError(f"{path}: not an h2ot result file: no {', '.join(missing)} in it")
            return {key: npz[key] for key in npz.files}
    except ValueError as error:
        if str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read it as an npz file ({_first_line(error)})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{path}: cannot read it as an npz file ({_first_line(error)})") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def view_folder(result_dir, out=None) -> Path:
    """``h2ot view RESULT_DIR``: write ``RESULT_DIR/poses3d.html`` (or ``out``) from the folder's
    ``poses3d.npz``, with ``keypoints2d.npz`` and ``demo.mp4`` when present. A missing folder or file raises
    FileNotFoundError, an unreadable one ValueError, each naming the file."""
    folder = Path(result_dir)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder (give an output folder of h2ot demo or h2ot lift)")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder (give an output folder of h2ot demo or h2ot lift)")
    npz_path = folder / "poses3d.npz"
    if not npz_path.is_file():
        raise FileNotFoundError(f"{npz_path}: not found (give an output folder of h2ot demo or h2ot lift)")
    npz = _read_npz(npz_path, ("poses3d", "fps"))
    poses3d = npz["poses3d"]
    if poses3d.ndim != 3 or poses3d.shape[1:] != (17, 3) or len(poses3d) == 0:
        raise ValueError(f"{npz_path}: poses3d must be [T, 17, 3], found {list(poses3d.shape)}")
    keypoints = None
    kp_path = folder / "keypoints2d.npz"
    if kp_path.is_file():
        keypoints = _read_npz(kp_path, ("keypoints",))["keypoints"]
        if keypoints.ndim != 3 or keypoints.shape[:2] != (len(poses3d), 17):
            raise ValueError(f"{kp_path}: keypoints must be [{len(poses3d)}, 17, 3] like {npz_path.name}'s "
                             f"poses3d, found {list(keypoints.shape)}")
    out = Path(out) if out is not None else folder / VIEWER_FILE
    if out.is_dir():
        out = out / VIEWER_FILE
    video = None
    if (folder / "demo.mp4").is_file():
        video = quote(Path(os.path.relpath(folder.resolve() / "demo.mp4", out.resolve().parent)).as_posix())
    times = npz.get("times")
    try:
        fps = float(npz["fps"])
        image_size = npz.get("image_size")
        image_size = None if image_size is None else [int(v) for v in np.asarray(image_size).reshape(2)]
        times = times if times is not None and times.shape == (len(poses3d),) else None
        return write_viewer(out, poses3d, keypoints, npz.get("detected"), fps, image_size, video=video,
                            source=folder.resolve().name, model=str(npz.get("model", "")), times=times,
                            joints_camera=npz.get("joints_camera"))
    except (TypeError, ValueError) as error:  # fields of the wrong shape or value
        raise ValueError(f"{npz_path}: {_first_line(error)}") from None
