import numpy as np
import pytest
import torch

from h2ot.stream import OnlineLifter
from tests.helpers import real_clip, small_model


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
