"""Where the person is (``h2ot.infer.trajectory``): exact on a known pinhole scene, the look-at frame turned back,
the focal length's effect, and what ``h2ot lift`` writes (npz, JSON, BVH) and refuses."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from h2ot.data.camera import focal_pixels, look_at_frame, rotation_to
from h2ot.infer import Lifter, lift_file, read_bvh_h36m
from h2ot.infer.trajectory import camera_trajectory, moving_average
from tests.helpers import PerFrame, moving_rig, one_line_error, rig_pose

SIZE = (640, 360)


def project(joints: np.ndarray, focal: float, size=SIZE) -> np.ndarray:
    """Camera-frame joints ``[T, 17, 3]`` → pixels + confidence 1 through an ideal pinhole at the image centre."""
    xy = focal * joints[..., :2] / joints[..., 2:] + np.array(size) / 2
    return np.concatenate([xy, np.ones(joints.shape[:-1] + (1,))], axis=-1)


def path(frames: int) -> np.ndarray:
    """The pelvis walking towards the camera and to the right, in a straight line (metres, camera frame)."""
    t = np.linspace(0, 1, frames)[:, None]
    return np.array([-0.6, 0.2, 6.0]) + t * np.array([1.0, 0.1, -2.5])


def test_rotations_batched_and_look_at_frame_inverse():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(5, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    batched = rotation_to(directions)
    for d, r in zip(directions, batched):
        np.testing.assert_allclose(r, rotation_to(d), atol=1e-12)
        np.testing.assert_allclose(r @ [0, 0, 1.0], d, atol=1e-12)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rotation_to(np.array([0, 0, -1.0])) @ [0, 0, 1.0], [0, 0, -1.0])
    points, centres = rng.normal(size=(5, 17, 3)), directions * 4
    turned = look_at_frame(points, centres)
    for p, c, q in zip(points, centres, turned):
        np.testing.assert_allclose(q, look_at_frame(p, c), atol=1e-12)  # one centre per frame
    np.testing.assert_allclose(look_at_frame(turned, centres, inverse=True), points, atol=1e-12)


def test_moving_average_keeps_lines_and_smooths_noise():
    line = np.linspace(0, 1, 11)[:, None] * np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(moving_average(line, 5), line, atol=1e-12)  # ends shrink the window, centred
    np.testing.assert_allclose(moving_average(line, 1), line)
    noise = np.random.default_rng(0).normal(size=(400, 1))
    assert moving_average(noise, 9).std() < 0.5 * noise.std()
    np.testing.assert_allclose(moving_average(line, 5, np.ones(11)), line, atol=1e-12)  # weighted alike: the same
    # an end whose first frames are not trusted: their neighbours' values, the line not run on past them
    values, weights = np.r_[np.zeros(5), np.linspace(7, 9, 15)], np.r_[np.full(5, 1e-4), np.ones(15)]
    ends = moving_average(values, 25, weights)
    assert 7 <= ends[:5].min() and ends[:5].max() <= 9
    held = moving_average(values, 5, np.r_[np.zeros(10), np.ones(10)])  # no weight within reach: interpolated
    assert np.isfinite(held).all() and np.allclose(held[:8], held[8])


@pytest.mark.parametrize("smooth_s", [0.0, 0.2])
def test_a_known_pinhole_scene_is_placed_exactly(smooth_s):
    frames, fps = 40, 30.0
    poses = moving_rig(frames) - moving_rig(frames)[:, :1]          # root-relative, camera axes
    root = path(frames)
    if smooth_s:  # across the view at one distance: both moving averages keep it (direction and distance)
        root[:, 2] = 5.0
    focal = focal_pixels(28.0, *SIZE)
    keypoints = project(poses + root[:, None], focal)
    track = camera_trajectory(poses, keypoints, SIZE, fps, focal_mm=28.0, smooth_s=smooth_s,
                              distance_smooth_s=smooth_s)
    np.testing.assert_allclose(track.root, root, atol=1e-9)
    np.testing.assert_allclose(track.joints, poses + root[:, None], atol=1e-9)
    assert track.focal == pytest.approx(focal) and track.focal_mm == pytest.approx(28.0)
    calibrated = camera_trajectory(poses, keypoints, SIZE, fps, smooth_s=smooth_s, distance_smooth_s=smooth_s,
                                   focal_px=focal, center=np.array(SIZE) / 2)
    np.testing.assert_allclose(calibrated.root, root, atol=1e-9)


def test_look_at_poses_are_turned_back_into_the_camera_axes():
    frames = 30
    poses = moving_rig(frames) - moving_rig(frames)[:, :1]
    root = np.array([1.5, -0.4, 4.0])                                # well off the image axis (about 21 degrees)
    focal = focal_pixels(35.0, *SIZE)
    keypoints = project(poses + root, focal)
    answer = look_at_frame(poses, root)                              # what a look-at model answers
    one_window = lambda values: np.repeat(values.mean(axis=0, keepdims=True), len(values), 0)  # noqa: E731
    track = camera_trajectory(answer, keypoints, SIZE, 25.0, focal_mm=35.0, window_mean=one_window)
    np.testing.assert_allclose(track.poses, poses, atol=1e-9)
    np.testing.assert_allclose(track.root, np.repeat(root[None], frames, 0), atol=1e-9)
    unturned = camera_trajectory(answer, keypoints, SIZE, 25.0, focal_mm=35.0)
    assert np.abs(unturned.poses - poses).max() > 0.05                # the turn matters this far off-axis


def test_frames_whose_pose_does_not_explain_their_2d_hardly_move_the_distance():
    frames, focal = 60, focal_pixels(43.27, *SIZE)
    poses = np.repeat((rig_pose() - rig_pose()[:1])[None], frames, 0)
    keypoints = project(poses + np.array([0, 0, 5.0]), focal)
    other = moving_rig(frames) - moving_rig(frames)[:, :1]
    keypoints[28:32] = project(other[28:32] * 1.3 + np.array([0, 0, 5.0]), focal)  # 4 frames of a larger someone
    weighted = camera_trajectory(poses, keypoints, SIZE, 30.0).root[:, 2]
    np.testing.assert_allclose(weighted, 5.0, rtol=1e-3)
    alike = camera_trajectory(poses, keypoints, SIZE, 30.0, reliable_pct=None)  # unweighted:
    assert alike.root[30, 2] < 4.9                                    # the 4 frames pull it 3 % nearer


def test_bad_frames_at_the_start_take_their_neighbours_depth():
    frames, focal = 60, focal_pixels(43.27, *SIZE)
    poses = np.repeat((rig_pose() - rig_pose()[:1])[None], frames, 0)
    keypoints = project(poses + np.array([0, 0, 5.0]), focal)
    other = moving_rig(frames) - moving_rig(frames)[:, :1]
    keypoints[:4] = project(other[:4] * 1.3 + np.array([0, 0, 5.0]), focal)   # the first 4 frames someone else
    keypoints[4:6, :, 2] = 0.0                                                # then 2 frames not detected
    np.testing.assert_allclose(camera_trajectory(poses, keypoints, SIZE, 30.0).root[:, 2], 5.0, rtol=0.01)
    alike = camera_trajectory(poses, keypoints, SIZE, 30.0, reliable_pct=None).root[:, 2]
    assert alike[0] < 4.9                                                     # unweighted: pulled 3 % nearer


def test_frames_that_fit_behind_the_camera_or_nowhere_are_bridged():
    frames, focal = 60, focal_pixels(43.27, *SIZE)
    poses = np.repeat((rig_pose() - rig_pose()[:1])[None], frames, 0)
    root = path(frames)
    keypoints = project(poses + root[:, None], focal)
    keypoints[20, :, :2] = keypoints[20, 0, :2]                               # a collapsed 2D: no depth
    keypoints[30] = project(-poses[30:31] + root[30], focal)[0]               # upside down: fits behind the camera
    track = camera_trajectory(poses, keypoints, SIZE, 30.0, smooth_s=0, distance_smooth_s=0)
    assert np.isfinite(track.root).all() and (track.root[:, 2] > 0).all()
    np.testing.assert_allclose(track.root[[19, 21, 29, 31]], root[[19, 21, 29, 31]], atol=1e-9)
    np.testing.assert_allclose(track.root[[20, 30], 2], root[[20, 30], 2], rtol=0.02)  # from the neighbours
    flipped = project(-poses + root[:, None], focal)
    one_line_error(lambda: camera_trajectory(poses, flipped, SIZE, 30.0), "in front of the camera")
    # a 2D collapsed to one point away from the pelvis fits just in front of the camera, its pelvis elsewhere:
    # not trusted either, so the default smoothing does not carry it to its neighbours
    keypoints[20, :, :2] = [100.0, 50.0]
    smoothed = camera_trajectory(poses, keypoints, SIZE, 30.0).root
    np.testing.assert_allclose(smoothed[15:26], root[15:26], atol=0.05)


def test_settings_are_checked_in_one_line():
    poses = np.repeat((rig_pose() - rig_pose()[:1])[None], 5, 0)
    keypoints = project(poses + np.array([0, 0, 5.0]), 500.0)
    run = lambda **options: camera_trajectory(poses, keypoints, options.pop("size", SIZE), options.pop("fps", 30.0),
                                              **options)  # noqa: E731
    for options, words in (({"fps": float("nan")}, "fps"), ({"fps": 0}, "fps"), ({"size": (0, 0)}, "image_size"),
                           ({"focal_px": 0}, "focal_px"), ({"focal_px": -3}, "focal_px"), ({"focal_px": "wide"}, "focal_px"),
                           ({"reliable_pct": "1"}, "reliable_pct"),
                           ({"reliable_pct": 0}, "reliable_pct"), ({"smooth_s": -1}, "smooth_s"),
                           ({"distance_smooth_s": float("inf")}, "distance_smooth_s"),
                           ({"center": (1, 2, 3)}, "center")):
        one_line_error(lambda: run(**options), words)
    one_line_error(lambda: camera_trajectory(poses[:0], keypoints[:0], SIZE, 30.0), "T >= 1")


def test_lifter_trajectory_reads_keypoints_as_predict_does():
    frames, focal = 40, focal_pixels(43.27, *SIZE)
    pose = rig_pose() - rig_pose()[:1]
    root = path(frames)
    root[10, 0] += 0.5                                                        # one frame off the line
    h36m = project(pose + root[:, None], focal)
    lifter = Lifter(Placed(pose[None]), flip=False)
    poses = np.repeat(pose[None], frames, 0)
    options = dict(smooth_s=0, distance_smooth_s=0)
    expected = lifter.trajectory(h36m, poses, SIZE, 30.0, **options).root
    np.testing.assert_allclose(expected, root, atol=1e-9)
    np.testing.assert_allclose(lifter.trajectory(h36m[..., :2], poses, SIZE, 30.0, **options).root, expected)
    coco = np.zeros((frames, 17, 3))  # COCO-17 from the same pixels (eyes and ears at the head)
    for h, c in {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 9: 0, 10: 1, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8,
                 16: 10}.items():
        coco[:, c] = h36m[:, h]
    coco[:, [2, 3, 4]] = h36m[:, [10]]
    whole = lifter.trajectory(coco, poses, SIZE, 30.0, format="coco", **options).root
    coco[10, 9] = np.nan                                                      # one wrist missing in that frame
    track = lifter.trajectory(coco, poses, SIZE, 30.0, format="coco", **options).root
    np.testing.assert_allclose(track[10], whole[10], rtol=1e-6)               # its other joints still count
    assert abs(track[10, 0] - track[9, 0]) > 0.3


def test_a_look_at_model_is_turned_back_window_by_window():
    """A person walking across the view, answered as an ideal look-at model answers: every window in the frame
    of the camera turned to that window's mean pelvis, the windows blended as lift_sequence blends them."""
    from h2ot.infer.lifting import windows

    frames, focal, model_frames = 200, focal_pixels(35.0, *SIZE), 27
    poses = moving_rig(frames) - moving_rig(frames)[:, :1]
    root = np.linspace([-2.0, 0.2, 5.0], [2.0, 0.2, 5.5], frames)  # about 45 degrees of view
    keypoints = project(poses + root[:, None], focal)
    acc, total = np.zeros(poses.shape), np.zeros(frames)
    for index, out, _, weights in windows(frames, model_frames):
        acc[out] += weights[:, None, None] * look_at_frame(poses[index], root[index].mean(axis=0))
        total[out] += weights
    answer = acc / total[:, None, None]
    model = Placed(np.zeros((1, 17, 3)))
    model.frames, model.model_kwargs = model_frames, {"input_norm": "window"}
    lifter = Lifter(model, fps=30.0, flip=False)
    assert lifter.looks_at
    track = lifter.trajectory(keypoints, answer, SIZE, 30.0, focal_mm=35.0, smooth_s=0, distance_smooth_s=0)
    assert np.abs(track.poses - poses).max() < 0.005                          # the turn, undone within 5 mm
    np.testing.assert_allclose(track.root, root, atol=0.01)
    naive = camera_trajectory(answer, keypoints, SIZE, 30.0, focal_mm=35.0, smooth_s=0, distance_smooth_s=0,
                              window_mean=lambda values: values)              # each frame turned to its own pelvis
    assert np.abs(naive.poses - poses).max() > 3 * np.abs(track.poses - poses).max()


def test_window_mean_follows_the_windows_of_lift_sequence():
    from h2ot.infer.lifting import lift_sequence, window_mean

    class WindowMean(PerFrame):  # answers every frame of a window with the window's mean input
        def forward(self, x):
            out = torch.cat([x, x[..., :1]], dim=-1).mean(dim=1, keepdim=True).expand(-1, self.frames, -1, -1)
            return out[:, :1] if self.pipeline == "seq2frame" else out

    rng = np.random.default_rng(0)
    for pipeline, length in (("seq2seq", 5), ("seq2seq", 27), ("seq2seq", 100), ("seq2frame", 40)):
        x = rng.normal(size=(length, 17, 2)).astype(np.float32)
        lifted = lift_sequence(WindowMean(27, pipeline), x)
        np.testing.assert_allclose(window_mean(x, 27, pipeline)[..., 0], lifted[..., 0], atol=1e-6)


def test_distance_follows_the_focal_length_and_the_size():
    poses = np.repeat(rig_pose()[None], 10, 0)
    root = np.array([0.0, 0.0, 5.0])
    keypoints = project(poses + root, focal_pixels(43.27, *SIZE))
    base = camera_trajectory(poses, keypoints, SIZE, 30.0).root[:, 2]
    np.testing.assert_allclose(base, 5.0, atol=1e-9)                  # the default: focal length = diagonal
    longer = camera_trajectory(poses, keypoints, SIZE, 30.0, focal_mm=2 * 43.27).root[:, 2]
    np.testing.assert_allclose(longer / base, 2.0, rtol=0.02)         # twice the focal length, twice as far
    bigger = camera_trajectory(poses * 1.1, keypoints, SIZE, 30.0).root[:, 2]
    np.testing.assert_allclose(bigger / base, 1.1, rtol=0.01)         # a larger 3D person, further away


def test_bad_input_is_refused_in_one_line():
    poses = np.zeros((5, 17, 3))
    one_line_error(lambda: camera_trajectory(poses, np.zeros((4, 17, 3)), SIZE, 30.0), "[T, 17, 3]", "(4, 17, 3)")
    one_line_error(lambda: camera_trajectory(poses, np.full((5, 17, 3), np.nan), SIZE, 30.0), "finite")
    for bad in (0, -5, "wide", 1e6):
        one_line_error(lambda: camera_trajectory(poses, np.zeros((5, 17, 3)), SIZE, 30.0, focal_mm=bad),
                       "--focal-mm", "35 mm-equivalent")


class Placed(PerFrame):
    """Answers the walking rig's root-relative poses (camera axes), whatever the input."""

    def __init__(self, poses):
        super().__init__(9)
        self.poses = torch.as_tensor(poses, dtype=torch.float32)

    def forward(self, x):
        return self.poses[:1].expand(x.shape[0], self.frames, 17, 3) + 0 * x[..., :1]


def run_cli(argv: list[str]) -> int:
    from h2ot import cli

    try:
        return cli.main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return exit_.code


def test_lift_writes_the_trajectory_and_a_moving_bvh(tmp_path, capsys):
    frames, fps = 30, 30.0
    pose = rig_pose()
    root = path(frames)
    keypoints = project(pose + root[:, None], focal_pixels(26.0, *SIZE))
    np.save(tmp_path / "kp.npy", keypoints)
    lifter = Lifter(Placed(pose[None] - pose[:1]), flip=False)
    result = lift_file(tmp_path / "kp.npy", "h36m", image_size=SIZE, fps=fps, out_dir=tmp_path / "out",
                       lifter=lifter, render=False, focal_mm=26.0)
    # the default smoothing averages the direction x/z, which is not linear in time while the distance changes,
    # and weighs the distances by the frames' reprojection errors: within 3 mm of this straight line
    np.testing.assert_allclose(result.trajectory.root, root, atol=3e-3)
    assert "trajectory: the pelvis at a depth of 3.5-6.0 m (a 26 mm-equivalent lens" in result.summary()
    with np.load(tmp_path / "out" / "poses3d.npz") as npz:
        np.testing.assert_allclose(npz["trajectory"], result.trajectory.root, atol=1e-6)
        np.testing.assert_allclose(npz["joints_camera"], pose - pose[:1] + result.trajectory.root[:, None], atol=1e-6)
        assert float(npz["focal_mm"]) == 26.0 and "camera frame" in str(npz["trajectory_coordinates"])
    doc = json.loads((tmp_path / "out" / "poses3d.json").read_text())
    assert doc["focal_mm"] == 26.0
    np.testing.assert_allclose([f["root"] for f in doc["frames"]], result.trajectory.root, atol=1e-5)
    assert 'id="h2ot-path3d"' in (tmp_path / "out" / "poses3d.html").read_text()  # the viewer moves along it
    from h2ot.infer.viewer import view_folder

    assert 'id="h2ot-path3d"' in view_folder(tmp_path / "out", out=tmp_path / "again.html").read_text()
    bvh = read_bvh_h36m(tmp_path / "out" / "poses3d.bvh")             # camera axes back
    np.testing.assert_allclose(bvh[:, 0] - bvh[:1, 0], root - root[:1], atol=3e-3)   # the root moves along the path
    np.testing.assert_allclose(bvh[0, 0, [0, 2]], 0.0, atol=1e-6)      # starting above the origin
    lift_file(tmp_path / "kp.npy", "h36m", image_size=SIZE, fps=fps, out_dir=tmp_path / "fixed", lifter=lifter,
              render=False, focal_mm=26.0, bvh_root="fixed")
    fixed = read_bvh_h36m(tmp_path / "fixed" / "poses3d.bvh")
    assert np.ptp(fixed[:, 0], axis=0).max() < 1e-6                    # pinned: the pose only
    # bad values: one line, exit 2, nothing written
    for flag, value, words in (("--focal-mm", "0", "35 mm-equivalent"), ("--bvh-root", "moving", "--bvh-root")):
        code = run_cli(["lift", str(tmp_path / "kp.npy"), "--format", "h36m", "--image-size", "640", "360",
                        "--fps", "30", "--out", str(tmp_path / "bad"), flag, value])
        err = capsys.readouterr().err
        assert code == 2 and words in err and "Traceback" not in err, err
        assert not (tmp_path / "bad").exists()
