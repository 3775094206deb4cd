"""Windows over sequences for both pipelines, as a lazy torch ``Dataset``.

- **seq2seq**: clips of F frames. Training: starts every ``stride`` frames (the last clip is moved
  back to end on the last frame, so every frame is covered); sequences shorter than F raise unless
  ``pad_short``. Test: non-overlapping clips ``[0, F), [F, 2F), …``; the last one is edge-padded
  (its missing frames repeat the last frame) and those frames are flagged ``padded``. A sequence shorter
  than F sits in the middle of its one window, edge-padded on both sides (:func:`centred_start`), as
  ``h2ot.infer.lifting`` runs it.
- **seq2frame**: one window per frame, centred on it (centre index ``(F - 1) // 2``), edge-padded at
  both sequence ends; the target is that one frame.

Only ``(sequence, start)`` pairs are stored; each item is sliced from the per-sequence arrays when
it is read, so memory stays at the size of the data itself.

Each item is a dict of tensors: ``input`` ``[F, 17, C]`` (2D, normalised, C = ``in_channels``),
``target`` ``[F|1, 17, 3]`` root-relative metres (root zeroed), ``padded`` ``[F|1]`` bool,
``mask`` ``[F|1]`` bool (a real, valid frame: not padded and not masked out by the dataset),
``frame`` ``[F|1]`` int64 frame index in the sequence, ``seq`` int64, ``flipped`` bool.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .sequences import Sequence
from .skeleton import flip_pose

PIPELINES = ("seq2seq", "seq2frame")


def centred_start(length: int, frames: int) -> int:
    """The start of the one ``frames``-frame window over a sequence of ``length < frames`` frames: the sequence
    in its middle, the frames before its start repeating its first frame and those after its end its last.
    The model then sees both sides of every real frame; a window that starts at the sequence's first frame
    (the authors' right padding) scored 1.0 mm P-MPJPE worse on HumanEva-I's Train split (most of its
    sequences are shorter than 243 frames) with the shipped model."""
    return -((frames - length) // 2)


class PoseWindows(Dataset):
    """Windows of F frames over a list of :class:`Sequence`.

    ``train``: seq2seq windows every ``stride`` frames (default F, i.e. non-overlapping) and random
    horizontal flips when ``flip_augment``; otherwise the test layout above and no random flips.
    ``in_channels``: 2 (x, y) or 3 (x, y, confidence; 1.0 when the data has none); default: the
    data's. ``include_padded_in_mask``: count padded frames as scorable (the authors' convention).
    """

    def __init__(self, sequences: list[Sequence], frames: int, pipeline: str = "seq2seq",
                 train: bool = False, stride: int | None = None, flip_augment: bool = False,
                 in_channels: int | None = None, pad_short: bool = False,
                 include_padded_in_mask: bool = False):
        if pipeline not in PIPELINES:
            raise ValueError(f"pipeline must be one of {PIPELINES}, got {pipeline!r}")
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if not sequences:
            raise ValueError("PoseWindows needs at least one sequence")
        self.sequences = list(sequences)
        self.frames = int(frames)
        self.pipeline = pipeline
        self.train = train
        self.flip_augment = flip_augment and train
        self.include_padded_in_mask = include_padded_in_mask
        channels = {s.keypoints.shape[-1] for s in self.sequences}
        self.in_channels = in_channels or max(channels)
        if self.in_channels not in (2, 3):
            raise ValueError(f"in_channels must be 2 or 3, got {self.in_channels}")
        stride = stride or self.frames
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")

        pairs = []
        for i, seq in enumerate(self.sequences):
            length = len(seq)
            if pipeline == "seq2frame":
                starts = np.arange(length) - (self.frames - 1) // 2
            elif train:
                if length < self.frames and not pad_short:
                    raise ValueError(
                        f"sequence {seq.name} has {length} frames, shorter than a {self.frames}-frame "
                        f"window; use shorter windows, drop it, or pass pad_short=True to edge-pad")
                last = max(length - self.frames, 0)
                starts = np.arange(0, last + 1, stride)
                if starts[-1] != last:
                    starts = np.append(starts, last)
            elif length < self.frames:
                starts = np.array([centred_start(length, self.frames)])
            else:
                starts = np.arange(0, length, self.frames)
            pairs.append(np.stack([np.full(len(starts), i), starts], axis=1))
        self.index = np.concatenate(pairs).astype(np.int64)  # [N, 2] (sequence, start)

    def __len__(self) -> int:
        return len(self.index)

    def window(self, item: int, flip: bool = False) -> dict:
        """Item ``item``, mirrored when ``flip`` (no randomness)."""
        seq_id, start = (int(v) for v in self.index[item])
        seq = self.sequences[seq_id]
        length = len(seq)
        wanted = np.arange(start, start + self.frames)
        frame = np.clip(wanted, 0, length - 1)
        padded = wanted != frame
        kp = seq.keypoints[frame]
        if kp.shape[-1] < self.in_channels:
            kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,), kp.dtype)], axis=-1)
        kp = kp[..., :self.in_channels]
        target = seq.positions[frame] - seq.positions[frame][:, :1]
        if self.pipeline == "seq2frame":
            centre = (self.frames - 1) // 2
            target, padded, frame = target[centre:centre + 1], padded[centre:centre + 1], frame[centre:centre + 1]
        mask = np.ones_like(padded) if self.include_padded_in_mask else ~padded
        if seq.valid is not None:
            mask = mask & seq.valid[frame]
        if flip:
            kp, target = flip_pose(kp), flip_pose(target)
        return {
            "input": torch.from_numpy(np.ascontiguousarray(kp, dtype=np.float32)),
            "target": torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)),
            "padded": torch.from_numpy(padded), "mask": torch.from_numpy(mask),
            "frame": torch.from_numpy(frame.astype(np.int64)),
            "seq": torch.tensor(seq_id), "flipped": torch.tensor(flip),
        }

    def __getitem__(self, item: int) -> dict:
        flip = self.flip_augment and bool(torch.rand(()) < 0.5)
        return self.window(item, flip=flip)


def augment_2d(x: torch.Tensor, scale: float, shift: float) -> torch.Tensor:
    """Random per-clip 2D scale about the root joint (``1 ± scale``) and shift (``± shift``) of ``x``
    ``[B, F, J, C]`` (x, y only; a confidence channel is kept). The 3D target is root-relative and unchanged,
    so the lifter learns not to read the person's size or place in the image as depth. Global torch RNG."""
    if not scale and not shift:
        return x
    b = x.shape[0]
    s = 1.0 + (torch.rand(b, 1, 1, 1) * 2 - 1) * scale
    t = (torch.rand(b, 1, 1, 2) * 2 - 1) * shift
    xy = x[..., :2]
    root = xy[:, :, :1]
    xy = (xy - root) * s + root + t
    return torch.cat([xy, x[..., 2:]], dim=-1)
