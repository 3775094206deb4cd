"""The whole pipeline: video → 2D keypoints → one person → 3D poses → files and a rendered video.

:func:`infer_video` (``h2ot demo``) and :func:`lift_file` (``h2ot lift``) share the stages after detection.
Outputs are written into a hidden staging folder inside the output folder and moved into place only when
every file is complete, so a failure never leaves a file that looks complete.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from h2ot.checks import MIN_FRAMES, check_fps, check_image_size, check_positive_int
from h2ot.data.skeleton import H36M_JOINT_NAMES, H36M_PARENTS, convert_keypoints
from h2ot.infer.progress import Progress, format_timings
from h2ot.infer.track import consistent_sides, fill_gaps, select_person, track_people
from h2ot.infer.trajectory import NoTrajectoryError, Trajectory, check_focal_mm

OUTPUT_FILES = ("poses3d.npz", "poses3d.json", "keypoints2d.npz", "poses3d.bvh", "demo.mp4", "poses3d.html")
log = logging.getLogger(__name__)
COORDINATES = ("camera axes: x right, y down, z forward (away from the camera; for models trained on look-at "
               "targets, the camera turned to look at the person); metres; root-relative (pelvis at the origin)")
PATH = ("the camera frame: x right, y down, z forward from the camera centre, metres; trajectory = the pelvis, "
        "joints_camera = every joint (the pose turned into the camera's own axes plus the trajectory); from the 2D, "
        "for a camera of focal_mm (35 mm-equivalent) and an average-sized person")


def demo_video_path() -> Path:
    """The demo clip shipped with the package (a 3.5 s cut of the Sports2D demo video, BSD-3)."""
    return Path(str(resources.files("h2ot.assets").joinpath("demo.mp4")))


@dataclass
class InferenceResult:
    """What the pipeline produced. Arrays: ``poses3d [T, 17, 3]`` (see ``COORDINATES``),
    ``keypoints2d [T, 17, 3]`` Human3.6M-17 pixels + confidence (0 where interpolated), ``detected [T]``,
    ``raw_keypoints [T, K, 3]`` the person in the source format (NaN where missing), ``reprojection [T]`` the
    reprojection error of each frame, percent of the 2D person size (NaN where not detected;
    :meth:`Lifter.reprojection`), ``trajectory`` where the person is (:meth:`Lifter.trajectory`: the pelvis in
    the camera frame, and every joint)."""

    poses3d: np.ndarray
    keypoints2d: np.ndarray
    detected: np.ndarray
    fps: float
    image_size: tuple[int, int]
    raw_keypoints: np.ndarray
    keypoint_format: str
    source: str
    person: int = 0
    num_people: int = 1
    model: str = ""
    timings: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    sides_swapped: np.ndarray | None = None  # [T, 2] frames whose legs / arms labels were swapped back
    reprojection: np.ndarray | None = None  # [T] percent of the 2D person size, NaN where not detected
    times: np.ndarray | None = None  # [T] seconds of each frame when not evenly spaced at fps (a variable rate)
    trajectory: Trajectory | None = None  # the pelvis's path and the joints in the camera frame

    @property
    def num_frames(self) -> int:
        return len(self.poses3d)

    @property
    def reprojection_median(self) -> float | None:
        """The median of ``reprojection`` over the frames where it is defined (percent), or None."""
        values = None if self.reprojection is None else self.reprojection[np.isfinite(self.reprojection)]
        return float(np.median(values)) if values is not None and len(values) else None

    def summary(self) -> str:
        rate = f"{self.fps:g} fps" + (" (the mean of a variable frame rate)" if self.times is not None else "")
        lines = [f"{self.source}: {self.num_frames} frames at {rate}, {self.image_size[0]}x"
                 f"{self.image_size[1]}; person {self.person} of {self.num_people} track(s), detected in "
                 f"{int(self.detected.sum())}/{self.num_frames} frames (the rest interpolated, confidence 0)",
                 f"model: {self.model}", "time per stage:", format_timings(self.timings)]
        if self.reprojection_median is not None:
            lines.insert(2, f"reprojection error: median {self.reprojection_median:.1f}% of the person's 2D "
                            f"size (3D projected by the best-fitting weak-perspective camera vs the 2D, "
                            f"{int(np.isfinite(self.reprojection).sum())} detected frames)")
        if self.trajectory is not None:
            root = self.trajectory.root
            lines.insert(2, f"trajectory: the pelvis at a depth of {root[:, 2].min():.1f}-{root[:, 2].max():.1f} m "
                            f"(a {self.trajectory.focal_mm:.0f} mm-equivalent lens and an average-sized person "
                            "assumed; --focal-mm sets the lens)")
        if self.sides_swapped is not None and self.sides_swapped.any():
            legs, arms = self.sides_swapped.sum(axis=0)
            lines.insert(1, f"left/right labels swapped back in {legs} frames (legs) and {arms} (arms)")
        if self.files:
            folder = Path(next(iter(self.files.values()))).parent
            lines.append(f"outputs in {folder}: " + ", ".join(Path(p).name for p in self.files.values()))
        if "poses3d.html" in self.files:
            lines.append(f"3D viewer: open {self.files['poses3d.html']} in a web browser (works offline)")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------

STAGING_PREFIX = ".h2ot-partial-"


def check_out_dir(out_dir) -> Path:
    """Raise ``ValueError`` naming the output folder if it cannot be used: a path that is a file, a parent that
    is a file, a folder (or the nearest existing parent, when it is still to be made) that cannot be written.
    Creates nothing: called before any expensive work, so a run that then fails leaves no empty folder."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: exists and is not a folder")
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--out {out_dir}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out_dir}: {existing} is not writable")
    return out_dir


def prepare_out_dir(out_dir) -> Path:
    """Create the output folder (and its parents) or raise ``ValueError`` naming it (see
    :func:`check_out_dir`). Staging folders left by a run that was killed (their process is gone) are
    removed."""
    out_dir = check_out_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--out {out_dir}: cannot create the folder ({err.strerror})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out_dir}: the folder is not writable")
    for stale in out_dir.glob(STAGING_PREFIX + "*"):
        pid = stale.name[len(STAGING_PREFIX):].split("-")[0]
        if stale.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
    return out_dir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def staged_output(out_dir):
    """Yield a staging folder inside ``out_dir``; on success move its files into ``out_dir`` (replacing
    older ones, and removing the output files of an earlier run that this run did not write, so the folder
    never mixes two runs), on failure delete it. Yields ``(staging, moved)``: ``moved`` is filled with the
    final paths."""
    out_dir = prepare_out_dir(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out_dir))
    moved: dict[str, str] = {}
    try:
        yield staging, moved
        for name in OUTPUT_FILES:
            if (staging / name).exists():
                os.replace(staging / name, out_dir / name)
                moved[name] = str(out_dir / name)
            elif (out_dir / name).is_file():
                (out_dir / name).unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


BVH_ROOTS = ("path", "fixed")


def _check_outputs(out_dir, max_height, bvh_units: str, bvh_root: str = "path", focal_mm=None) -> None:
    """The output options, checked before any expensive work."""
    check_positive_int(max_height, "--height (max_height)", minimum=64)
    if bvh_units not in ("m", "cm"):
        raise ValueError(f"--bvh-units: expected m or cm, found {bvh_units!r}")
    if bvh_root not in BVH_ROOTS:
        raise ValueError(f"--bvh-root: expected {' or '.join(BVH_ROOTS)}, found {bvh_root!r}")
    if focal_mm is not None:
        check_focal_mm(focal_mm)
    if out_dir is not None:
        check_out_dir(out_dir)


def place_on_floor(poses3d: np.ndarray, foot_height: float = 0.08) -> np.ndarray:
    """Camera-axes poses ``[T, 17, 3]`` (root-relative, or in the camera frame) → the same poses moved so that
    the first frame's pelvis is above the origin and the lowest ankle is, over the clip's median, about
    ``foot_height`` above a floor at y = 0 (camera axes, y down: floor at 0, up is −y). Root-relative poses
    keep the pelvis at a constant height; a path keeps its ups and downs."""
    from h2ot.infer.viewer import floor_offset

    return poses3d - np.array([poses3d[0, 0, 0], floor_offset(poses3d, foot_height), poses3d[0, 0, 2]])


def write_outputs(result: InferenceResult, folder: Path, bvh_units: str = "m", bvh_root: str = "path") -> None:
    """Write ``poses3d.npz``, ``poses3d.json``, ``keypoints2d.npz``, ``poses3d.bvh`` and ``poses3d.html`` into
    ``folder``. ``bvh_root``: ``path`` moves the BVH's root along the trajectory (when there is one), ``fixed``
    keeps it above the origin."""
    from h2ot.infer.bvh_writer import write_bvh

    names = np.array(H36M_JOINT_NAMES)
    times = result.times if result.times is not None else np.arange(result.num_frames) / result.fps
    common = dict(joint_names=names, parents=np.array(H36M_PARENTS), fps=np.float64(result.fps),
                  image_size=np.array(result.image_size), detected=result.detected, times=times)
    reprojection = (result.reprojection if result.reprojection is not None
                    else np.full(result.num_frames, np.nan)).astype(np.float32)
    track = result.trajectory
    joints = None if track is None else track.joints  # [T, 17, 3], once
    placed = {} if track is None else dict(trajectory=track.root.astype(np.float32),
                                           joints_camera=joints.astype(np.float32),
                                           focal_mm=np.float64(track.focal_mm), trajectory_coordinates=np.array(PATH))
    np.savez(folder / "poses3d.npz", poses3d=result.poses3d.astype(np.float32), reprojection=reprojection,
             coordinates=np.array(COORDINATES), model=np.array(result.model), **placed, **common)
    np.savez(folder / "keypoints2d.npz", keypoints=result.keypoints2d.astype(np.float32),
             raw_keypoints=result.raw_keypoints.astype(np.float32),
             raw_format=np.array(result.keypoint_format), format=np.array("h36m"),
             sides_swapped=(result.sides_swapped if result.sides_swapped is not None
                            else np.zeros((result.num_frames, 2), dtype=bool)), **common)
    doc = {
        "format": "h2ot.poses3d/1",
        "source": result.source,
        "model": result.model,
        "fps": result.fps,
        "num_frames": result.num_frames,
        "image_size": list(result.image_size),
        "units": "m",
        "coordinates": COORDINATES,
        "joint_names": list(H36M_JOINT_NAMES),
        "parents": list(H36M_PARENTS),
        "reprojection_median": (None if result.reprojection_median is None
                                else round(result.reprojection_median, 3)),
        "frames": [{"frame": t, "time": round(float(times[t]), 6), "detected": bool(result.detected[t]),
                    "joints": np.round(result.poses3d[t], 5).tolist()} for t in range(result.num_frames)],
    }
    if track is not None:
        doc.update(focal_mm=round(track.focal_mm, 3), trajectory_coordinates=PATH)
        for t, frame in enumerate(doc["frames"]):
            frame.update(root=np.round(track.root[t], 5).tolist(), joints_camera=np.round(joints[t], 5).tolist())
    (folder / "poses3d.json").write_text(json.dumps(doc, separators=(",", ":")))
    moving = track is not None and bvh_root == "path"
    write_bvh(folder / "poses3d.bvh", place_on_floor(joints if moving else result.poses3d), result.fps,
              units=bvh_units)
    from h2ot.infer.viewer import write_viewer  # poses3d.html: the 3D viewer (shows demo.mp4 when it matches)

    write_viewer(folder / "poses3d.html", result.poses3d, result.keypoints2d, result.detected, result.fps,
                 result.image_size, video="demo.mp4", source=result.source, model=result.model, times=result.times,
                 joints_camera=joints)


# ----------------------------------------------------------------------------------------------
# Stages
# ----------------------------------------------------------------------------------------------

def _resolve_lifter(lifter=None, checkpoint=None, flip: bool = True, model: str | None = None,
                    threads: int | str | None = None, backend: str = "torch"):
    """The :class:`~h2ot.infer.lifting.Lifter` to use (PyTorch is imported here, not before: the video
    pipeline loads it while the detector runs)."""
    from h2ot.infer.lifting import Lifter

    if lifter is not None:
        return lifter if isinstance(lifter, Lifter) else Lifter(lifter, flip=flip, threads=threads)
    if checkpoint is not None and model is not None:
        raise ValueError(f"give a checkpoint or a shipped model, not both (--checkpoint {checkpoint}, "
                         f"--model {model})")
    if backend == "onnx":
        return Lifter.from_onnx(checkpoint, name=model, flip=flip, threads=threads)
    if checkpoint is not None:
        return Lifter.from_checkpoint(checkpoint, flip=flip, threads=threads)
    return Lifter.from_pretrained(model, flip=flip, threads=threads)


def _settings(threads: int | str | None, backend: str) -> int | None:
    """Check ``backend`` and resolve ``threads`` (``"auto"`` now, before this process starts threads of its
    own, which :func:`h2ot.threads.inference_threads` would count as other work)."""
    from h2ot.threads import inference_threads

    if backend not in ("torch", "onnx"):
        raise ValueError(f"--backend: expected torch or onnx, found {backend!r}")
    if threads is None or threads == "auto":
        return inference_threads() if threads == "auto" else None
    return check_positive_int(threads, "threads")


def _parse_person(person):
    if person is None or isinstance(person, (int, tuple, list)):
        return person
    text = str(person).strip()
    if "," in text:
        try:
            x, y = (float(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"--person expects a track number or a pixel point X,Y; found {person!r}") from None
        return (x, y)
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--person expects a track number or a pixel point X,Y; found {person!r}") from None


def _follow(detections: list[np.ndarray], person, source: str, fmt: str, sides: bool, image_size=None):
    if len(detections) < MIN_FRAMES:
        raise ValueError(f"{source}: too few frames: {len(detections)}; at least {MIN_FRAMES} are needed")
    tracks = track_people(detections, image_size=image_size)
    if not tracks:
        raise ValueError(f"{source}: no person detected in any of its {len(detections)} frames")
    index, track = select_person(tracks, _parse_person(person))
    filled, detected = fill_gaps(track)
    h36m = convert_keypoints(filled, fmt)
    swapped = np.zeros((len(h36m), 2), dtype=bool)
    if sides:
        h36m, swapped = consistent_sides(h36m)
    return index, len(tracks), track, h36m, detected, swapped


def real_timing(times: np.ndarray | None, count: int, fps: float) -> tuple[float, np.ndarray | None]:
    """``(fps, times)`` for ``count`` frames whose real timestamps are ``times`` (seconds, or None) and whose
    nominal rate is ``fps``: ``(fps, None)`` when the frames are evenly spaced at ``fps`` (within half a
    frame), else the mean rate of the real timestamps and the timestamps (a variable frame rate)."""
    if times is None or len(times) != count or count < 2 or times[-1] <= times[0]:
        return fps, None
    if np.abs(times - times[0] - np.arange(count) / fps).max() <= 0.5 / fps:
        return fps, None
    return check_fps((count - 1) / (times[-1] - times[0]), "the video's mean frame rate"), times - times[0]


def _interp_time(values: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values [T, ...]`` at times ``src`` to times ``dst`` (held at the ends)."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(dst, src, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape((len(dst),) + values.shape[1:])


def _lift(lifter, h36m: np.ndarray, image_size, fps: float, timings: dict, progress: bool,
          times: np.ndarray | None = None):
    """Lift the 2D track; with real ``times`` (a variable frame rate) through an even grid at ``fps``."""
    with Progress("lifting", len(h36m), enabled=progress) as bar:
        if times is None:
            poses = lifter.predict(h36m, image_size, fps, format="h36m")
        else:
            grid = np.arange(len(h36m)) / fps
            even = lifter.predict(_interp_time(h36m, times, grid), image_size, fps, format="h36m")
            poses = _interp_time(even, grid, times)
        bar.update(len(h36m))
    timings["lifting"] = {"frames": len(h36m), "seconds": bar.elapsed}
    return poses


def _trajectory(lifter, h36m: np.ndarray, poses: np.ndarray, image_size, fps: float, focal_mm, timings: dict,
                errors: np.ndarray):
    """Where the person is (:meth:`Lifter.trajectory`; ``errors``: the frames' reprojection errors, computed
    already), timed; None, with a warning, when no frame's pose fits its 2D in front of the camera (the options
    were checked before)."""
    start = time.perf_counter()
    try:
        track = lifter.trajectory(h36m, poses, image_size, fps, focal_mm=focal_mm, errors=errors)
    except NoTrajectoryError as error:
        log.warning("no trajectory: %s", error)
        track = None
    timings["trajectory"] = {"frames": len(poses), "seconds": time.perf_counter() - start}
    return track


def _reprojection(h36m: np.ndarray, poses: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Per-frame reprojection error (percent) of the lifted clip vs its 2D keypoints, NaN if not detected."""
    from h2ot.infer.lifting import Lifter

    values = Lifter.reprojection(h36m, poses, format="h36m")
    return np.where(detected, values, np.nan)


def _finish(result: InferenceResult, out_dir, render_frames, max_height: int, progress: bool, render: bool,
            bvh_units: str, bvh_root: str) -> InferenceResult:
    if out_dir is None:
        return result
    from h2ot.infer.render import render_video

    with staged_output(out_dir) as (staging, moved):
        start = time.perf_counter()
        write_outputs(result, staging, bvh_units=bvh_units, bvh_root=bvh_root)
        result.timings["files"] = {"frames": None, "seconds": time.perf_counter() - start}
        if render:
            with Progress("rendering", result.num_frames, enabled=progress) as bar:
                written = render_video(staging / "demo.mp4", render_frames() if render_frames else None,
                                       result.keypoints2d, result.poses3d, result.detected, result.fps,
                                       result.image_size, max_height=max_height, progress=bar)
            if written != result.num_frames:
                raise ValueError(f"rendered {written} frames, expected {result.num_frames}")
            result.timings["rendering"] = {"frames": written, "seconds": bar.elapsed}
    result.files = dict(moved)
    return result


SEGMENT_MIN_FRAMES = 150  # 5 s at 30 fps: a shorter stretch is not worth a detector of its own
SEGMENT_LEAD = 15        # frames each parallel segment starts early, to check it follows the same person


def _detect(path, info, timed, detector, workers: int, detect_max_size: int, bar, cancel) -> list[np.ndarray]:
    """Detect every frame of the video: in ``workers`` segments at once with MediaPipe detectors of their
    own (:func:`h2ot.infer.detect.detect_segments`: the same result as one pass), or in one pass with a
    given ``detector``."""
    from h2ot.infer.detect import MediaPipeDetector, detect_segments
    from h2ot.infer.video import SegmentError, iter_frames, split_frames

    scale = min(1.0, detect_max_size / max(info.width, info.height))
    dw, dh = (int(round(info.width * scale / 2)) * 2, int(round(info.height * scale / 2)) * 2)
    size = (dw, dh) if (dw, dh) != (info.width, info.height) else (None, None)
    factor = np.array([info.width / dw, info.height / dh])
    if detector is None:
        make = MediaPipeDetector
        parts = max(1, min(workers, len(timed[0]) // SEGMENT_MIN_FRAMES)) if timed is not None else 1
    else:
        make, parts = (lambda: contextlib.nullcontext(detector)), 1

    def segment(start, stop):
        return lambda: iter_frames(path, *size, start_pts=start, stop_pts=stop)

    bounds = split_frames(timed, parts, lead=SEGMENT_LEAD)
    try:
        return detect_segments(make, [segment(*b) for b in bounds], SEGMENT_LEAD, factor, bar, cancel)
    except SegmentError:  # the container cannot be cut exactly: one pass from the start
        bar.reset()
        return detect_segments(make, [segment(None, None)], 0, factor, bar, cancel)


def infer_video(path=None, out_dir=None, checkpoint=None, lifter=None, detector=None, person=None,
                flip: bool = True, render: bool = True, max_height: int = 480, detect_max_size: int = 1280,
                bvh_units: str = "m", progress: bool = False, sides: bool = True,
                model: str | None = None, threads: int | str | None = "auto",
                backend: str = "torch", focal_mm: float | None = None, bvh_root: str = "path") -> InferenceResult:
    """Estimate the 3D poses of one person in a video (default: the shipped demo clip).

    ``checkpoint`` / ``lifter`` / ``model`` (a shipped model's name) choose the model (default: the
    default pretrained one), ``backend`` runs it in PyTorch or ONNX Runtime; ``detector`` any
    :class:`h2ot.infer.detect.Detector` (default MediaPipe Pose); ``person``: ``None`` (the largest), a
    track number, or a pixel point ``(x, y)`` / ``"x,y"``. With ``out_dir`` the files are written there
    (``poses3d.npz``, ``poses3d.json``, ``keypoints2d.npz``, ``poses3d.bvh``, the viewer ``poses3d.html`` and,
    with ``render``, ``demo.mp4`` at most ``max_height`` pixels high). ``sides``: undo the detector's left/right label
    swaps (:func:`h2ot.infer.track.consistent_sides`) before lifting. ``focal_mm``: the camera's 35 mm-equivalent
    focal length for the trajectory (None: 43.27 mm, a guess); ``bvh_root``: ``path`` (the BVH's root follows
    the trajectory) or ``fixed``. ``threads``: the cores to use
    (``"auto"``: those other processes leave free; None: PyTorch's default): the default detector runs that
    many segments of the video at once. The model loads while the detector runs, and demo.mp4 is encoded
    while its next frame is drawn. Returns an :class:`InferenceResult`.
    """
    from h2ot.infer.detect import MediaPipeDetector
    from h2ot.infer.render import output_size
    from h2ot.infer.video import frame_pts, frame_times, iter_frames, probe_video
    from h2ot.threads import cores

    path = Path(path) if path is not None else demo_video_path()
    _check_outputs(out_dir, max_height, bvh_units, bvh_root, focal_mm)
    threads = _settings(threads, backend)
    info = probe_video(path)
    timed = frame_pts(path)
    timings: dict = {}
    cancel = threading.Event()
    with Progress("detection", info.num_frames or None, enabled=False) as bar, \
            ThreadPoolExecutor(1, thread_name_prefix="h2ot-detection") as pool:
        job = pool.submit(_detect, path, info, timed, detector, threads or cores(), detect_max_size, bar, cancel)
        try:  # meanwhile, here: import PyTorch and load the model
            lifter = _resolve_lifter(lifter, checkpoint, flip, model, threads, backend)
        except BaseException:  # the model's error is the one line the user sees
            cancel.set()
            raise
        if progress:
            bar.show()
        detections = job.result()
    timings["detection"] = {"frames": len(detections), "seconds": bar.elapsed}
    fmt = (detector if detector is not None else MediaPipeDetector).keypoint_format
    index, count, track, h36m, detected, swapped = _follow(detections, person, str(path), fmt, sides,
                                                           info.image_size)
    fps, times = real_timing(frame_times(path, timed) if timed is not None else None, len(h36m), info.fps)
    poses = _lift(lifter, h36m, info.image_size, fps, timings, progress, times)
    errors = _reprojection(h36m, poses, detected)
    result = InferenceResult(poses3d=poses, keypoints2d=h36m, detected=detected, fps=fps, times=times,
                             image_size=info.image_size, raw_keypoints=track, keypoint_format=fmt,
                             source=str(path), person=index, num_people=count, model=lifter.describe(),
                             timings=timings, sides_swapped=swapped, reprojection=errors,
                             trajectory=_trajectory(lifter, h36m, poses, info.image_size, fps, focal_mm, timings,
                                                    errors))
    pw, ph, _ = output_size(info.width, info.height, max_height)
    return _finish(result, out_dir, lambda: iter_frames(path, pw, ph), max_height, progress, render, bvh_units,
                   bvh_root)


def lift_file(path, fmt: str, image_size=None, fps: float | None = None, out_dir=None, checkpoint=None,
              lifter=None, person=None, flip: bool = True, render: bool = True, video=None,
              max_height: int = 480, bvh_units: str = "m", progress: bool = False,
              sides: bool = True, model: str | None = None, threads: int | str | None = "auto",
              backend: str = "torch", focal_mm: float | None = None, bvh_root: str = "path") -> InferenceResult:
    """``h2ot lift``: 3D poses from a file of 2D keypoints (see :mod:`h2ot.infer.keypoints_io`). The
    rendered video draws on ``video``'s frames when given, else on a dark canvas of ``image_size``; the
    model, ``backend``, ``threads``, ``focal_mm`` and ``bvh_root`` are as in :func:`infer_video`."""
    from h2ot.infer.keypoints_io import format_size, load_keypoints
    from h2ot.infer.render import output_size

    canonical, _ = format_size(fmt)
    _check_outputs(out_dir, max_height, bvh_units, bvh_root, focal_mm)
    threads = _settings(threads, backend)
    start = time.perf_counter()
    detections, meta = load_keypoints(path, fmt)
    image_size = image_size if image_size is not None else meta.get("image_size")
    fps = fps if fps is not None else meta.get("fps")
    if image_size is None:
        raise ValueError("--image-size W H is required: the size of the images the keypoints were detected in")
    if fps is None:
        raise ValueError("--fps N is required: the frame rate of the keypoint sequence")
    image_size, fps = check_image_size(image_size, "--image-size"), check_fps(fps, "--fps")
    frames = None
    if video is not None:
        from h2ot.infer.video import iter_frames, probe_video

        info = probe_video(video)
        pw, ph, _ = output_size(image_size[0], image_size[1], max_height)
        if info.image_size != image_size:
            raise ValueError(f"--video {video} is {info.width}x{info.height}, but --image-size is "
                             f"{image_size[0]}x{image_size[1]}")
        frames = lambda: iter_frames(video, pw, ph)  # noqa: E731
    lifter = _resolve_lifter(lifter, checkpoint, flip, model, threads, backend)
    timings = {"reading": {"frames": len(detections), "seconds": time.perf_counter() - start}}
    index, count, track, h36m, detected, swapped = _follow(detections, person, str(path), canonical, sides,
                                                           image_size)
    poses = _lift(lifter, h36m, image_size, fps, timings, progress)
    errors = _reprojection(h36m, poses, detected)
    result = InferenceResult(poses3d=poses, keypoints2d=h36m, detected=detected, fps=fps,
                             image_size=image_size, raw_keypoints=track, keypoint_format=canonical,
                             source=str(path), person=index, num_people=count, model=lifter.describe(),
                             timings=timings, sides_swapped=swapped, reprojection=errors,
                             trajectory=_trajectory(lifter, h36m, poses, image_size, fps, focal_mm, timings, errors))
    return _finish(result, out_dir, frames, max_height, progress, render, bvh_units, bvh_root)
