import argparse
import os
from pathlib import Path

import numpy as np
import pytest

from h2ot.cli import data as commands
from h2ot.data.mocap import (CMU_TEST_SUBJECTS, NOISE_MODELS, add_detector_noise, add_video_detector_noise,
                             bone_stats, build_mocap_dataset, folder_licence,
                             format_bone_stats, h36m_bone_lengths, h36m_like_cameras, render_2d,
                             resample)
from h2ot.data.sequences import _load_npz, load_vp3d
from h2ot.config import CHOICES
from h2ot.data.skeleton import H36M_LEFT, H36M_RIGHT, bone_lengths, derive_torso

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CMU = SHARED / "cmu"
needs_cmu = pytest.mark.skipif(not (CMU / "daz" / "09_03.bvh").is_file(),
                               reason=f"CMU BVH data not found at {CMU} (see the README, 'Data and evaluation')")


def test_resample_linear():
    x = np.arange(13, dtype=float)[:, None] * 2.0  # 120 fps, value = 2 * frame
    y = resample(x, 120, 50)
    assert y.shape == (6, 1)  # 0.1 s → frames at 0, 0.02, …, 0.1
    np.testing.assert_allclose(y[:, 0], 2.0 * np.arange(6) * 120 / 50)
    np.testing.assert_allclose(resample(x, 50, 50), x)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0, 50)


def test_virtual_cameras_and_noise():
    rng = np.random.default_rng(0)
    pose = np.zeros((10, 17, 3))
    pose[..., 2] = np.linspace(0.1, 1.7, 17)
    cams = h36m_like_cameras([0.0, 0.0])
    assert len(cams) == 4
    for cam in cams:
        z = cam.world_to_camera(pose)[..., 2]
        assert np.all((z > 4.5) & (z < 5.6))
        assert 1.45 < cam.translation[2] < 1.65
        px = render_2d(pose, cam)
        assert np.all((px > 0) & (px < 1000))
    noisy = add_detector_noise(render_2d(pose, cams[0]), rng, outlier_rate=0.0)
    assert noisy.shape == (10, 17, 3)
    assert np.all((noisy[..., 2] > 0) & (noisy[..., 2] <= 0.95))
    err = np.linalg.norm(noisy[..., :2] - render_2d(pose, cams[0]), axis=-1)
    assert 0 < err.mean() < 10  # pixels
    wild = add_detector_noise(render_2d(pose, cams[0]), rng, outlier_rate=1.0)
    assert wild[..., 2].mean() < noisy[..., 2].mean()



def _standing(frames: int) -> np.ndarray:
    """A person standing still, 2D pixels ``[T, 17, 2]``, 400 px tall."""
    rest = np.array([[0, 0], [-26, 0], [-26, 90], [-26, 180], [26, 0], [26, 90], [26, 180], [0, -46],
                     [0, -98], [0, -120], [0, -144], [30, -90], [40, -36], [44, 14], [-30, -90], [-40, -36],
                     [-44, 14]], dtype=float) * 400 / 324 + 500
    return np.repeat(rest[None], frames, axis=0)


def _jitter(xy: np.ndarray) -> np.ndarray:
    """Per frame: mean over joints of the second difference, percent of the 2D height (as detector_match)."""
    height = np.ptp(xy[..., 1], axis=1)[1:-1, None]
    return 100 * (np.linalg.norm(xy[1:-1] - (xy[:-2] + xy[2:]) / 2, axis=-1) / height).mean(axis=1)


def test_video_detector_noise_derives_the_torso_from_noisy_joints():
    pixels = _standing(243)
    noisy = add_video_detector_noise(pixels, np.random.default_rng(0))
    assert noisy.shape == (243, 17, 3) and np.isfinite(noisy).all()
    np.testing.assert_allclose(noisy, derive_torso(noisy))  # pelvis, spine, thorax (and their confidence)
    assert np.all((noisy[..., 2] >= 0) & (noisy[..., 2] <= 0.95))
    error = np.linalg.norm(noisy[..., :2] - pixels, axis=-1)
    assert error[:, [1, 4, 11, 14]].mean() < error[:, [3, 6, 13, 16]].mean()  # ankles, wrists are noisier
    np.testing.assert_allclose(add_video_detector_noise(pixels, np.random.default_rng(0)), noisy)  # seeded
    quiet = add_video_detector_noise(pixels, np.random.default_rng(0), jitter=0.0, drift=0.0, burst_rate=0.0)
    np.testing.assert_allclose(quiet[..., :2], derive_torso(pixels))
    assert quiet[..., 2].min() >= 0.95 * 0.9


def test_video_detector_noise_is_smooth_between_video_frames_and_bursts_are_swaps_or_jumps():
    pixels = _standing(500)
    rng = np.random.default_rng(1)
    # the white jitter is drawn per video frame (24-60 fps) and interpolated to 50 fps: a 50 fps series of
    # independent draws would have a median jitter of about 1.5 jitter; interpolation lowers it on average
    jitter = np.median([np.median(_jitter(add_video_detector_noise(pixels, rng, jitter=0.01, drift=0.0,
                                                                    burst_rate=0.0)[..., :2]))
                        for _ in range(20)])
    assert 0.3 < jitter < 1.5
    detected = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]  # the joints a detector reports, not derived
    swap = np.arange(17)
    swap[list(H36M_LEFT)], swap[list(H36M_RIGHT)] = H36M_RIGHT, H36M_LEFT
    swaps = add_video_detector_noise(pixels, rng, jitter=0.0, drift=0.0, burst_rate=1.0, outlier_scale=0.0)
    own = np.linalg.norm(swaps[:, detected, :2] - pixels[:, detected], axis=-1) < 1e-9
    other = np.linalg.norm(swaps[:, detected, :2] - pixels[:, swap[detected]], axis=-1) < 1e-9
    assert np.all(own | other) and other.mean() > 0.5  # a burst puts a joint at its counterpart's place
    lost = add_video_detector_noise(pixels, rng, jitter=0.0, drift=0.0, burst_rate=1.0, outlier_scale=0.3)
    nearest = np.minimum(np.linalg.norm(lost[:, detected, :2] - pixels[:, detected], axis=-1),
                         np.linalg.norm(lost[:, detected, :2] - pixels[:, swap[detected]], axis=-1))
    assert (nearest > 0.05 * 400).mean() > 0.8  # ... or moves it away
    assert lost[..., 2].mean() < 0.2  # bad points get low confidence
    assert set(NOISE_MODELS) == set(CHOICES["data.view_noise_model"])

@needs_cmu
def test_build_load_and_cli(tmp_path):
    src = tmp_path / "bvh"
    src.mkdir()
    for name in ("09_03.bvh", "12_01.bvh"):  # links, nothing copied
        os.symlink(CMU / "daz" / name, src / name)
    out = tmp_path / "cmu.npz"
    summary = build_mocap_dataset(src, out, fps=50, cameras=2, noise=True, seed=1,
                                  test_subjects=("S09",))
    assert summary["clips"] == 2 and summary["cameras_per_subject"] == 2
    npz = _load_npz(out, ())  # written without pickles
    assert {"positions_3d", "positions_2d", "metadata", "cameras"} <= set(npz)
    meta = npz["metadata"]
    assert meta["subjects_test"] == ["S09"] and meta["keypoints_symmetry"][0] == [4, 5, 6, 11, 12, 13]
    views = npz["positions_2d"]["S09"]["09_03"]
    assert len(views) == 2 and views[0].shape[1:] == (17, 3)
    seqs = load_vp3d(out, subjects=["S12"])
    assert len(seqs) == 2 and all(s.subject == "S12" for s in seqs)
    assert np.all(seqs[0].positions[..., 2] > 2.0)  # camera frame, metres
    assert np.abs(seqs[0].keypoints[..., :2]).max() < 1.5
    stats = bone_stats([s.positions for s in seqs])
    assert 0.9 < stats["shin"]["ratio"] < 1.1
    assert "| shin | 454 |" in format_bone_stats(stats)

    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    out2 = tmp_path / "cli.npz"
    args = parser.parse_args(["data", "mocap", "--src", str(src), "--out", str(out2), "--no-noise",
                              "--cameras", "h36m", "--seed", "3"])
    assert args.func(args) == 0
    assert _load_npz(out2, ())["positions_2d"]["S12"]["12_01"][0].shape[-1] == 2
    args = parser.parse_args(["data", "bones", "--data", str(out2)])
    assert args.func(args) == 0
    one = build_mocap_dataset(CMU / "daz" / "12_01.bvh", tmp_path / "one.npz", cameras=1, seed=1)  # one clip
    assert one["clips"] == 1 and folder_licence(CMU / "daz" / "12_01.bvh") == folder_licence(CMU / "daz")
    args = parser.parse_args(["data", "mocap", "--src", str(tmp_path / "nope"), "--out", str(out2)])
    with pytest.raises((ValueError, FileNotFoundError), match="nope"):
        args.func(args)  # the h2ot command line turns it into one line and exit code 2


def test_cmu_split_is_fixed():
    assert CMU_TEST_SUBJECTS == ("S02", "S09", "S10", "S12")


def test_human36m_bone_lengths_and_jitter():
    exact = h36m_bone_lengths()
    assert exact[0] == pytest.approx(0.133) and exact[1] == pytest.approx(0.442)
    rng = np.random.default_rng(0)
    people = np.stack([h36m_bone_lengths(rng, 0.1) for _ in range(200)])
    ratio = people / exact
    assert ratio.min() > 0.9 * 0.95 - 1e-9 and ratio.max() < 1.1 * 1.05 + 1e-9
    assert 0.05 < ratio.std() < 0.1  # people differ
    # bone k has child joint k + 1: left and right bones are equal in every person
    np.testing.assert_array_equal(people[:, [j - 1 for j in H36M_LEFT]], people[:, [j - 1 for j in H36M_RIGHT]])


@needs_cmu
def test_build_retargeted_to_human36m_bones(tmp_path):
    src = tmp_path / "bvh"
    src.mkdir()
    for name in ("09_03.bvh", "12_01.bvh"):
        os.symlink(CMU / "daz" / name, src / name)
    exact, jittered = tmp_path / "exact.npz", tmp_path / "jittered.npz"
    build_mocap_dataset(src, exact, cameras=1, seed=1, bones="h36m")
    build_mocap_dataset(src, jittered, cameras=1, seed=1, bones="h36m", bone_jitter=0.1)
    recorded = build_mocap_dataset(src, tmp_path / "recorded.npz", cameras=1, seed=1)
    assert recorded["bone_stats"]["pelvis->hip"]["ratio"] < 0.8  # the Daz rig's narrow hips
    for seq in load_vp3d(exact):
        np.testing.assert_allclose(bone_lengths(seq.positions),
                                   np.broadcast_to(h36m_bone_lengths(), (len(seq.positions), 16)), atol=1e-5)
    people = [bone_lengths(s.positions)[0] for s in load_vp3d(jittered)]
    assert not np.allclose(people[0], people[1], atol=1e-3)
    assert all(0.8 < person[0] / 0.133 < 1.2 for person in people)
    meta = _load_npz(jittered, ())["metadata"]
    assert meta["bones"] == "h36m" and meta["bone_jitter"] == 0.1
    with pytest.raises(ValueError, match="bones must be 'recorded' or 'h36m'"):
        build_mocap_dataset(src, exact, bones="daz")
