"""The video pipeline's concurrency: segments of a video detected at once give what one pass gives,
demo.mp4 encoded in a background thread, the 3D panel drawn by projection (``h2ot.infer.detect``,
``h2ot.infer.video``, ``h2ot.infer.render``)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("av", reason='PyAV is not installed: pip install -e ".[video]"')
pytest.importorskip("matplotlib", reason='matplotlib is not installed: pip install -e ".[video]"')

from h2ot.infer.detect import detect_segments, detect_video, same_people  # noqa: E402
from h2ot.infer.pipeline import demo_video_path  # noqa: E402
from h2ot.infer.video import VideoWriter, frame_pts, iter_frames, split_frames  # noqa: E402
from tests.helpers import rig_pose  # noqa: E402

FIGURE = np.array([[0, 0], [0, -50], [0, -100], [-20, -60], [20, -60], [-10, 50], [10, 50]], dtype=float)


def person(x: float) -> np.ndarray:
    """One person ``[7, 3]`` standing at pixel x (a 150 px figure), every keypoint confident."""
    points = FIGURE + [x, 200.0]
    return np.column_stack([points, np.ones(len(points))])


class Follower:
    """A single-person tracking detector like MediaPipe's: when it follows nobody it picks the person its
    ``prefer`` rule chooses, then follows that person from frame to frame. A frame is ``(t, xs)``: the
    pixel x of every person at time t."""

    instances: list["Follower"] = []

    def __init__(self, prefer):
        self.prefer, self.following, self.calls = prefer, None, 0
        Follower.instances.append(self)

    def detect(self, frame):
        t, xs = frame
        self.calls += 1
        if self.following is None or self.following >= len(xs):  # nobody followed yet, or lost
            self.following = min(self.prefer(t), len(xs) - 1)
        return person(xs[self.following])[None]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def frames(count: int, leaves: int | None = None):
    """Two people walking apart: A from x=100 to the left, B from x=500 to the right (who leaves the picture
    at frame ``leaves``)."""
    return [(t, (100.0 - t, 500.0 + t) if leaves is None or t < leaves else (100.0 - t,)) for t in range(count)]


def segments(all_frames, parts: int, lead: int):
    starts = [round(k * len(all_frames) / parts) for k in range(parts)] + [len(all_frames)]
    return [(lambda a=max(0, a - (lead if k else 0)), b=b: iter(all_frames[a:b]))
            for k, (a, b) in enumerate(zip(starts[:-1], starts[1:]))]


@pytest.mark.parametrize("prefer, leaves, calls", [
    # a fresh detector picks the same person: each detector does its segment (+ 10 lead frames)
    (lambda t: 0, None, [40, 50, 50]),
    # the third segment's detector (starting at t = 70) picks someone else: the second detector goes on
    # through the third segment
    (lambda t: 0 if t < 60 else 1, None, [40, 90, 50]),
    # ... until B leaves at t = 90 and both follow A: from t = 95 (5 frames agreeing) the third's are used
    (lambda t: 0 if t < 60 else 1, 90, [40, 65, 50]),
])
def test_segments_give_what_one_pass_gives(prefer, leaves, calls):
    clip = frames(120, leaves)
    one_pass = detect_video(Follower(prefer), clip)
    Follower.instances = []
    found = detect_segments(lambda: Follower(prefer), segments(clip, 3, lead=10), lead=10)
    assert len(found) == len(clip)
    for a, b in zip(one_pass, found):
        np.testing.assert_array_equal(a, b)
    assert [f.calls for f in Follower.instances] == calls


def test_segments_stop_at_the_first_error():
    class Broken(Follower):
        def detect(self, frame):
            if frame[0] == 70:
                raise RuntimeError("bad frame 70")
            return super().detect(frame)

    with pytest.raises(RuntimeError, match="bad frame 70"):
        detect_segments(lambda: Broken(lambda t: 0), segments(frames(120), 2, lead=10), lead=10)


def test_cancel_stops_detection():
    cancel = threading.Event()
    cancel.set()
    assert detect_video(Follower(lambda t: 0), frames(10), cancel=cancel) == []


def test_same_people():
    a = person(100.0)[None]
    assert same_people(a, person(105.0)[None])          # 5 px on a 150 px person
    assert not same_people(a, person(200.0)[None])
    assert not same_people(a, np.zeros((0, 7, 3)))
    assert same_people(np.zeros((0, 7, 3)), np.zeros((0, 7, 3)))


def test_video_segments_decode_exactly_the_frames_of_one_pass():
    clip = demo_video_path()
    whole = list(iter_frames(clip, 160, 90))
    lead = 5
    bounds = split_frames(frame_pts(clip), 3, lead=lead)
    assert len(bounds) == 3 and bounds[0][0] is None and bounds[-1][1] is None
    pieces = [list(iter_frames(clip, 160, 90, start_pts=a, stop_pts=b)) for a, b in bounds]
    joined = pieces[0] + [f for piece in pieces[1:] for f in piece[lead:]]
    assert len(joined) == len(whole)
    assert all((a == b).all() for a, b in zip(joined, whole))
    assert split_frames(None, 3) == [(None, None)]  # frames without timestamps: one pass


def test_background_encoder_writes_every_frame_and_reports_errors(tmp_path):
    path = tmp_path / "v.mp4"
    with VideoWriter(path, 30, 64, 48, background=True) as out:
        for t in range(40):
            out.write(np.full((48, 64, 3), 4 * t, dtype=np.uint8))
    decoded = list(iter_frames(path))
    assert len(decoded) == 40 and abs(int(decoded[-1].mean()) - 156) < 4
    writer = VideoWriter(tmp_path / "bad.mp4", 30, 64, 48, background=True)
    writer.write(np.zeros((48, 64), dtype=np.uint8))  # not RGB: the encoding thread fails
    with pytest.raises(ValueError):
        writer.close()
    assert writer.container is None


def test_3d_panel_draws_the_bones_where_matplotlib_projects_them():
    from h2ot.data.skeleton import H36M_BONES
    from h2ot.infer.render import RIGHT_COLOUR, Skeleton3DPanel

    panel = Skeleton3DPanel(240)
    pose = rig_pose()  # a standing person, metres, y down
    image = panel.render(pose)
    points = panel.project(pose)
    assert image.shape == (240, 240, 3) and (points >= 0).all() and (points < 240).all()
    assert np.ptp(points[:, 1]) > np.ptp(points[:, 0])  # standing: taller than wide on the panel
    for parent, child in H36M_BONES:  # the middle of every bone is drawn
        x, y = np.round((points[parent] + points[child]) / 2).astype(int)
        assert (image[y - 1:y + 2, x - 1:x + 2] != panel.background[y - 1:y + 2, x - 1:x + 2]).any()
    assert (np.abs(image.astype(int) - RIGHT_COLOUR).sum(axis=-1) < 30).sum() > 20  # right side in its colour
    faded = panel.render(pose, detected=False)  # an undetected frame: the same bones, faded
    assert (faded != image).any() and (np.abs(faded.astype(int) - RIGHT_COLOUR).sum(axis=-1) < 30).sum() == 0
