"""The video pipeline on a real clip (the shipped 3.5 s demo cut): ``h2ot demo`` and ``h2ot lift``
end to end, the files they write, human proportions, the rendered video, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("av", reason='PyAV is not installed: pip install -e ".[video]"')
pytest.importorskip("matplotlib", reason='matplotlib is not installed: pip install -e ".[video]"')
pytest.importorskip("mediapipe", reason='MediaPipe is not installed: pip install -e ".[video]"')

import h2ot  # noqa: E402
from h2ot.data.skeleton import H36M_JOINT_NAMES, bone_lengths, convert_keypoints  # noqa: E402
from h2ot.infer import Lifter, demo_video_path, infer_video, lift_file, read_bvh_h36m  # noqa: E402
from h2ot.infer.track import fill_gaps  # noqa: E402
from h2ot.infer.video import VideoWriter, iter_frames, probe_video  # noqa: E402
from tests.helpers import PerFrame, rig_pose  # noqa: E402

FRAMES = 105  # the shipped demo cut: 3.5 s at 30 fps
# plausible human bone lengths (m): pelvis->hip, thigh, shin, pelvis->spine, spine->thorax, thorax->nose,
# nose->head, thorax->shoulder, upper arm, forearm (Human3.6M means about 0.13 .. 0.45)
PLAUSIBLE = {"r_hip": (0.06, 0.22), "r_knee": (0.28, 0.60), "r_ankle": (0.28, 0.60), "spine": (0.12, 0.40),
             "thorax": (0.12, 0.40), "neck": (0.05, 0.25), "head": (0.05, 0.25), "l_shoulder": (0.08, 0.25),
             "l_elbow": (0.18, 0.40), "l_wrist": (0.15, 0.38)}


def run_cli(argv: list[str]) -> int:
    """``h2ot …`` through the real command line."""
    from h2ot import cli

    try:
        return cli.main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return exit_.code


class Rig(PerFrame):
    """A lifting model that outputs a known human rig (Human3.6M proportions) for every frame."""

    def forward(self, x):
        pose = torch.as_tensor(rig_pose(), dtype=x.dtype)
        return pose.expand(x.shape[0], self.frames, 17, 3) + 0 * x[..., :1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("infer_video")


@pytest.fixture(scope="module")
def clip():
    return demo_video_path()


@pytest.fixture(scope="module")
def checkpoint(workdir):
    torch.manual_seed(0)
    model = h2ot.create_model("mixste", frames=27, depth=2, dim=32, num_heads=2, mlp_hidden=64)
    path = workdir / "small.pt"
    torch.save({"model_name": model.model_name, "model_kwargs": model.model_kwargs,
                "state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def demo_out(workdir, clip, checkpoint):
    out = workdir / "demo"
    # no VIDEO: the shipped demo clip
    assert run_cli(["demo", "--out", str(out), "--checkpoint", str(checkpoint), "--quiet"]) == 0
    return out


def test_shipped_clip_and_licence():
    info = probe_video(demo_video_path())
    assert info.codec == "h264" and info.width == 640 and info.fps == 30
    assert demo_video_path().stat().st_size < 600_000
    assert "BSD" in (demo_video_path().parent / "LICENSE.sports2d").read_text()


def test_demo_writes_every_output(demo_out):
    assert sorted(p.name for p in demo_out.iterdir()) == sorted(
        ["demo.mp4", "keypoints2d.npz", "poses3d.bvh", "poses3d.html", "poses3d.json", "poses3d.npz"])
    with np.load(demo_out / "poses3d.npz") as npz:
        poses = npz["poses3d"]
        assert poses.shape == (FRAMES, 17, 3) and np.isfinite(poses).all()
        np.testing.assert_allclose(poses[:, 0], 0, atol=1e-6)  # root-relative
        assert list(npz["joint_names"]) == list(H36M_JOINT_NAMES) and float(npz["fps"]) == 30
    doc = json.loads((demo_out / "poses3d.json").read_text())
    assert doc["joint_names"] == list(H36M_JOINT_NAMES) and doc["units"] == "m" and doc["num_frames"] == FRAMES
    assert len(doc["frames"]) == FRAMES and np.array(doc["frames"][5]["joints"]).shape == (17, 3)
    np.testing.assert_allclose(np.array(doc["frames"][5]["joints"]), poses[5], atol=1e-4)
    bvh = read_bvh_h36m(demo_out / "poses3d.bvh")
    assert bvh.shape == (FRAMES, 17, 3)


def test_detector_follows_the_man_on_the_box(demo_out):
    with np.load(demo_out / "keypoints2d.npz") as npz:
        kp, detected = npz["keypoints"], npz["detected"]
        assert kp.shape == (FRAMES, 17, 3) and list(npz["image_size"]) == [640, 360]
        assert str(npz["raw_format"]) == "blazepose" and npz["raw_keypoints"].shape == (FRAMES, 33, 3)
    assert detected.mean() > 0.8
    with np.load(demo_out / "poses3d.npz") as npz:
        assert (npz["detected"] == detected).all()
    assert (kp[~detected, :, 2] == 0).all()  # interpolated frames are flagged
    seen = kp[detected]
    # the man stands on the box in the upper left part of the frame, about 100-150 px tall
    assert 170 < np.median(seen[:, 0, 0]) < 300 and np.median(seen[:, 0, 1]) < 180
    height = np.median(seen[:, [3, 6], 1].max(axis=1) - seen[:, 10, 1])
    assert 70 < height < 220


def test_left_right_swaps_of_the_backlit_man_are_undone(demo_out):
    """MediaPipe flips the man's left and right labels back and forth while he jumps against the sun: the
    signed 2D width of his hips or shoulders (right minus left) jumps from clearly positive to clearly
    negative between two frames, which no real turn does at 30 fps."""
    with np.load(demo_out / "keypoints2d.npz") as npz:
        kp, raw, swapped = npz["keypoints"], npz["raw_keypoints"], npz["sides_swapped"]
    assert swapped.shape == (FRAMES, 2) and swapped.any()
    raw = fill_gaps(raw)[0]
    before = convert_keypoints(raw, "mediapipe")

    def jumps(keypoints, right, left):
        torso = np.linalg.norm(keypoints[:, 0, :2] - keypoints[:, 8, :2], axis=-1)
        width = (keypoints[:, right, 0] - keypoints[:, left, 0]) / torso
        clear = np.abs(width) > 0.15
        return int((clear[1:] & clear[:-1] & (np.sign(width[1:]) != np.sign(width[:-1]))).sum())

    assert jumps(before, 14, 11) >= 5  # shoulders
    assert jumps(kp, 14, 11) <= 1 and jumps(kp, 1, 4) <= jumps(before, 1, 4)


def test_rendered_video_has_every_frame(demo_out):
    info = probe_video(demo_out / "demo.mp4")
    assert info.fps == 30 and info.height == 360 and info.width == 640 + 360
    assert sum(1 for _ in iter_frames(demo_out / "demo.mp4")) == FRAMES


def check_proportions(lengths: np.ndarray) -> None:
    median = np.median(lengths, axis=0)
    for k, name in enumerate(H36M_JOINT_NAMES[1:]):
        if name in PLAUSIBLE:
            lo, hi = PLAUSIBLE[name]
            assert lo < median[k] < hi, (name, median[k])
    # left and right limbs agree
    np.testing.assert_allclose(median[[1, 2, 10, 11]], median[[4, 5, 13, 14]], rtol=0.35)


def test_output_pipeline_carries_a_human_rig_unchanged(demo_out, workdir):
    """Resampling, windows, flip, files and BVH carry a known human rig through unchanged."""
    out = workdir / "rig"
    result = lift_file(demo_out / "keypoints2d.npz", "h36m", out_dir=out, lifter=Lifter(Rig(27), flip=True))
    np.testing.assert_allclose(bone_lengths(result.poses3d), bone_lengths(rig_pose()[None]).repeat(FRAMES, 0),
                               atol=1e-6)
    with np.load(out / "poses3d.npz") as npz:
        lengths = bone_lengths(npz["poses3d"])
    back = bone_lengths(read_bvh_h36m(out / "poses3d.bvh"))
    np.testing.assert_allclose(back, lengths, atol=1e-3)
    assert sum(1 for _ in iter_frames(out / "demo.mp4")) == FRAMES  # drawn on a dark canvas
    check_proportions(lengths)


def test_pretrained_3d_has_human_proportions(clip):
    """The shipped model on the real clip: every median bone length within its plausible range (the README
    table "What the demo clip taught us" shows how each fix moved them)."""
    result = infer_video(clip, render=False)
    check_proportions(bone_lengths(result.poses3d[result.detected]))


def test_pretrained_proportions_hold_without_fixing_the_sides(clip):
    """Human proportions on the real clip without consistent_sides doing the work: the labels as MediaPipe
    gives them, flips and all."""
    result = infer_video(clip, render=False, sides=False)
    check_proportions(bone_lengths(result.poses3d[result.detected]))


def test_lift_with_the_onnx_backend_matches_pytorch(demo_out, checkpoint, workdir, capsys):
    pytest.importorskip("onnxruntime")
    out = workdir / "onnx"
    code = run_cli(["lift", str(demo_out / "keypoints2d.npz"), "--format", "h36m", "--out", str(out),
                    "--checkpoint", str(checkpoint), "--backend", "onnx", "--no-render", "--quiet"])
    assert code == 0 and "ONNX Runtime" in capsys.readouterr().out
    with np.load(out / "poses3d.npz") as npz, np.load(demo_out / "poses3d.npz") as ref:
        np.testing.assert_allclose(npz["poses3d"], ref["poses3d"], atol=1e-4)


def test_lift_command_from_keypoints(demo_out, checkpoint, workdir, capsys):
    out = workdir / "lifted"
    code = run_cli(["lift", str(demo_out / "keypoints2d.npz"), "--format", "h36m", "--out", str(out),
                    "--checkpoint", str(checkpoint), "--no-render", "--quiet"])
    assert code == 0 and "lifting" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["keypoints2d.npz", "poses3d.bvh", "poses3d.html",
                                                     "poses3d.json", "poses3d.npz"]
    with np.load(out / "poses3d.npz") as npz, np.load(demo_out / "poses3d.npz") as ref:
        np.testing.assert_allclose(npz["poses3d"], ref["poses3d"], atol=1e-5)  # same model, same 2D
    for fmt in ("coco", "halpe"):  # another layout than the file's: refused, the old outputs stay
        code = run_cli(["lift", str(demo_out / "keypoints2d.npz"), "--format", fmt, "--out", str(out),
                        "--checkpoint", str(checkpoint), "--quiet"])
        assert code == 2 and "pass the --format" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keypoints2d.npz", "poses3d.bvh", "poses3d.html",
                                                     "poses3d.json", "poses3d.npz"]
    with np.load(out / "keypoints2d.npz") as npz, np.load(demo_out / "keypoints2d.npz") as ref:
        assert (npz["detected"] == ref["detected"]).all()


# ----------------------------------------------------------------------------------------------
# Bad input: a clear message, exit code 2, nothing that looks complete
# ----------------------------------------------------------------------------------------------

def write_video(path: Path, frames: int, colour=(90, 120, 90)):
    with VideoWriter(path, 30, 160, 120) as out:
        for _ in range(frames):
            out.write(np.full((120, 160, 3), colour, dtype=np.uint8))
    return path


def assert_nothing_written(out: Path):
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("case, message", [
    ("missing", "not found"),
    ("garbage", "cannot read this file as a video"),
    ("truncated", "cannot read this file as a video"),
    ("audio", "no video stream"),
    ("no_person", "no person detected"),
    ("too_few", "too few frames"),
])
def test_bad_videos(case, message, tmp_path, clip, checkpoint, capsys):
    import av

    video = tmp_path / f"{case}.mp4"
    if case == "garbage":
        video.write_text("this is not a video\n" * 100)
    elif case == "truncated":
        video.write_bytes(clip.read_bytes()[:4000])
    elif case == "audio":
        video = tmp_path / "audio.wav"
        with av.open(str(video), "w") as container:
            stream = container.add_stream("pcm_s16le", rate=8000)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    elif case == "no_person":
        write_video(video, 8)
    elif case == "too_few":
        write_video(video, 2)
    out = tmp_path / "out"
    code = run_cli(["demo", str(video), "--out", str(out), "--checkpoint", str(checkpoint), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and str(video.name) in err
    assert_nothing_written(out)


def test_missing_checkpoint_and_bad_person(tmp_path, clip, checkpoint, capsys):
    assert run_cli(["demo", str(clip), "--out", str(tmp_path), "--checkpoint", str(tmp_path / "x.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert run_cli(["lift", str(tmp_path / "none.json"), "--format", "coco", "--image-size", "640", "360",
                    "--fps", "30", "--checkpoint", str(checkpoint)]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_failure_leaves_nothing_that_looks_complete(tmp_path, demo_out, checkpoint, monkeypatch):
    import h2ot.infer.render as render

    def broken(path, *args, **kwargs):
        Path(path).write_bytes(b"half a video")
        raise RuntimeError("disk full")

    monkeypatch.setattr(render, "render_video", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        lift_file(demo_out / "keypoints2d.npz", "h36m", out_dir=out, checkpoint=checkpoint)
    assert_nothing_written(out)


def test_segments_detected_at_once_find_what_one_pass_finds(clip, checkpoint, demo_out, monkeypatch):
    """The clip cut into two segments detected at the same time by two MediaPipe detectors (as a long
    video is) gives the keypoints of one pass (the demo fixture's)."""
    import h2ot.infer.pipeline as pipeline

    monkeypatch.setattr(pipeline, "SEGMENT_MIN_FRAMES", 40)
    result = infer_video(clip, checkpoint=str(checkpoint), threads=2, render=False)
    with np.load(demo_out / "keypoints2d.npz") as ref:
        assert (result.detected == ref["detected"]).all()
        np.testing.assert_allclose(result.raw_keypoints, ref["raw_keypoints"], atol=1.0)


def test_variable_frame_rate_video_is_timed_by_its_timestamps(tmp_path, clip, checkpoint):
    """A phone-style video whose frames are not evenly spaced (here 10 fps, then 30 fps): the outputs carry
    the real time of every frame and the clip's real duration, not its nominal rate's."""
    from h2ot.infer.video import frame_times

    ticks = list(range(0, 60, 3)) + list(range(60, 90))  # 1/30 s ticks: 20 frames at 10 fps, 30 at 30 fps
    path = tmp_path / "vfr.mp4"
    with VideoWriter(path, 30, 640, 360) as out:
        for tick, image in zip(ticks, iter_frames(clip, 640, 360)):
            out.write(image, tick=tick)
    real = frame_times(path)
    np.testing.assert_allclose(real, np.array(ticks) / 30, atol=1e-6)
    result = infer_video(path, out_dir=tmp_path / "out", checkpoint=str(checkpoint), render=False)
    assert result.num_frames == len(ticks)
    with np.load(tmp_path / "out" / "poses3d.npz") as npz:
        np.testing.assert_allclose(npz["times"], real, atol=1e-6)
        assert float(npz["fps"]) == pytest.approx((len(ticks) - 1) / real[-1])
    assert "variable frame rate" in result.summary()


def test_onnx_lifter_takes_the_thread_setting(checkpoint):
    """``threads`` sizes onnxruntime's pool too, not only PyTorch's (the thread policy of docs/measuring.md)."""
    pytest.importorskip("onnxruntime")
    lifter = Lifter.from_onnx(str(checkpoint), threads=1)
    assert lifter.model.session.get_session_options().intra_op_num_threads == 1
