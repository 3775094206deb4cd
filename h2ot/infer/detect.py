"""2D keypoint detectors.

A detector is anything with a ``keypoint_format`` (a format :func:`h2ot.data.skeleton.convert_keypoints`
knows: ``coco``, ``halpe``, ``body25``, ``blazepose``, ``h36m``) and a ``detect(frame)`` method that maps
one RGB frame ``[H, W, 3]`` uint8 to the people it sees, ``[N, K, 3]`` (x, y in pixels of that frame,
confidence in [0, 1]; ``N = 0`` when nobody is there). Frames are fed in time order, so a detector may
track. :func:`detect_video` runs one over a video and :mod:`h2ot.infer.track` links the detections into
people ``[T, K, 3]``. Plug in another detector by passing an object with these two members.

:class:`MediaPipeDetector` wraps MediaPipe Pose (BlazePose-33, ``mediapipe==0.10.21``,
``model_complexity=1``, whose weights ship inside the wheel: nothing is downloaded). MediaPipe Pose
finds **one** person per frame and then tracks that person from frame to frame; it re-detects only when
it loses them, and may then pick someone else.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Callable, ContextManager, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Detector(Protocol):
    keypoint_format: str

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """RGB frame ``[H, W, 3]`` uint8 → ``[N, K, 3]`` (pixels, confidence)."""
        ...


class MediaPipeDetector:
    """MediaPipe Pose (BlazePose full, ``model_complexity=1``) in video (tracking) mode."""

    keypoint_format = "blazepose"
    num_keypoints = 33

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 smooth: bool = True):
        os.environ.setdefault("GLOG_minloglevel", "2")  # silence MediaPipe's C++ logging
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError:
            raise ImportError('the video demo needs MediaPipe: pip install -e ".[video]" '
                              '(mediapipe==0.10.21)') from None
        # model_complexity=1 is the model inside the wheel; 0 and 2 would be downloaded, so never use them.
        self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=smooth,
                                  enable_segmentation=False,
                                  min_detection_confidence=min_detection_confidence,
                                  min_tracking_confidence=min_tracking_confidence)

    def detect(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        result = self._pose.process(np.ascontiguousarray(frame))
        if result.pose_landmarks is None:
            return np.zeros((0, self.num_keypoints, 3))
        points = np.array([(lm.x * w, lm.y * h, lm.visibility) for lm in result.pose_landmarks.landmark])
        points[:, 2] = np.clip(points[:, 2], 0.0, 1.0)
        return points[None]

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _detect(detector: Detector, frame: np.ndarray, scale) -> np.ndarray:
    people = np.asarray(detector.detect(frame), dtype=np.float64).copy()
    people[..., :2] *= scale
    return people


def detect_video(detector: Detector, frames: Iterable[np.ndarray], scale: float = 1.0,
                 progress=None, cancel: threading.Event | None = None) -> list[np.ndarray]:
    """Run ``detector`` on every frame; returns one ``[N, K, 3]`` array per frame. Pixel coordinates are
    multiplied by ``scale`` (detection on a downscaled copy → original pixels). Stops early, returning
    what it has, once ``cancel`` is set."""
    out = []
    for frame in frames:
        if cancel is not None and cancel.is_set():
            break
        out.append(_detect(detector, frame, scale))
        if progress is not None:
            progress.update()
    return out


def same_people(a: np.ndarray, b: np.ndarray, tolerance: float = 0.1) -> bool:
    """Whether two detections ``[N, K, 3]`` of one frame found the same people: as many, and each of ``a``
    within ``tolerance`` × its height (mean distance of the keypoints both see) of one of ``b``."""
    if len(a) != len(b):
        return False
    for person in a:
        seen = np.isfinite(person[:, :2]).all(axis=-1) & (np.nan_to_num(person[:, 2]) > 0.5)
        if seen.sum() < 3:
            seen = np.isfinite(person[:, :2]).all(axis=-1)
        height = max(float(np.ptp(person[seen, :2], axis=0).max()) if seen.any() else 0.0, 1.0)
        distances = [np.nanmean(np.linalg.norm(person[seen, :2] - other[seen, :2], axis=-1)) for other in b]
        if not distances or not np.nanmin(distances) <= tolerance * height:
            return False
    return True


def detect_segments(make_detector: Callable[[], ContextManager[Detector]],
                    segments: Sequence[Callable[[], Iterable[np.ndarray]]], lead: int = 0, scale: float = 1.0,
                    progress=None, cancel: threading.Event | None = None, check: int = 5) -> list[np.ndarray]:
    """Detect consecutive segments of one video at the same time, each in a thread with a detector of its
    own (``make_detector()``, a context manager that yields one), and return what one pass over the whole
    video finds: the detections of every frame, in order.

    A tracking detector (MediaPipe) that starts in the middle of a video may follow someone else than one
    that came from the start. So every segment after the first starts ``lead`` frames early (its callable
    yields them first), and its detections are used only from where they find the same people
    (:func:`same_people`) as the detector that came from the start, on ``check`` frames in a row: on the
    last frames of the lead when they agree there; otherwise that detector goes on through the segment
    until they agree (as one pass would), and the segment's own detections are used from there. MediaPipe
    computes without Python's lock, so two segments on two free cores take about half the time of one pass
    when they agree. The first error in any segment stops the others and is raised."""
    cancel = cancel if cancel is not None else threading.Event()

    def run(detector, segment) -> list[np.ndarray]:
        try:
            return detect_video(detector, segment(), scale, progress, cancel)
        except BaseException:
            cancel.set()
            raise

    with contextlib.ExitStack() as stack:
        detectors = [stack.enter_context(make_detector()) for _ in segments]
        with ThreadPoolExecutor(len(segments), thread_name_prefix="h2ot-detect") as pool:
            futures = [pool.submit(run, detector, segment) for detector, segment in zip(detectors, segments)]
            wait(futures, return_when=FIRST_EXCEPTION)
            results = [future.result() for future in futures]
        out, current = results[0], detectors[0]
        for detector, segment, found in zip(detectors[1:], segments[1:], results[1:]):
            if cancel.is_set():
                break
            overlap = found[max(0, lead - check):lead]
            if len(found) >= lead and all(map(same_people, out[len(out) - len(overlap):], overlap)):
                out, current = out + found[lead:], detector
                continue
            agree = 0  # the detector from the start goes on until the segment's own one agrees with it
            for i, frame in enumerate(itertools.islice(segment(), lead, None)):
                out.append(_detect(current, frame, scale))
                own = found[lead + i] if lead + i < len(found) else None
                agree = agree + 1 if own is not None and same_people(out[-1], own) else 0
                if agree == check:
                    out, current = out + found[lead + i + 1:], detector
                    break
        return out
