"""Inference building blocks without video: windows, resampling, Lifter, tracking, keypoint files, BVH."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import h2ot
from h2ot.data.skeleton import bone_lengths, flip_pose
from h2ot.infer import Lifter, lift_sequence, read_bvh_h36m, resample, write_bvh
from h2ot.infer.keypoints_io import load_keypoints
from h2ot.infer.lifting import window_starts
from h2ot.infer.track import SIDE_GROUPS, consistent_sides, fill_gaps, select_person, track_people
from tests.helpers import PerFrame, moving_rig

class WindowMean(PerFrame):
    """Every output frame = the mean input x of its window (a model whose windows disagree)."""

    def forward(self, x):
        return x[..., :1].mean(dim=1, keepdim=True).expand(-1, self.frames, -1, -1).repeat(1, 1, 1, 3)


@pytest.mark.parametrize("pipeline", ["seq2seq", "seq2frame"])
@pytest.mark.parametrize("length", [1, 5, 26, 27, 28, 100, 243])
def test_lift_sequence_covers_any_length(pipeline, length):
    x = torch.randn(length, 17, 2).numpy()
    model = PerFrame(27, pipeline)
    out = lift_sequence(model, x)
    assert out.shape == (length, 17, 3)
    np.testing.assert_allclose(out, PerFrame.f(x).numpy(), atol=1e-6)


def test_lift_sequence_flip_and_checks():
    x = torch.randn(40, 17, 2).numpy()
    model = PerFrame(27)
    flipped = (PerFrame.f(x) + flip_pose(PerFrame.f(flip_pose(torch.as_tensor(x))))) / 2
    np.testing.assert_allclose(lift_sequence(model, x, flip=True), flipped.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="input channels"):
        lift_sequence(model, np.zeros((10, 17, 3)))
    with pytest.raises(ValueError, match="NaN"):
        lift_sequence(model, np.full((10, 17, 2), np.nan))


def test_window_starts_cover_the_sequence():
    assert window_starts(20, 27, 6) == [0]
    starts = window_starts(100, 27, 6)
    assert starts[0] == 0 and starts[-1] == 73
    assert all(b - a <= 21 for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("blend", ["linear", "cosine"])
def test_overlaps_are_blended_without_jumps(blend):
    # a slow ramp in time: each window outputs its own mean, so hard cuts would jump by a window's stride
    x = np.broadcast_to(np.linspace(0, 1, 300)[:, None, None], (300, 17, 2)).copy()
    model = WindowMean(27)
    hard = lift_sequence(model, x, overlap=0)[:, 0, 0]
    soft = lift_sequence(model, x, overlap=9, blend=blend)[:, 0, 0]
    step = 1 / 299
    assert np.abs(np.diff(hard)).max() > 20 * step  # jumps at the borders without blending
    assert np.abs(np.diff(soft)).max() < 4 * step  # a cross-fade no steeper than a few frames' motion
    assert np.abs(soft - np.linspace(0, 1, 300)).max() < 0.05


def test_real_model_windows_and_seq2frame():
    torch.manual_seed(0)
    seq = h2ot.create_model("mixste", frames=27, depth=2, dim=32, num_heads=2, mlp_hidden=64)
    frame = h2ot.create_model("mixste", frames=9, depth=2, dim=32, num_heads=2, mlp_hidden=64,
                              pipeline="seq2frame")
    x = np.random.default_rng(0).normal(size=(70, 17, 2)) * 0.3
    for model in (seq, frame):
        out = lift_sequence(model, x, flip=True)
        assert out.shape == (70, 17, 3) and np.isfinite(out).all()


def test_resample_roundtrip():
    t = np.arange(31) / 30
    values = np.sin(2 * np.pi * t)[:, None]
    up = resample(values, 30, 50)
    assert len(up) == 51
    np.testing.assert_allclose(up[:, 0], np.sin(2 * np.pi * np.arange(51) / 50), atol=0.01)
    back = resample(up, 50, 30, num_out=31)
    np.testing.assert_allclose(back, values, atol=0.01)
    assert resample(values, 30, 30).shape == values.shape


def test_lifter_predict_follows_the_model():
    model = PerFrame(27, in_channels=3)
    model.fps = 25  # the model's own rate is used for resampling
    lifter = Lifter(model, flip=False)
    assert lifter.fps == 25
    kp = np.zeros((30, 17, 3))
    kp[..., 0], kp[..., 1], kp[..., 2] = 500.0, 250.0, 1.0
    kp[10:14] = np.nan  # a gap: interpolated
    out = lifter.predict(kp, image_size=(1000, 500), fps=30)
    assert out.shape == (30, 17, 3) and np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], 0)  # root-relative
    with pytest.raises(ValueError, match="too few frames"):
        lifter.predict(kp[:2], (1000, 500), 30)
    with pytest.raises(ValueError, match="fps"):
        lifter.predict(kp, (1000, 500), 0)


def test_from_pretrained_is_clear_until_a_model_ships():
    try:
        lifter = Lifter.from_pretrained()
    except ValueError as error:  # no weights shipped yet: a message that says what to do instead
        assert "--checkpoint" in str(error)
    else:
        assert lifter.frames > 0 and lifter.fps > 0 and not lifter.model.training


def test_from_checkpoint(tmp_path):
    model = h2ot.create_model("mixste", frames=27, depth=2, dim=32, num_heads=2, mlp_hidden=64)
    path = tmp_path / "m.pt"
    torch.save({"model_name": model.model_name, "model_kwargs": model.model_kwargs,
                "state_dict": model.state_dict(), "fps": 30}, path)
    lifter = Lifter.from_checkpoint(path)
    assert lifter.fps == 30 and lifter.frames == 27
    with pytest.raises(FileNotFoundError):
        Lifter.from_checkpoint(tmp_path / "missing.pt")


# ----------------------------------------------------------------------------------------------
# Tracking
# ----------------------------------------------------------------------------------------------

def person_at(x, y, height, k=17):
    pts = np.zeros((k, 3))
    pts[:, 0] = x + np.linspace(-0.2, 0.2, k) * height
    pts[:, 1] = y + np.linspace(-0.5, 0.5, k) * height
    pts[:, 2] = 0.9
    return pts


def test_tracks_follow_people_and_pick_the_largest():
    detections = []
    for t in range(40):
        people = [person_at(100 + 2 * t, 300, 100)]
        if 10 <= t < 30:
            people.append(person_at(600 - 3 * t, 320, 250))
        detections.append(np.stack(people[::-1] if t % 2 else people))
    tracks = track_people(detections)
    assert len(tracks) == 2
    index, big = select_person(tracks)
    assert index == 0 and (~np.isnan(big[:, 0, 0])).sum() == 20  # the larger person, seen 20 frames
    _, small = select_person(tracks, (100, 300))
    assert (~np.isnan(small[:, 0, 0])).sum() == 40
    with pytest.raises(ValueError, match="only 2"):
        select_person(tracks, 5)
    filled, detected = fill_gaps(big)
    assert detected.sum() == 20 and np.isfinite(filled).all()
    assert (filled[~detected, :, 2] == 0).all() and (filled[detected, :, 2] > 0).all()


def test_a_single_person_detector_switching_people_is_split():
    detections = [person_at(100, 300, 100)[None] for _ in range(20)]
    detections += [np.zeros((0, 17, 3))] * 3 + [person_at(900, 500, 120)[None] for _ in range(10)]
    tracks = track_people(detections)
    assert len(tracks) == 2 and (~np.isnan(tracks[0][:, 0, 0])).sum() == 20
    assert track_people([np.zeros((0, 17, 3))] * 5) == []
    with pytest.raises(ValueError, match="no person"):
        select_person([])


def walking_track(fps: float = 25.0, azimuth: float = 90.0) -> np.ndarray:
    """A real CMU walk (07_05) seen by one camera: exact Human3.6M-17 pixels ``[T, 17, 2]``."""
    from h2ot.data.mocap import _camera_at, H36M_LIKE_INTRINSICS, load_bvh_h36m, render_2d
    from tests.test_data_mocap import CMU

    if not (CMU / "daz" / "07_05.bvh").is_file():
        pytest.skip(f"CMU BVH data not found at {CMU}")
    clip = load_bvh_h36m(CMU / "daz" / "07_05.bvh", fps=fps)
    centre = clip.positions[:, 0, :2].mean(axis=0)
    camera = _camera_at(centre, azimuth, 7.0, 1.6, H36M_LIKE_INTRINSICS, 1.0, "side")
    return render_2d(clip.positions, camera)


def swap(track, frames, group):
    out = track.copy()
    right, left = SIDE_GROUPS[group]
    out[np.ix_(frames, list(right + left))] = track[np.ix_(frames, list(left + right))]
    return out


def test_consistent_sides_undoes_detector_swaps():
    track = walking_track()
    assert len(track) > 100
    fixed, swapped = consistent_sides(track)
    np.testing.assert_array_equal(fixed, track)  # a clean walk, legs crossing, is left alone
    assert not swapped.any()
    dirty = swap(swap(swap(track, np.arange(20, 26), "legs"), np.arange(45, 48), "legs"), np.arange(45, 48), "arms")
    dirty = swap(dirty, np.arange(70, 81), "arms")
    fixed, swapped = consistent_sides(dirty)
    np.testing.assert_array_equal(fixed, track)
    assert swapped[:, 0].sum() == 9 and swapped[:, 1].sum() == 14
    mirrored = swap(swap(track, np.arange(len(track)), "legs"), np.arange(len(track)), "arms")
    np.testing.assert_array_equal(consistent_sides(mirrored)[0], mirrored)  # a labelling held throughout stays
    with_conf = np.concatenate([dirty, np.linspace(0, 1, len(dirty) * 17).reshape(-1, 17, 1)], axis=-1)
    fixed, _ = consistent_sides(with_conf)
    assert fixed[22, 1, 2] == with_conf[22, 4, 2]  # the confidence travels with its joint
    with pytest.raises(ValueError, match=r"\[T, 17, C\]"):
        consistent_sides(np.zeros((10, 16, 2)))
    with pytest.raises(ValueError, match="without gaps"):
        consistent_sides(np.full((10, 17, 2), np.nan))


# ----------------------------------------------------------------------------------------------
# Keypoint files
# ----------------------------------------------------------------------------------------------

def coco_results(frames=12, k=17):
    out = []
    for t in range(frames):
        for x, h in ((200 + t, 120), (500, 300)):
            out.append({"image_id": f"{t:06d}.jpg", "category_id": 1, "score": 0.9,
                        "keypoints": person_at(x, 400, h, k).ravel().tolist()})
    return out


def test_coco_and_halpe_json(tmp_path):
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco_results()))
    frames, meta = load_keypoints(path, "coco")
    assert len(frames) == 12 and frames[0].shape == (2, 17, 3) and meta == {}
    with pytest.raises(ValueError, match="51 values.*'halpe' expects 26"):
        load_keypoints(path, "halpe")
    with pytest.raises(ValueError, match="OpenPose"):
        load_keypoints(path, "openpose")
    halpe = tmp_path / "alphapose-results.json"
    halpe.write_text(json.dumps(coco_results(k=26)))
    frames, _ = load_keypoints(halpe, "halpe")
    assert frames[3].shape == (2, 26, 3)
    dataset = {"images": [{"id": 7, "file_name": "b.jpg"}, {"id": 3, "file_name": "a.jpg"}],
               "annotations": [{"image_id": 7, "keypoints": [1.0] * 51}]}
    path.write_text(json.dumps(dataset))
    frames, _ = load_keypoints(path, "coco")
    assert len(frames) == 2 and len(frames[0]) == 0 and len(frames[1]) == 1


def test_openpose_folder_and_arrays(tmp_path):
    folder = tmp_path / "openpose"
    folder.mkdir()
    for t in range(5):
        people = [{"pose_keypoints_2d": person_at(300, 300, 200, 25).ravel().tolist()}] if t != 2 else []
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    frames, _ = load_keypoints(folder, "openpose")
    assert [len(f) for f in frames] == [1, 1, 0, 1, 1]
    with pytest.raises(ValueError, match="folder"):
        load_keypoints(folder, "coco")
    (folder / "clip_000000000009_keypoints.json").write_text(json.dumps([{"keypoints": [0] * 51}]))
    with pytest.raises(ValueError, match="not an OpenPose file"):
        load_keypoints(folder, "openpose")
    array = np.random.default_rng(0).uniform(0, 500, size=(8, 33, 3))
    np.save(tmp_path / "kp.npy", array)
    frames, _ = load_keypoints(tmp_path / "kp.npy", "mediapipe")
    assert len(frames) == 8 and frames[0].shape == (1, 33, 3)
    with pytest.raises(ValueError, match="33 keypoints per person.*'coco' expects 17"):
        load_keypoints(tmp_path / "kp.npy", "coco")
    np.savez(tmp_path / "kp.npz", keypoints=array[:, :17], image_size=np.array([640, 480]), fps=np.float64(25))
    frames, meta = load_keypoints(tmp_path / "kp.npz", "h36m")
    assert meta == {"image_size": [640, 480], "fps": 25.0}
    with pytest.raises(FileNotFoundError):
        load_keypoints(tmp_path / "nope.json", "coco")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON"):
        load_keypoints(tmp_path / "bad.json", "coco")


# ----------------------------------------------------------------------------------------------
# BVH
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("units, scale", [("m", 1.0), ("cm", 100.0)])
def test_bvh_reproduces_a_known_rig(tmp_path, units, scale):
    from h2ot.data.bvh import read_bvh

    pos = moving_rig()
    path = write_bvh(tmp_path / "rig.bvh", pos, fps=30, units=units)
    back = read_bvh_h36m(path) / scale
    assert np.abs(back - pos).max() < 1e-4  # 0.1 mm
    bvh = read_bvh(path)
    assert abs(bvh.fps - 30) < 1e-3 and bvh.num_frames == 60 and bvh.names[0] == "Hips"
    text = path.read_text()
    assert text.startswith("HIERARCHY\nROOT Hips") and text.count("End Site") == 5
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    # Y-up: the head is above the pelvis in the file's axes
    up = read_bvh_h36m(path, axes="bvh")
    assert (up[:, 10, 1] > up[:, 0, 1]).all()


def test_bvh_with_varying_bone_lengths_is_close(tmp_path):
    pos = moving_rig(stretch=0.02)
    back = read_bvh_h36m(write_bvh(tmp_path / "s.bvh", pos, fps=50))
    assert np.abs(back - pos).max() < 0.06  # within the accumulated ±2 % length deviation
    np.testing.assert_allclose(bone_lengths(back).std(axis=0), 0, atol=1e-5)  # rigid in BVH
    with pytest.raises(ValueError, match="NaN"):
        write_bvh(tmp_path / "n.bvh", np.full((3, 17, 3), np.nan), fps=30)
