"""Real-video training data: sources and their split and licences, wide virtual cameras, detector-style
torso joints, and the framing-invariant input of ``input_norm="window"`` models."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from h2ot import create_model
from h2ot.data.camera import normalize_screen
from h2ot.data.mocap import (SOURCES, build_mocap_dataset, clip_subjects, detect_preset, folder_licence,
                             load_bvh_h36m)
from h2ot.data.sequences import _load_npz, load_vp3d
from h2ot.data.skeleton import derive_torso
from h2ot.data.views import (ViewRange, VirtualViewWindows, load_world_clips, look_at_frame, pinhole, render_view,
                             sample_view)
from h2ot.infer.lifting import Lifter

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs = {name: pytest.mark.skipif(not (DATA / name).is_dir(), reason=f"../shared/data/{name} not present")
         for name in ("cmu", "bandai", "reactidle")}


def _walk(frames=243):
    """A synthetic person walking 2 m along x, world metres, Z up."""
    t = np.linspace(0, 1, frames)[:, None]
    rest = np.array([[0, 0, 1.0], [-.13, 0, 1], [-.13, 0, .55], [-.13, 0, .1], [.13, 0, 1], [.13, 0, .55],
                     [.13, 0, .1], [0, 0, 1.23], [0, 0, 1.49], [0, -.05, 1.6], [0, 0, 1.72], [.15, 0, 1.45],
                     [.2, 0, 1.18], [.22, 0, .93], [-.15, 0, 1.45], [-.2, 0, 1.18], [-.22, 0, .93]])
    pose = np.repeat(rest[None], frames, axis=0)
    pose[:, [3, 13], 1] += 0.2 * np.sin(6 * t)  # a swinging foot and hand
    pose[:, :, 0] += 2 * t
    return pose


def test_sample_view_covers_the_range():
    rng = np.random.default_rng(0)
    walk = _walk()
    ranges = ViewRange()
    portrait = distances = 0
    fractions, elevations = [], []
    for _ in range(300):
        cam = sample_view(rng, walk, ranges)
        position = np.asarray(cam.translation)
        d = np.linalg.norm(position - walk.reshape(-1, 3).mean(0))
        distances += ranges.distance[0] - 1e-6 <= d
        cam3d = cam.world_to_camera(walk)
        assert cam3d[..., 2].min() > 0.3  # the whole window in front of the camera
        pix = pinhole(cam3d, cam)
        fractions.append(np.ptp(pix[..., 1], axis=1).mean() / cam.res_h)
        elevations.append(np.degrees(np.arcsin((position[2] - walk[..., 2].mean()) / d)))
        portrait += cam.res_h > cam.res_w
    assert distances == 300 and 90 < portrait < 210
    assert min(fractions) < 0.15 and max(fractions) > 0.3
    assert min(elevations) < -5 and max(elevations) > 35 and max(elevations) <= 50.01


def test_render_view_derives_the_torso_like_a_detector():
    rng = np.random.default_rng(1)
    walk = derive_torso(_walk(27))
    cam = sample_view(rng, walk)
    kp, cam3d = render_view(walk, cam, noise=False)
    assert kp.shape == (27, 17, 3) and np.all(kp[..., 2] == 1)
    xy = kp[..., :2]
    np.testing.assert_allclose(xy[:, 0], (xy[:, 1] + xy[:, 4]) / 2, atol=1e-9)   # pelvis = mid-hips in 2D
    np.testing.assert_allclose(xy[:, 8], (xy[:, 11] + xy[:, 14]) / 2, atol=1e-9)  # thorax = mid-shoulders
    np.testing.assert_allclose(cam3d[:, 0], (cam3d[:, 1] + cam3d[:, 4]) / 2, atol=1e-9)
    expected = normalize_screen(pinhole(cam3d, cam)[:, 3], cam.res_w, cam.res_h)
    np.testing.assert_allclose(xy[:, 3], expected, atol=1e-9)


def test_look_at_frame_turns_the_camera_to_the_person():
    centre = np.array([1.0, -0.5, 4.0])
    points = np.random.default_rng(0).normal(size=(5, 3))
    turned = look_at_frame(points, centre)
    np.testing.assert_allclose(look_at_frame(centre, centre), [0, 0, np.linalg.norm(centre)], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(turned, axis=-1), np.linalg.norm(points, axis=-1))  # a rotation
    np.testing.assert_allclose(look_at_frame(points, np.array([0, 0, 3.0])), points)  # centred: the camera frame


def test_virtual_view_windows_items_and_determinism():
    clips = [_walk(300), _walk(60)]
    ds = VirtualViewWindows(clips, frames=81, stride=[40, 27], bone_jitter=0.1)
    # every 40 frames + the window ending on the last frame; the short clip: one edge-padded window
    assert len(ds) == len(range(0, 300 - 81 + 1, 40)) + 1 + 1
    torch.manual_seed(3)
    a = ds[0]
    torch.manual_seed(3)
    b = ds[0]
    assert torch.equal(a["input"], b["input"]) and torch.equal(a["target"], b["target"])
    assert a["input"].shape == (81, 17, 2) and a["target"].shape == (81, 17, 3)
    assert torch.all(a["target"][:, 0] == 0)
    short = ds[len(ds) - 1]
    assert int(short["padded"].sum()) == 81 - 60 and torch.equal(short["mask"], ~short["padded"])
    with pytest.raises(ValueError, match="stride"):
        VirtualViewWindows(clips, frames=81, stride=[40])


def test_window_normalisation_makes_ten_framings_give_the_same_3d():
    """One clip seen through ten framings — portrait and landscape frames of different sizes, the person
    small or filling the frame, anywhere in it — lifts to the same 3D (within 1e-4 m) with a model that
    normalises its windows; a model that takes the screen coordinates as given does not."""
    torch.manual_seed(0)
    pose = _walk(60)
    cam = sample_view(np.random.default_rng(2), pose)
    pixels = pinhole(cam.world_to_camera(pose), cam)
    rng = np.random.default_rng(4)
    framings = []
    for size in [(1920, 1080), (1080, 1920), (640, 480), (720, 1280), (3840, 2160), (1000, 1000), (480, 854),
                 (1280, 720), (2160, 3840), (800, 600)]:
        span = np.ptp(pixels.reshape(-1, 2), axis=0)
        scale = rng.uniform(0.1, 0.95) * size[1] / span[1]  # the person 10-95 % of the frame height
        placed = (pixels - pixels.reshape(-1, 2).mean(0)) * scale
        placed += np.array(size) * rng.uniform(0.2, 0.8, 2)
        framings.append((placed, size))
    for norm, same in (("window", True), (None, False)):
        model = create_model("mixste", frames=27, depth=2, dim=32, num_heads=4, mlp_hidden=64, input_norm=norm,
                             schedule="1:9", pruning="sampler", recovery="interpolation")
        lifter = Lifter(model.eval(), fps=50, flip=True)
        outs = [lifter.predict(kp, image_size=size, fps=50) for kp, size in framings]
        spread = max(float(np.abs(o - outs[0]).max()) for o in outs)
        assert (spread < 1e-4) == same, (norm, spread)


def test_window_normalised_model_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    from h2ot.export import export_onnx, OnnxModel

    model = create_model("mixste", frames=27, depth=2, dim=32, num_heads=4, mlp_hidden=64, input_norm="window",
                         schedule="1:9", pruning="sampler", recovery="interpolation").eval()
    path = export_onnx(model, tmp_path / "m.onnx")["path"]
    x = torch.randn(1, 27, 17, 2) * 300 + 500  # pixels: the exported graph normalises them itself
    np.testing.assert_allclose(OnnxModel(path)(x).numpy(), model(x).detach().numpy(), atol=1e-4)


def test_input_norm_is_checked_and_recorded():
    with pytest.raises(ValueError, match="input_norm"):
        create_model("mixste", frames=27, depth=2, dim=16, num_heads=2, mlp_hidden=32, input_norm="screen")
    plain = create_model("mixste", frames=27, depth=2, dim=16, num_heads=2, mlp_hidden=32)
    normed = create_model("mixste", frames=27, depth=2, dim=16, num_heads=2, mlp_hidden=32, input_norm="window")
    assert "input_norm" not in plain.model_kwargs and normed.model_kwargs["input_norm"] == "window"


def test_unknown_rig_names_the_joints_it_lacks():
    with pytest.raises(ValueError, match=r"closest, 'bandai', needs joints it lacks: .*Hand_L.*presets: daz"):
        detect_preset(["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "UpperArm_L", "LowerArm_L",
                       "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L", "LowerLeg_L", "Foot_L",
                       "UpperLeg_R", "LowerLeg_R", "Foot_R"])


@needs["bandai"]
@needs["reactidle"]
def test_sources_split_licences_and_free_only(tmp_path):
    bandai = tmp_path / "bandai" / "data"
    bandai.mkdir(parents=True)
    os.symlink(DATA / "bandai" / "dataset-1" / "LICENSE", tmp_path / "bandai" / "LICENSE")
    names = sorted(p.name for p in (DATA / "bandai" / "dataset-1" / "data").glob("*walk_*.bvh.gz"))[:10]
    for name in names:
        os.symlink(DATA / "bandai" / "dataset-1" / "data" / name, bandai / name)
    idle = tmp_path / "reactidle"
    idle.mkdir()
    os.symlink(DATA / "reactidle" / "LICENSE.txt", idle / "LICENSE.txt")
    for name in ("002_acted.bvh.gz", "003_acted.bvh.gz"):
        os.symlink(DATA / "reactidle" / "acted" / name, idle / name)
    assert folder_licence(tmp_path / "bandai") == "non-commercial" and folder_licence(idle) == "open"
    with pytest.raises(ValueError, match="bandai: its licence is non-commercial"):
        build_mocap_dataset([idle, tmp_path / "bandai"], tmp_path / "x.npz", free_only=True)

    out = tmp_path / "all.npz"
    summary = build_mocap_dataset([idle, tmp_path / "bandai"], out, cameras="wide:2", joints="detector",
                                  bones="h36m", bone_jitter=0.1, train_2d=False, seed=3)
    meta = summary["metadata"]
    assert meta["noncommercial"] and meta["sources"] == ["bandai", "reactidle"]
    assert SOURCES["reactidle"].test_people == ("002", "010")
    assert meta["subjects_test"] == ["B1-test", "R002"] and meta["subjects_train"] == ["B1", "R003"]
    positions_2d = _load_npz(out, ())["positions_2d"]  # written without pickles
    assert set(positions_2d) == {"B1-test", "R002"}  # 2D for the test subjects only
    tests = load_vp3d(out, subjects=meta["subjects_test"])
    assert len(tests) == 2 * 2 and all(np.all(s.positions[..., 2] > 0) for s in tests)
    clips = load_world_clips(out, meta["subjects_train"])
    assert [s for s, _ in clips].count("B1") == 9 and [s for s, _ in clips].count("R003") == 1
    clip = clips[0][1]
    np.testing.assert_allclose(clip[:, 0], (clip[:, 1] + clip[:, 4]) / 2, atol=1e-5)  # detector-style pelvis


@needs["bandai"]
@needs["reactidle"]
def test_rig_presets_read_bandai_and_reactidle():
    for path, preset, units in ((DATA / "bandai/dataset-2/data/dataset-2_walk_normal_001.bvh.gz", "bandai", "cm"),
                                (DATA / "reactidle/genuine/000_genuine.bvh.gz", "reactidle", "m")):
        clip = load_bvh_h36m(path)
        assert clip.preset == preset and clip.units == units and clip.fps == 50
        lengths = np.linalg.norm(clip.positions[:, 2] - clip.positions[:, 1], axis=-1)  # right thigh
        assert 0.28 < np.median(lengths) < 0.5
        # standing upright, Z up: the head is above the pelvis, the ankles below it
        assert np.median(clip.positions[:, 10, 2] - clip.positions[:, 0, 2]) > 0.4
        assert np.median(clip.positions[:, 0, 2] - clip.positions[:, 3, 2]) > 0.5
    subjects, test = clip_subjects([clip])
    assert subjects == ["R000"] and not test


@needs["cmu"]
def test_build_refuses_duplicates_and_wide_views_of_rig_joints(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        os.symlink(DATA / "cmu" / "daz" / "09_03.bvh", tmp_path / sub / "09_03.bvh")
    with pytest.raises(ValueError, match="already read from"):
        build_mocap_dataset(tmp_path, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="--joints detector"):
        build_mocap_dataset(tmp_path / "a", tmp_path / "x.npz", cameras="wide:1")
    # CMU documents a licence that allows any use; a folder of unknown origin must say so
    summary = build_mocap_dataset(tmp_path / "a", tmp_path / "x.npz", free_only=True)
    assert list(summary["metadata"]["licences"].values()) == ["open"]


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    from h2ot.data.bvh import read_bvh

    bad = tmp_path / "bad.bvh.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage that is not deflate")
    with pytest.raises(ValueError, match="bad.bvh.gz: cannot decompress"):
        read_bvh(bad)
