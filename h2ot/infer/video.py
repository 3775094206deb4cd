"""Video decoding and encoding with PyAV (``pip install -e ".[video]"``).

Frames are RGB ``uint8`` arrays ``[H, W, 3]``. Decoding streams (nothing holds the whole video in
memory); every error a user can cause (missing file, not a video, a codec the bundled FFmpeg cannot
decode) raises ``FileNotFoundError`` / ``ValueError`` with the path and the reason.
"""
from __future__ import annotations

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


def frame_times(path) -> np.ndarray | None:
    """Presentation time of every frame in seconds from the first (from the packets' timestamps, without
    decoding), or None when the stream does not time its packets. A variable-frame-rate video (a phone's)
    is timed by these, not by its nominal rate."""
    with _open(path) as container:
        stream = container.streams.video[0]
        pts = [packet.pts for packet in container.demux(stream) if packet.size]
    if not pts or any(p is None for p in pts) or stream.time_base is None:
        return None
    pts = np.sort(np.array(pts, dtype=np.float64))
    return (pts - pts[0]) * float(stream.time_base)


def iter_frames(path, width: int | None = None, height: int | None = None) -> Iterator[np.ndarray]:
    """Decode a video to RGB frames ``[H, W, 3]`` uint8, optionally rescaled (FFmpeg's swscale)."""
    av = require_av()
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
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
    """

    def __init__(self, path, fps, width: int, height: int, crf: int = 23):
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
        self.count = 0
        self._av = av

    def write(self, image: np.ndarray, tick: int | None = None) -> None:
        """Add one frame, shown at ``tick / fps`` seconds (default: one tick after the previous frame)."""
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        if tick is None:
            tick = self.tick + 1 if self.count else 0
        self.tick = tick
        frame.pts, frame.time_base = self.tick, 1 / self.rate
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.count += 1

    def close(self) -> None:
        if self.container is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
            self.container = None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()
        elif self.container is not None:
            self.container.close()
            self.container = None
