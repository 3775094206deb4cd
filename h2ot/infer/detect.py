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

import os
from typing import Iterable, Protocol, runtime_checkable

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


def detect_video(detector: Detector, frames: Iterable[np.ndarray], scale: float = 1.0,
                 progress=None) -> list[np.ndarray]:
    """Run ``detector`` on every frame; returns one ``[N, K, 3]`` array per frame. Pixel coordinates are
    multiplied by ``scale`` (detection on a downscaled copy → original pixels)."""
    out = []
    for frame in frames:
        people = np.asarray(detector.detect(frame), dtype=np.float64).copy()
        people[..., :2] *= scale
        out.append(people)
        if progress is not None:
            progress.update()
    return out
