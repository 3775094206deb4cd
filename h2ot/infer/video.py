"""Video decoding and encoding with PyAV (``pip install -e ".[video]"``).

Frames are RGB ``uint8`` arrays ``[H, W, 3]``. Decoding streams (nothing holds the whole video in
memory); every error a user can cause (missing file, not a video, a codec the bundled FFmpeg cannot
decode) raises ``FileNotFoundError`` / ``ValueError`` with the path and the reason.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np


def require_av():
    try:
        import av
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError('video input/output needs PyAV: pip install -e ".[video]"') from None
    return av


@dataclass
class VideoInfo:
    """What a video is: ``fps`` (exact rational as ``rate``), ``width``, ``height``, ``num_frames``
    (the container's count, ``0`` when unknown; decoding gives the true count), ``codec``."""

    path: str
    width: int
    height: int
    rate: Fraction
    num_frames: int
    codec: str

    @property
    def fps(self) -> float:
        return float(self.rate)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.width, self.height


def _open(path):
    av = require_av()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise ValueError(f"{path}: cannot read this file as a video ({error})") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path}: the file has no video stream")
    return container


def probe_video(path) -> VideoInfo:
    """Read a video's header: size, frame rate, frame count, codec."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        ctx = stream.codec_context
        if ctx is None or not ctx.width or not ctx.height:
            raise ValueError(f"{path}: the video stream has no frame size (codec "
                             f"{getattr(ctx, 'name', '?')!r} unsupported by PyAV's FFmpeg?)")
        if not rate or float(rate) <= 0:
            raise ValueError(f"{path}: the video stream has no frame rate")
        return VideoInfo(str(path), int(ctx.width), int(ctx.height), Fraction(rate), int(stream.frames or 0),
                         ctx.name)


def frame_pts(path) -> tuple[np.ndarray, Fraction] | None:
    """Every frame's presentation timestamp (sorted, in the stream's ``time_base`` units) and the time base,
    from the packets (no decoding); None when the stream does not time its packets."""
    with _open(path) as container:
        stream = container.streams.video[0]
        pts = [packet.pts for packet in container.demux(stream) if packet.size]
        base = stream.time_base
    if not pts or any(p is None for p in pts) or base is None:
        return None
    return np.sort(np.array(pts, dtype=np.int64)), Fraction(base)


def frame_times(path, timed: tuple[np.ndarray, Fraction] | None = None) -> np.ndarray | None:
    """Presentation time of every frame in seconds from the first (from the packets' timestamps, without
    decoding; ``timed``: :func:`frame_pts`'s result when already read), or None when the stream does not
    time its packets. A variable-frame-rate video (a phone's) is timed by these, not by its nominal rate."""
    timed = frame_pts(path) if timed is None else timed
    if timed is None:
        return None
    pts, base = timed
    return (pts - pts[0]).astype(np.float64) * float(base)


def split_frames(timed: tuple[np.ndarray, Fraction] | None, parts: int,
                 lead: int = 0) -> list[tuple[int | None, int | None]]:
    """``parts`` consecutive segments of about equal frame counts, as ``(start_pts, stop_pts)`` bounds for
    :func:`iter_frames` (None: from the first frame / to the last), from :func:`frame_pts`'s result; every
    segment after the first starts ``lead`` frames early. One segment ``(None, None)`` when the frames are
    not timed, or not by distinct timestamps."""
    if timed is None or parts < 2 or np.any(np.diff(timed[0]) <= 0):
        return [(None, None)]
    pts = timed[0]
    starts = [round(k * len(pts) / parts) for k in range(1, parts)]
    return list(zip([None] + [int(pts[max(0, i - lead)]) for i in starts], [int(pts[i]) for i in starts] + [None]))


class SegmentError(RuntimeError):
    """A segment of a video could not be decoded on its own (a frame without a timestamp, or a seek that
    landed past the segment's start): decode the video from its start instead."""


def iter_frames(path, width: int | None = None, height: int | None = None, start_pts: int | None = None,
                stop_pts: int | None = None) -> Iterator[np.ndarray]:
    """Decode a video to RGB frames ``[H, W, 3]`` uint8, optionally rescaled (FFmpeg's swscale).

    ``start_pts`` / ``stop_pts`` (timestamps from :func:`frame_pts`) decode only the frames with
    ``start_pts <= pts < stop_pts``, seeking to the keyframe before ``start_pts``; raises
    :class:`SegmentError` when that cannot be done exactly."""
    av = require_av()
    container = _open(path)
    segment = start_pts is not None or stop_pts is not None
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start_pts is not None:
            container.seek(int(start_pts), stream=stream, backward=True, any_frame=False)
        first = True
        try:
            for frame in container.decode(stream):
                if segment:
                    if frame.pts is None:
                        raise SegmentError(f"{path}: a frame has no timestamp")
                    if first and start_pts is not None and frame.pts > start_pts:
                        raise SegmentError(f"{path}: seeking to {start_pts} landed at {frame.pts}")
                    first = False
                    if start_pts is not None and frame.pts < start_pts:
                        continue
                    if stop_pts is not None and frame.pts >= stop_pts:
                        break
                yield frame.to_ndarray(format="rgb24", width=width, height=height)
        except av.FFmpegError as error:
            codec = getattr(stream.codec_context, "name", "?")
            raise ValueError(f"{path}: cannot decode the video (codec {codec!r}): {error}") from None
    finally:
        container.close()


class VideoWriter:
    """Encode RGB frames to an H.264 MP4 (``libx264`` when PyAV's FFmpeg has it, else ``mpeg4``).

    ``with VideoWriter(path, fps=rate, width=w, height=h) as out: out.write(frame)``. Width and height
    must be even (yuv420p). One output frame per ``write``, shown at ``tick / fps`` seconds: by default
    the next tick, so timestamps are ``i / fps`` and the frame count and rate equal the input's.
    With ``background`` the frames are encoded in a thread of their own (FFmpeg works without Python's
    lock), so the caller draws the next frame meanwhile; an encoding error is raised by the next ``write``
    or by ``close``.
    """

    def __init__(self, path, fps, width: int, height: int, crf: int = 23, background: bool = False):
        av = require_av()
        if width % 2 or height % 2:
            raise ValueError(f"the output size must be even, got {width}x{height}")
        self.path = str(path)
        self.rate = Fraction(fps).limit_denominator(1001000) if not isinstance(fps, Fraction) else fps
        self.container = av.open(self.path, "w", format="mp4")
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self.stream = self.container.add_stream(codec, rate=self.rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        else:
            self.stream.bit_rate = 4_000_000
        self.count, self.tick = 0, -1
        self._av = av
        self._queue: queue.Queue | None = None
        self._error: BaseException | None = None
        if background:
            self._queue = queue.Queue(maxsize=8)
            self._thread = threading.Thread(target=self._drain, name="h2ot-encoder", daemon=True)
            self._thread.start()

    def write(self, image: np.ndarray, tick: int | None = None) -> None:
        """Add one frame, shown at ``tick / fps`` seconds (default: one tick after the previous frame)."""
        tick = self.tick + 1 if tick is None else tick
        if self._queue is None:
            self._encode(np.ascontiguousarray(image), tick)
        else:
            self._raise_error()
            self._queue.put((np.ascontiguousarray(image), tick))
        self.tick, self.count = tick, self.count + 1

    def _encode(self, image, tick) -> None:
        frame = self._av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = tick, 1 / self.rate
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:  # after an error keep taking frames so that the writer never blocks
                try:
                    self._encode(*item)
                except BaseException as error:  # noqa: BLE001 - handed to the writing thread
                    self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _stop(self) -> None:
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = None

    def close(self) -> None:
        if self.container is None:
            return
        self._stop()
        try:
            self._raise_error()
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()
            self.container = None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()
        elif self.container is not None:
            self._stop()
            self.container.close()
            self.container = None
