import numpy as np
import pytest

from h2ot.data.camera import (Camera, camera_to_world, denormalize_screen, look_at,
                              matrix_to_quaternion, normalize_screen, project,
                              quaternion_to_matrix, world_to_camera)
from h2ot.data.h36m import h36m_cameras


def test_quaternion_matrix_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[0] >= 0 else -q
        r = quaternion_to_matrix(q)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        np.testing.assert_allclose(matrix_to_quaternion(r), q, atol=1e-9)
    # 90 degrees about z maps x to y
    q = [np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)]
    np.testing.assert_allclose(quaternion_to_matrix(q) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_world_camera_round_trip_quaternion_and_matrix():
    rng = np.random.default_rng(1)
    q = rng.normal(size=4)
    t = rng.normal(size=3)
    x = rng.normal(size=(7, 17, 3))
    cam = world_to_camera(x, q, t)
    np.testing.assert_allclose(camera_to_world(cam, q, t), x, atol=1e-12)
    np.testing.assert_allclose(world_to_camera(x, quaternion_to_matrix(q), t), cam, atol=1e-12)
    # the camera centre maps to the origin
    np.testing.assert_allclose(world_to_camera(t, q, t), 0, atol=1e-12)


def test_pinhole_and_distorted_projection_by_hand():
    p = np.array([0.2, -0.1, 2.0])
    np.testing.assert_allclose(project(p, (1000, 1000), (500, 500)), [600, 450])
    k, tan = (0.1, 0.01, 0.001), (0.002, -0.003)
    u = np.array([0.1, -0.05])
    r2 = u @ u
    radial = 1 + 0.1 * r2 + 0.01 * r2 ** 2 + 0.001 * r2 ** 3
    t = 0.002 * u[0] - 0.003 * u[1]
    expected = 1000 * (u * (radial + t) + np.array(tan) * r2) + 500
    np.testing.assert_allclose(project(p, (1000, 1000), (500, 500), k, tan), expected)
    with pytest.raises(ValueError, match="behind the camera"):
        project([0, 0, -1.0], (1, 1), (0, 0))


def test_screen_normalisation_and_inverse():
    px = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    n = normalize_screen(px, 1000, 1002)
    np.testing.assert_allclose(n[0], [-1, -1.002])
    np.testing.assert_allclose(n[1], [1, 1.002])
    np.testing.assert_allclose(n[2], [0, 0], atol=1e-12)
    np.testing.assert_allclose(denormalize_screen(n, 1000, 1002), px)
    with_conf = np.array([[100.0, 200.0, 0.7]])
    assert normalize_screen(with_conf, 1000, 1000)[0, 2] == 0.7


def test_look_at_axes():
    r = look_at([5, 0, 1.5], [0, 0, 1.0])
    cam = world_to_camera(np.array([0, 0, 1.0]), r, [5, 0, 1.5])
    np.testing.assert_allclose(cam[:2], 0, atol=1e-12)
    assert cam[2] > 0
    above = world_to_camera(np.array([0, 0, 2.0]), r, [5, 0, 1.5])
    assert above[1] < 0  # y points down in the image


def test_h36m_cameras_see_the_subject():
    cams = h36m_cameras()
    assert sorted(cams) == ["S1", "S11", "S5", "S6", "S7", "S8", "S9"]
    body = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.1], [0.0, 0.0, 1.7]])
    for subject, four in cams.items():
        assert len(four) == 4
        for cam in four:
            c = cam.world_to_camera(body)
            assert np.all(c[:, 2] > 3.5) and np.all(c[:, 2] < 6.5)
            px = cam.project(c)
            assert np.all(px > 0) and np.all(px[:, 0] < cam.res_w) and np.all(px[:, 1] < cam.res_h)
            assert px[2, 1] < px[1, 1]  # head above feet
    d = cams["S1"][0].to_dict()
    back = Camera.from_dict(d)
    assert back.focal == cams["S1"][0].focal and back.translation == cams["S1"][0].translation
    with pytest.raises(ValueError, match="missing"):
        Camera.from_dict({"center": [0, 0]})
