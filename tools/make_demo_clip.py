"""Make the demo clip shipped in the package: ``h2ot/assets/demo.mp4``.

A 3.5 s cut (1.0 s → 4.5 s, 105 frames at 30 fps) of ``../shared/data/video/sports2d_demo.mp4``
(Sports2D, BSD-3-Clause), downscaled from 1768×994 to 640×360 and re-encoded as H.264 (libx264, CRF 26,
yuv420p, no audio) with PyAV. The licence notice is copied beside it (``h2ot/assets/LICENSE.sports2d``).

    python tools/make_demo_clip.py [--src ../shared/data/video/sports2d_demo.mp4] [--out h2ot/assets]
"""
from __future__ import annotations

import argparse
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent


def make_clip(src: Path, out_dir: Path, start: float = 1.0, duration: float = 3.5, width: int = 640,
              crf: int = 26) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "demo.mp4"
    tmp = out_dir / "demo.mp4.tmp"
    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        rate = Fraction(stream.average_rate)
        height = int(round(stream.height * width / stream.width / 2)) * 2
        first = int(round(start * rate))
        count = int(round(duration * rate))
        with av.open(str(tmp), "w", format="mp4") as out:
            ostream = out.add_stream("libx264", rate=rate)
            ostream.width, ostream.height, ostream.pix_fmt = width, height, "yuv420p"
            ostream.options = {"crf": str(crf), "preset": "slow", "tune": "film"}
            written = 0
            for index, frame in enumerate(inp.decode(stream)):
                if index < first:
                    continue
                if written == count:
                    break
                image = frame.reformat(width=width, height=height, format="yuv420p",
                                       interpolation="AREA")
                image.pts, image.time_base = written, 1 / rate
                for packet in ostream.encode(image):
                    out.mux(packet)
                written += 1
            for packet in ostream.encode():
                out.mux(packet)
    os.replace(tmp, target)
    licence = src.parent / "LICENSE.sports2d"
    if licence.is_file():
        shutil.copyfile(licence, out_dir / "LICENSE.sports2d")
    print(f"{target}: {written} frames, {width}x{height} at {float(rate):g} fps, "
          f"{target.stat().st_size / 1024:.0f} KiB")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT.parent / "shared/data/video/sports2d_demo.mp4")
    parser.add_argument("--out", type=Path, default=ROOT / "h2ot/assets")
    parser.add_argument("--start", type=float, default=1.0, help="seconds")
    parser.add_argument("--duration", type=float, default=3.5, help="seconds")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--crf", type=int, default=26)
    args = parser.parse_args()
    make_clip(args.src, args.out, args.start, args.duration, args.width, args.crf)


if __name__ == "__main__":
    main()
