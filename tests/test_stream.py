import numpy as np
import pytest
import torch

from h2ot.data.camera import denormalize_screen, focal_pixels, look_at_frame, normalize_screen
from h2ot.infer.trajectory import OnlinePlacement, camera_trajectory
from h2ot.stream import OnlineLifter
from tests.helpers import PerFrame, moving_rig, real_clip, small_model


def run_stream(lifter, frames):
    out = []
    for frame in frames:
        out += lifter.push(frame)
    return out + lifter.flush()


def window_for(x, start, frames, newest):
    index = (start + torch.arange(frames)).clamp(0, newest)
    return x[index][None]


@pytest.mark.parametrize("lookahead", [0, 5, 26])
def test_seq2seq_stream_matches_explicit_windows(lookahead):
    model = small_model(schedule="1:9,2:3", pruning="sampler", recovery="interpolation").eval()
    x = real_clip(40)[0]
    lifter = OnlineLifter(model, lookahead=lookahead)
    poses = run_stream(lifter, x)
    assert [p.frame for p in poses] == list(range(40)) and lifter.delay == lookahead
    position = 26 - lookahead
    with torch.inference_mode():
        for p in poses[::7]:
            newest = min(p.frame + lookahead, 39)
            expected = model(window_for(x, p.frame - position, 27, newest))[0, position]
            np.testing.assert_allclose(p.pose, expected.numpy(), atol=1e-6)


def test_poses_arrive_with_the_promised_delay():
    model = small_model().eval()
    lifter = OnlineLifter(model, lookahead=3, hop=2)
    arrivals = {}
    for t, frame in enumerate(real_clip(20)[0]):
        for pose in lifter.push(frame):
            arrivals[pose.frame] = t
    assert all(t - frame <= lifter.delay == 4 for frame, t in arrivals.items())
    assert sorted(arrivals) == list(range(len(arrivals)))
    assert [p.frame for p in lifter.flush()] == list(range(len(arrivals), 20))


def test_hop_divides_the_number_of_forward_passes():
    model = small_model().eval()
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    poses = run_stream(OnlineLifter(model, lookahead=0, hop=5), real_clip(30)[0])
    assert [p.frame for p in poses] == list(range(30)) and len(calls) == 6


def test_seq2frame_stream_uses_centre_and_pads_the_future():
    model = small_model(schedule="2:9", pipeline="seq2frame").eval()
    x = real_clip(30)[0]
    lifter = OnlineLifter(model, lookahead=2)
    poses = run_stream(lifter, x)
    assert [p.frame for p in poses] == list(range(30))
    with torch.inference_mode():
        expected = model(window_for(x, 10 - 13, 27, 12))[0, 0]
    np.testing.assert_allclose(poses[10].pose, expected.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="lookahead must lie in 0..13"):
        OnlineLifter(model, lookahead=20)
    with pytest.raises(ValueError, match="hop must lie in 1..1"):
        OnlineLifter(model, hop=2)


def test_missing_joints_and_frames_keep_the_stream_going():
    model = small_model(in_channels=3).eval()
    x = real_clip(12, channels=3)[0].numpy()
    x[4, 7] = np.nan
    frames = list(x)
    frames[6] = None
    poses = run_stream(OnlineLifter(model, lookahead=1), frames)
    assert [p.flagged for p in poses] == [i in (4, 6) for i in range(12)]
    assert all(np.isfinite(p.pose).all() for p in poses)
    with pytest.raises(ValueError, match=r"expected one frame of keypoints \[17, 3\], found \(17, 2\)"):
        OnlineLifter(model).push(np.zeros((17, 2)))


@pytest.mark.parametrize("lookahead", [0, 3])
def test_a_stream_that_starts_without_a_person(lookahead):
    """Frames before the first detection take the first seen pose, as frames before the stream do: the
    poses after it match a stream that starts on the first detection (no zeros in the buffer)."""
    model = small_model().eval()
    x = real_clip(20)[0].numpy()
    late = run_stream(OnlineLifter(model, lookahead=lookahead), [None, None] + list(x[2:]))
    clean = run_stream(OnlineLifter(model, lookahead=lookahead), list(x[2:]))
    assert [p.flagged for p in late] == [True, True] + [False] * 18
    np.testing.assert_allclose(np.stack([p.pose for p in late[2:]]), np.stack([p.pose for p in clean]), atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"hop": 2.5}, {"hop": True}, {"lookahead": "1"}, {"hop": 0}])
def test_stream_settings_are_checked(kwargs):
    with pytest.raises(ValueError, match="hop|lookahead"):
        OnlineLifter(small_model(), **kwargs)


class LookAtScene(torch.nn.Module):
    """An ideal look-at lifter for one known scene: it finds each input frame among the scene's 2D and answers
    that frame's true root-relative pose in the axes of the camera turned to the window's mean pelvis ray."""

    num_joints, frames, pipeline, in_channels, model_kwargs = 17, 27, "seq2seq", 2, {"input_norm": "window"}

    def __init__(self, inputs, poses, placement):
        super().__init__()
        self.inputs, self.poses, self.placement = torch.as_tensor(inputs, dtype=torch.float32), poses, placement

    def forward(self, x):
        distance = (x[0, :, None] - self.inputs[None]).flatten(2).abs().amax(dim=-1)   # [F, T]
        index = distance.argmin(dim=1).numpy()
        turned = look_at_frame(self.poses[index], self.placement.direction(x[0].numpy()))
        return torch.as_tensor(turned, dtype=torch.float32)[None]


def walking_scene(frames=90, size=(1280, 720), focal_mm=30.0, noise=0.0):
    """A person walking across about 40 degrees of view and towards the camera, seen by a pinhole camera."""
    poses = moving_rig(frames) - moving_rig(frames)[:, :1]
    root = np.linspace([-1.8, 0.3, 6.0], [1.6, 0.2, 4.5], frames)
    focal = focal_pixels(focal_mm, *size)
    pixels = focal * (poses + root[:, None])[..., :2] / (poses + root[:, None])[..., 2:] + np.array(size) / 2
    pixels += np.random.default_rng(1).normal(scale=noise, size=pixels.shape)
    return poses, root, normalize_screen(pixels, *size)


@pytest.mark.parametrize("lookahead", [0, 4, 15])
def test_the_stream_places_the_person_as_the_offline_trajectory_places_the_frames_it_has(lookahead):
    """Each frame is placed as camera_trajectory places it in the clip of the frames up to it and the look-ahead
    frames after it (at most OnlinePlacement.ahead: 12 at 30 fps); with that much look-ahead, as offline."""
    size, fps = (1280, 720), 30.0
    poses, root, inputs = walking_scene()
    ideal = LookAtScene(inputs, poses, OnlinePlacement(size, fps, 30.0))
    placed = run_stream(OnlineLifter(ideal, lookahead=lookahead, image_size=size, focal_mm=30.0, fps=fps),
                        list(inputs))
    # a straight walk: followed without lag (the line through the last 0.4 s), the look-at turn undone; with the
    # frames on both sides, as offline, a weighted mean, which leans towards the frames nearer the image centre
    # (their weak-perspective reprojection error, and so their weight, is lower) by up to 9 cm here
    np.testing.assert_allclose(np.stack([p.root for p in placed]), root, atol=0.02 if lookahead < 12 else 0.1)
    np.testing.assert_allclose(np.stack([p.joints_camera for p in placed]), poses + root[:, None],
                               atol=0.02 if lookahead < 12 else 0.1)
    # noisy 2D: the frames it has decide
    poses, root, inputs = walking_scene(noise=3.0)
    ideal = LookAtScene(inputs, poses, OnlinePlacement(size, fps, 30.0))
    online = OnlineLifter(ideal, lookahead=lookahead, image_size=size, focal_mm=30.0, fps=fps)
    placed = run_stream(online, list(inputs))
    camera_poses = np.stack([p.joints_camera - p.root for p in placed])
    pixels = np.concatenate([denormalize_screen(inputs, *size), np.ones((len(inputs), 17, 1))], axis=-1)
    ahead = min(lookahead, online.placement.ahead)
    for s in (0, 5, 11, 40, 80, 89):
        end = min(s + 1 + ahead, len(inputs))
        offline = camera_trajectory(camera_poses[:end], pixels[:end], size, fps, focal_mm=30.0)
        np.testing.assert_allclose(placed[s].root, offline.root[s], atol=1e-6)
    if lookahead >= online.placement.ahead:
        everything = camera_trajectory(camera_poses, pixels, size, fps, focal_mm=30.0)
        np.testing.assert_allclose(np.stack([p.root for p in placed]), everything.root, atol=1e-6)
    assert np.abs(np.stack([p.root for p in placed]) - root).max() < 0.5


def test_a_seq2frame_stream_places_the_frame_it_answers():
    size, fps = (1280, 720), 30.0
    poses, root, inputs = walking_scene()

    class Centre(LookAtScene):
        pipeline = "seq2frame"

        def forward(self, x):
            return super().forward(x)[:, 13:14]   # the centre frame's answer only

    ideal = Centre(inputs, poses, OnlinePlacement(size, fps, 30.0))
    placed = run_stream(OnlineLifter(ideal, lookahead=5, image_size=size, focal_mm=30.0, fps=fps), list(inputs))
    np.testing.assert_allclose(np.stack([p.root for p in placed]), root, atol=0.02)


@pytest.mark.parametrize("frames, lookahead, hop", [(90, 3, 4), (90, 0, 9), (20, 5, 3), (20, 26, 1)])
def test_placement_with_hops_flush_short_streams_and_confidences(frames, lookahead, hop):
    """A 3-channel model, several poses per pass, poses from flush(), streams shorter than the window: every
    frame is placed with its own 2D (a clean straight walk, so any frame mixed up shows)."""
    size, fps = (1280, 720), 30.0
    poses, root, inputs = walking_scene(frames)

    class WithConfidence(LookAtScene):
        in_channels = 3

        def forward(self, x):
            return super().forward(x[..., :2])

    ideal = WithConfidence(inputs, poses, OnlinePlacement(size, fps, 30.0))
    online = OnlineLifter(ideal, lookahead=lookahead, hop=hop, image_size=size, focal_mm=30.0, fps=fps)
    placed = run_stream(online, [np.concatenate([f, np.full((17, 1), 0.8)], axis=-1) for f in inputs])
    assert [p.frame for p in placed] == list(range(frames))
    np.testing.assert_allclose(np.stack([p.root for p in placed]), root, atol=0.02)


def test_a_long_run_of_frames_that_fit_nowhere_holds_the_last_place():
    size, fps = (1280, 720), 30.0
    poses, root, inputs = walking_scene(60)
    collapsed = inputs.copy()
    collapsed[30:50] = collapsed[30:50, :1]          # every joint on the pelvis: no fit for 20 frames (> 12)
    ideal = LookAtScene(inputs, poses, OnlinePlacement(size, fps, 30.0))
    placed = run_stream(OnlineLifter(ideal, image_size=size, focal_mm=30.0, fps=fps), list(collapsed))
    roots = np.stack([p.root for p in placed])
    assert np.isfinite(roots).all()
    np.testing.assert_allclose(roots[43:50], np.repeat(roots[42:43], 7, axis=0))   # held while nothing fits
    np.testing.assert_allclose(roots[:30], root[:30], atol=0.02)


def test_a_stream_without_the_image_size_does_not_place_and_missing_frames_do_not_stop_placement():
    size = (1280, 720)
    poses, root, inputs = walking_scene(40)
    model = small_model().eval()
    assert all(p.root is None and p.joints_camera is None for p in run_stream(OnlineLifter(model), list(inputs)))
    frames = list(inputs)
    frames[10] = None
    frames[11] = inputs[11].copy()
    frames[11][3] = np.nan
    ideal = LookAtScene(inputs, poses, OnlinePlacement(size, 50.0, 30.0))
    placed = run_stream(OnlineLifter(ideal, lookahead=2, image_size=size, focal_mm=30.0), frames)
    assert [p.flagged for p in placed] == [i in (10, 11) for i in range(40)]
    error = np.linalg.norm(np.stack([p.root for p in placed]) - root, axis=-1)
    assert np.delete(error, 10).max() < 0.03 and error[10] < 0.1   # no detection: where it was last seen
    for settings in ({"focal_mm": 26.0}, {"fps": 30.0}, {"smooth_s": 0.2}):
        with pytest.raises(ValueError, match="need image_size"):
            OnlineLifter(model, **settings)
    with pytest.raises(ValueError, match=r"unknown placement setting\(s\) \['smoth_s'\]"):
        OnlineLifter(model, image_size=size, smoth_s=0.2)
    with pytest.raises(ValueError, match="--focal-mm"):
        OnlineLifter(model, image_size=size, focal_mm=-1)
    with pytest.raises(ValueError, match="image_size: expected"):
        OnlineLifter(model, image_size=(0, 720))
    sixteen = type("Sixteen", (PerFrame,), {"num_joints": 16})()
    with pytest.raises(ValueError, match="needs a Human3.6M-17 model, found 16 joints"):
        OnlineLifter(sixteen, image_size=size)
