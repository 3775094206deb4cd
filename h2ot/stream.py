"""Online lifting: one frame of 2D keypoints in, 3D poses out with a bounded delay.

``OnlineLifter`` keeps the last ``F`` frames in a ring buffer. To output frame ``s`` it runs the model on
the window whose output position ``p`` is frame ``s``: a seq2seq model takes ``p = F - 1 - lookahead``
(all but ``lookahead`` of the window lies in the past), a seq2frame model outputs its centre
``p = (F - 1) // 2`` and frames beyond the newest are filled with the newest (edge padding). Frames before
the start of the stream are filled with the first frame. The delay is ``lookahead`` frames (0 = causal);
a seq2seq model can also run only every ``hop`` frames and emit ``hop`` poses from one forward pass,
dividing the cost per frame by ``hop`` at ``hop - 1`` frames of extra delay.

A frame with missing joints (NaN) or no detection at all (``None``) does not stop the stream: the missing
joints take their last seen position (confidence 0 for a 3-channel model) and the frame is flagged. A joint
not seen yet (the stream starts without it) takes its first seen position once it appears, in every
buffered frame, as frames before the stream take the first frame.

Given the image size (and, better, the camera's focal length), the stream also says where the person is: each
pose comes with the pelvis in the camera frame and the joints in the camera frame, placed from the frames up to
it and its look-ahead (the window's answers for the frames after it) as the offline trajectory would place it in
a clip that ended there (:class:`h2ot.infer.trajectory.OnlinePlacement`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from h2ot.infer.trajectory import OnlinePlacement, looks_at
from h2ot.pretrained import model_fps
from h2ot.threads import use_threads


@dataclass
class StreamPose:
    frame: int          # index of the frame in the stream
    pose: np.ndarray    # [J, 3] root-relative metres (the model's axes: the look-at frame for the shipped models)
    flagged: bool       # the input frame had missing joints (filled from earlier frames)
    root: np.ndarray | None = None           # [3] the pelvis in the camera frame (metres; NaN before a place)
    joints_camera: np.ndarray | None = None  # [J, 3] every joint in the camera frame (metres)


class OnlineLifter:
    """Feed frames with :meth:`push`, collect the poses it returns, call :meth:`flush` at the end.

    ``image_size`` ``(w, h)`` of the video: each pose also carries ``root`` and ``joints_camera`` (where the
    person is, see the module docstring); ``focal_mm``: the camera's 35 mm-equivalent focal length (None:
    43.27 mm, a guess); ``fps``: the stream's frame rate (None: the model's); ``placement``: other settings of
    :class:`h2ot.infer.trajectory.OnlinePlacement` (``smooth_s``, ``distance_smooth_s``, ``reliable_pct``)."""

    def __init__(self, model, lookahead: int = 0, hop: int = 1, device: str | torch.device = "cpu",
                 threads: int | str | None = None, image_size=None, focal_mm: float | None = None,
                 fps: float | None = None, **placement):
        self.model = model.eval() if hasattr(model, "eval") else model
        self.frames, self.joints, self.channels = model.frames, model.num_joints, model.in_channels
        for name, value in (("lookahead", lookahead), ("hop", hop)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be a whole number of frames, found {value!r}")
        seq2seq = model.pipeline == "seq2seq"
        max_lookahead = self.frames - 1 if seq2seq else (self.frames - 1) - (self.frames - 1) // 2
        if not 0 <= lookahead <= max_lookahead:
            raise ValueError(f"lookahead must lie in 0..{max_lookahead} for a {self.frames}-frame "
                             f"{model.pipeline} model, found {lookahead}")
        if hop < 1 or (not seq2seq and hop != 1) or (seq2seq and hop > self.frames - lookahead):
            limit = self.frames - lookahead if seq2seq else 1
            raise ValueError(f"hop must lie in 1..{limit} for this {model.pipeline} model, found {hop}")
        self.lookahead, self.hop, self.device = lookahead, hop, torch.device(device)
        self.threads = use_threads(threads, rows=getattr(model, "row_parallel", False))  # h2ot.threads
        self.position = self.frames - 1 - lookahead if seq2seq else (self.frames - 1) // 2
        self.ring = torch.zeros(self.frames, self.joints, self.channels)
        self.flags: list[bool] = []
        self.received = 0   # frames pushed so far
        self.emitted = 0    # poses returned so far
        self.last = None    # last filled frame, [J, C]
        self.seen = torch.zeros(self.joints, dtype=torch.bool)  # joints seen at least once
        self.missing = torch.zeros(self.frames, self.joints, dtype=torch.bool)  # per buffered frame: filled joints
        unknown = sorted(set(placement) - set(OnlinePlacement.SETTINGS))
        if unknown:
            raise ValueError(f"unknown placement setting(s) {unknown}; expected some of "
                             f"{list(OnlinePlacement.SETTINGS)}")
        if image_size is None and (focal_mm is not None or fps is not None or placement):
            raise ValueError("focal_mm, fps and the placement settings need image_size (the video's width and height)")
        if image_size is not None and self.joints != 17:
            raise ValueError(f"placing the person needs a Human3.6M-17 model, found {self.joints} joints")
        self.placement = None if image_size is None else OnlinePlacement(
            image_size, model_fps(model) if fps is None else fps, focal_mm, **placement)
        self.looks_at = looks_at(model)

    @property
    def delay(self) -> int:
        """Frames between a frame's arrival and its pose at worst (``lookahead + hop - 1``)."""
        return self.lookahead + self.hop - 1

    def push(self, keypoints) -> list[StreamPose]:
        """Add one frame ``[J, C]`` (normalised screen coordinates, the model's channels) or ``None``.

        Returns the poses that became ready (possibly none).
        """
        frame, missing = self._fill(keypoints)
        flagged = bool(missing.any())
        self.ring[self.received % self.frames] = frame
        self.missing[self.received % self.frames] = missing
        self.flags.append(flagged)
        self.received += 1
        ready = self.received - 1 - self.lookahead  # the newest frame whose future is complete
        if ready - self.emitted + 1 >= self.hop:
            return self._emit(ready)
        return []

    def flush(self) -> list[StreamPose]:
        """Poses of the frames still waiting for their look-ahead (the future is the newest frame)."""
        return self._emit(self.received - 1) if self.emitted < self.received else []

    def _fill(self, keypoints) -> tuple[torch.Tensor, torch.Tensor]:
        if keypoints is None:
            frame = torch.full((self.joints, self.channels), float("nan"))
        else:
            frame = torch.as_tensor(np.asarray(keypoints, dtype=np.float32))
            if frame.shape != (self.joints, self.channels):
                raise ValueError(f"expected one frame of keypoints [{self.joints}, {self.channels}], "
                                 f"found {tuple(frame.shape)}")
            frame = frame.clone()
        missing = ~torch.isfinite(frame).all(dim=1)
        if missing.any():
            present = frame[~missing]
            guess = present.mean(dim=0) if len(present) else torch.zeros(self.channels)  # until first seen
            frame[missing] = torch.where(self.seen[missing, None], self.last[missing], guess) \
                if self.last is not None else guess
            if self.channels == 3:
                frame[missing, 2] = 0.0
        new = ~missing & ~self.seen
        if new.any():  # first sight of these joints: they stood there in the buffered frames too
            self.ring[:, new, :2] = frame[new, :2]  # (a confidence channel keeps its 0 there)
            self.seen |= new
        self.last = frame
        return frame, missing

    @torch.inference_mode()
    def _emit(self, last: int) -> list[StreamPose]:
        """Run the model for the frames ``emitted .. last`` (at most ``hop`` or the window per pass)."""
        out: list[StreamPose] = []
        while self.emitted <= last:
            target = min(last, self.emitted + self.hop - 1)
            count = target - self.emitted + 1
            start = target - self.position
            stream_index = (start + torch.arange(self.frames)).clamp(0, self.received - 1)
            window = self.ring[stream_index % self.frames]
            poses = self.model(window[None].to(self.device))[0].cpu().numpy()
            rows = range(self.position - count + 1, self.position + 1) if poses.shape[0] > 1 else [0]
            turned_to = self.placement.direction(window.numpy()) if self.placement and self.looks_at else None
            for frame, row in zip(range(self.emitted, target + 1), rows):
                pose = StreamPose(frame, poses[row], self.flags[frame])
                out.append(self._placed(pose, poses, row, turned_to) if self.placement else pose)
            self.emitted = target + 1
        return out

    def _placed(self, pose: StreamPose, poses: np.ndarray, row: int, turned_to) -> StreamPose:
        """``pose`` (row ``row`` of the window's answer ``poses``) with where the person is, placed with the
        look-ahead frames the window answered too (a seq2seq model's rows after ``row``, frames received)."""
        last = min(row + self.placement.ahead, len(poses) - 1, row + self.received - 1 - pose.frame)
        slots = (pose.frame + np.arange(last - row + 1)) % self.frames
        keypoints = self.ring[slots].numpy()
        seen = keypoints[..., 2] if self.channels == 3 else np.ones(keypoints.shape[:2])
        seen = seen * ~self.missing[slots].numpy()
        pose.root, camera_pose = self.placement.place(poses[row:last + 1], keypoints, seen, turned_to)
        pose.joints_camera = camera_pose + pose.root
        return pose
