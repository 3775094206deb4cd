import numpy as np
import pytest
import torch

from h2ot.data.skeleton import (FORMAT_KEYPOINTS, H36M_FLIP_PERM, H36M_LEFT, H36M_RIGHT,
                                H36M_BONES, bone_lengths, conversion_matrix, convert_keypoints,
                                flip_pose, set_bone_lengths)


def test_flip_permutation_swaps_left_right_and_is_involution():
    perm = np.array(H36M_FLIP_PERM)
    assert list(perm[list(H36M_LEFT)]) == list(H36M_RIGHT)
    assert list(perm[perm]) == list(range(17))
    x = np.random.default_rng(0).normal(size=(5, 17, 3))
    np.testing.assert_allclose(flip_pose(flip_pose(x)), x)
    f = flip_pose(x)
    np.testing.assert_allclose(f[:, 4, 0], -x[:, 1, 0])
    np.testing.assert_allclose(f[:, 4, 1:], x[:, 1, 1:])
    t = flip_pose(torch.from_numpy(x))
    np.testing.assert_allclose(t.numpy(), f)


def test_flip_keeps_confidence_sign():
    x = np.random.default_rng(1).uniform(size=(2, 17, 3))
    f = flip_pose(x)
    np.testing.assert_allclose(f[..., 2], x[:, list(H36M_FLIP_PERM), 2])


def test_coco_conversion_by_hand():
    rng = np.random.default_rng(2)
    kp = rng.normal(size=(17, 3))
    kp[:, 2] = np.linspace(0.1, 0.9, 17)
    out = convert_keypoints(kp, "coco")
    nose, leye, reye = kp[0, :2], kp[1, :2], kp[2, :2]
    lsh, rsh, lhip, rhip = kp[5, :2], kp[6, :2], kp[11, :2], kp[12, :2]
    pelvis, thorax = (lhip + rhip) / 2, (lsh + rsh) / 2
    np.testing.assert_allclose(out[0, :2], pelvis)
    np.testing.assert_allclose(out[8, :2], thorax)
    np.testing.assert_allclose(out[7, :2], (pelvis + thorax) / 2)
    np.testing.assert_allclose(out[9, :2], nose)
    mid_eyes = (leye + reye) / 2
    np.testing.assert_allclose(out[10, :2], mid_eyes + 2 * (mid_eyes - nose))
    np.testing.assert_allclose(out[1, :2], rhip)
    np.testing.assert_allclose(out[13, :2], kp[9, :2])  # L wrist
    # confidences: copies keep theirs, derived joints take the minimum
    assert out[1, 2] == kp[12, 2]
    assert out[0, 2] == min(kp[11, 2], kp[12, 2])
    assert out[7, 2] == min(kp[[5, 6, 11, 12], 2])
    assert out[10, 2] == min(kp[[0, 1, 2], 2])


@pytest.mark.parametrize("fmt", sorted(FORMAT_KEYPOINTS))
def test_every_format_converts_and_is_translation_equivariant(fmt):
    k = len(FORMAT_KEYPOINTS[fmt])
    kp = np.random.default_rng(3).normal(size=(4, 6, k, 2))
    out = convert_keypoints(kp, fmt)
    assert out.shape == (4, 6, 17, 2)
    np.testing.assert_allclose(conversion_matrix(fmt).sum(axis=1), 1.0)
    np.testing.assert_allclose(convert_keypoints(kp + 5.0, fmt), out + 5.0)


def test_halpe_uses_its_head_and_body25_its_hips():
    kp = np.random.default_rng(4).normal(size=(26, 2))
    np.testing.assert_allclose(convert_keypoints(kp, "halpe")[10], kp[17])
    kp25 = np.random.default_rng(5).normal(size=(25, 2))
    out = convert_keypoints(kp25, "openpose")
    np.testing.assert_allclose(out[1], kp25[9])  # R hip
    np.testing.assert_allclose(out[4], kp25[12])  # L hip
    kp33 = np.random.default_rng(6).normal(size=(33, 2))
    np.testing.assert_allclose(convert_keypoints(kp33, "mediapipe")[16], kp33[16])  # R wrist


def test_bad_format_and_shape_messages():
    with pytest.raises(ValueError, match="unknown keypoint format"):
        convert_keypoints(np.zeros((17, 2)), "nope")
    with pytest.raises(ValueError, match=r"\[\.\.\., 17, 2 or 3\]"):
        convert_keypoints(np.zeros((18, 2)), "coco")


def test_bone_lengths():
    x = np.zeros((17, 3))
    x[1] = [0.1, 0, 0]
    assert bone_lengths(x).shape == (16,)
    assert bone_lengths(x)[0] == pytest.approx(0.1)


def test_set_bone_lengths_keeps_root_and_directions():
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(5, 17, 3))
    target = rng.uniform(0.05, 0.5, size=16)
    out = set_bone_lengths(poses, target)
    np.testing.assert_allclose(bone_lengths(out), np.broadcast_to(target, (5, 16)), rtol=1e-12)
    np.testing.assert_array_equal(out[:, 0], poses[:, 0])
    for parent, child in H36M_BONES:
        before = poses[:, child] - poses[:, parent]
        after = out[:, child] - out[:, parent]
        np.testing.assert_allclose(after / np.linalg.norm(after, axis=-1, keepdims=True),
                                   before / np.linalg.norm(before, axis=-1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(set_bone_lengths(poses, bone_lengths(poses)), poses, atol=1e-12)
    per_frame = rng.uniform(0.05, 0.5, size=(5, 16))
    np.testing.assert_allclose(bone_lengths(set_bone_lengths(poses, per_frame)), per_frame, rtol=1e-12)


def test_set_bone_lengths_refuses_bad_input():
    poses = np.random.default_rng(1).normal(size=(2, 17, 3))
    poses[1, 5] = poses[1, 4]
    with pytest.raises(ValueError, match="l_hip->l_knee has zero length"):
        set_bone_lengths(poses, np.ones(16))
    with pytest.raises(ValueError, match=r"\[\.\.\., 17, 3\]"):
        set_bone_lengths(np.zeros((2, 16, 3)), np.ones(16))
