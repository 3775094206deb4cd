"""Inference on real data: video → 2D keypoints → one person → 3D poses → files and a rendered video.

``Lifter`` (model + preprocessing, ``predict``), ``lift_sequence`` (windows over any length),
``infer_video`` / ``lift_file`` (the ``h2ot demo`` / ``h2ot lift`` pipelines), ``write_bvh``. The video
parts need the optional extra ``pip install -e ".[video]"`` (PyAV, matplotlib, MediaPipe); they are
imported only when used.
"""
from h2ot.data.mocap import resample
from h2ot.infer.bvh_writer import read_bvh_h36m, write_bvh
from h2ot.infer.lifting import Lifter, lift_sequence
from h2ot.infer.pipeline import InferenceResult, demo_video_path, infer_video, lift_file

__all__ = ["InferenceResult", "Lifter", "demo_video_path", "infer_video", "lift_file", "lift_sequence",
           "read_bvh_h36m", "resample", "write_bvh"]
