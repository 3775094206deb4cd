"""Keypoint files as other tools write them (issue 14): each format's missing-point marker becomes the
pipeline's (NaN, a person with none is no detection), malformed files are one-line errors naming the file,
and one glitched frame cannot become "the largest person"."""
import json
import warnings

import numpy as np
import pytest

from h2ot.infer.keypoints_io import load_keypoints
from h2ot.infer.track import fill_gaps, person_size, select_person, track_people
from tests.helpers import one_line_error

from .test_infer import person_at

COCO_L_WRIST, COCO_L_EAR, COCO_R_EAR, COCO_L_ANKLE = 9, 3, 4, 15
BODY25_R_WRIST = 4


def follow(frames):
    """What the pipeline does with the frames of a file: track, choose the largest, fill the gaps."""
    index, track = select_person(track_people(frames))
    return track, *fill_gaps(track)


def coco_results(frames=30, k=17, edit=None):
    """A COCO-results list: one person per frame (plus an all-zero one, as some tools pad), ``edit(t, pts)``
    changes the person of frame ``t``."""
    out = []
    for t in range(frames):
        pts = person_at(300 + t, 250, 200, k)
        if edit:
            edit(t, pts)
        out.append({"image_id": f"{t:06d}.jpg", "category_id": 1, "score": 0.9, "keypoints": pts.ravel().tolist()})
        out.append({"image_id": f"{t:06d}.jpg", "category_id": 1, "score": 0.0, "keypoints": [0] * (3 * k)})
    return out


def write(path, data):
    path.write_text(json.dumps(data))
    return path


# ------------------------------------------------------------------------------------- missing points

def test_coco_zero_points_are_missing_not_pixel_zero(tmp_path):
    def edit(t, pts):
        if 10 <= t < 15:
            pts[COCO_L_WRIST] = 0  # (0, 0, 0): not detected
        if t == 20:
            pts[:] = 0  # nobody in this frame
        if t == 25:
            pts[COCO_L_WRIST, 2] = 0  # confidence 0 at a real-looking place: missing too

    path = write(tmp_path / "coco.json", coco_results(edit=edit))
    frames, _ = load_keypoints(path, "coco")
    assert [len(f) for f in frames] == [1] * 20 + [0] + [1] * 9  # the all-zero people are no detections
    assert np.isnan(frames[12][0, COCO_L_WRIST]).all() and np.isnan(frames[25][0, COCO_L_WRIST]).all()
    assert np.isfinite(frames[9][0]).all()
    track, filled, detected = follow(frames)
    assert detected.tolist() == [True] * 20 + [False] + [True] * 9
    assert np.isfinite(filled).all() and filled[..., :2].min() > 100  # nothing near pixel (0, 0)
    wrist = person_at(0, 250, 200)[COCO_L_WRIST]
    np.testing.assert_allclose(filled[12, COCO_L_WRIST, :2], wrist[:2] + [312, 0])  # interpolated in time
    assert filled[12, COCO_L_WRIST, 2] == 0 and filled[9, COCO_L_WRIST, 2] == 0.9


def test_coco_missing_points_through_lift_file(tmp_path):
    from h2ot.infer.pipeline import lift_file

    from .helpers import small_model

    def edit(t, pts):
        if t % 7 == 3:
            pts[COCO_L_WRIST] = 0
        pts[[COCO_L_EAR, COCO_R_EAR]] = 0  # ears never seen (a side view): they are not lifted anyway

    path = write(tmp_path / "coco.json", coco_results(edit=edit))
    result = lift_file(path, "coco", image_size=(640, 480), fps=25, lifter=small_model(), render=False)
    assert np.isfinite(result.poses3d).all() and result.detected.all()
    assert result.keypoints2d[..., :2].min() > 100  # the wrist is interpolated, never at (0, 0)
    assert (result.keypoints2d[3, 13, 2] == 0) and (result.keypoints2d[4, 13, 2] > 0)  # h36m left wrist
    assert np.array_equal(result.raw_keypoints[:, COCO_L_EAR], np.zeros((30, 3)))  # unused: kept as (0, 0, 0)


def test_an_all_zero_file_has_no_detections(tmp_path):
    path = write(tmp_path / "zeros.json", coco_results(edit=lambda t, pts: pts.fill(0)))
    frames, _ = load_keypoints(path, "coco")
    assert len(frames) == 30 and all(len(f) == 0 for f in frames)
    assert track_people(frames) == []
    np.save(tmp_path / "zeros.npy", np.zeros((30, 17, 3)))
    frames, _ = load_keypoints(tmp_path / "zeros.npy", "coco")
    assert all(len(f) == 0 for f in frames)


def test_a_joint_never_seen(tmp_path):
    path = write(tmp_path / "ears.json", coco_results(edit=lambda t, pts: pts.__setitem__(COCO_L_EAR, 0)))
    _, filled, _ = follow(load_keypoints(path, "coco")[0])  # an ear is not used by the lift: fine
    assert np.isfinite(filled).all()
    path = write(tmp_path / "ankle.json", coco_results(edit=lambda t, pts: pts.__setitem__(COCO_L_ANKLE, 0)))
    frames, _ = load_keypoints(path, "coco")
    one_line_error(lambda: follow(frames), f"[{COCO_L_ANKLE}]", "missing in every frame")


def test_openpose_zero_points_and_empty_frames(tmp_path):
    folder = tmp_path / "openpose"
    folder.mkdir()
    for t in range(6):
        pts = person_at(300, 300, 200, 25)
        if t == 2:
            pts[BODY25_R_WRIST] = 0
        people = [{"pose_keypoints_2d": pts.ravel().tolist()}, {"pose_keypoints_2d": [0] * 75}]
        if t == 3:
            people = [{"pose_keypoints_2d": [0.0] * 75}] * 2  # everybody empty: no detection
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    frames, _ = load_keypoints(folder, "openpose")
    assert [len(f) for f in frames] == [1, 1, 1, 0, 1, 1]
    assert np.isnan(frames[2][0, BODY25_R_WRIST]).all() and np.isfinite(frames[2][0, :4]).all()
    assert np.array_equal(frames[0][0, 19:], person_at(300, 300, 200, 25)[19:])  # feet kept as written
    _, filled, detected = follow(frames)
    assert detected.tolist() == [True, True, True, False, True, True] and np.isfinite(filled).all()


def test_null_and_non_finite_values_are_missing(tmp_path):
    data = coco_results(frames=4)  # a person and an all-zero one per frame
    data[0]["keypoints"][COCO_L_WRIST * 3:COCO_L_WRIST * 3 + 3] = [None, None, None]
    data[2]["keypoints"][COCO_L_WRIST * 3] = float("inf")
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(data))  # Python writes Infinity, as some tools do
    frames, _ = load_keypoints(path, "coco")
    assert np.isnan(frames[0][0, COCO_L_WRIST]).all() and np.isnan(frames[1][0, COCO_L_WRIST]).all()
    assert np.isfinite(frames[2][0]).all()


def test_arrays_zero_points_padding_and_inf(tmp_path):
    array = np.stack([np.stack([person_at(300, 250, 200), np.zeros((17, 3))]) for _ in range(8)])  # [T, 2, K, 3]
    array[2, 0, COCO_L_WRIST] = 0
    array[3, 0, COCO_L_WRIST, 0] = np.inf
    array[5, 0] = 0
    np.save(tmp_path / "kp.npy", array)
    frames, _ = load_keypoints(tmp_path / "kp.npy", "coco")
    assert [len(f) for f in frames] == [1, 1, 1, 1, 1, 0, 1, 1]  # padding and an all-zero person dropped
    assert np.isnan(frames[2][0, COCO_L_WRIST]).all() and np.isnan(frames[3][0, COCO_L_WRIST]).all()
    two = array[:, 0, :, :2].copy()
    two[4] = 0  # no confidence channel: an all-zero person is padding
    np.save(tmp_path / "kp2.npy", two)
    frames, _ = load_keypoints(tmp_path / "kp2.npy", "coco")
    assert len(frames[4]) == 0 and frames[0][0, 0, 2] == 1.0


# ------------------------------------------------------------------------------------- malformed files

def test_malformed_coco_files(tmp_path):
    ok = [{"image_id": 1, "keypoints": person_at(300, 250, 200).ravel().tolist()}]
    person = ok[0]["keypoints"]
    cases = {
        "unknown_image.json": ({"images": [{"id": 1, "file_name": "a.jpg"}],
                                "annotations": ok + [{"image_id": 99, "keypoints": person}]},
                               "annotation 1 names image id 99, which is not in its 'images'"),
        "list_image_id.json": ({"images": [{"id": 1}], "annotations": [{"image_id": [1], "keypoints": person}]},
                               "not in its 'images'"),
        "images_not_list.json": ({"images": {"id": 1}, "annotations": ok}, "'images' must be a list"),
        "image_without_id.json": ({"images": [{"file_name": "a.jpg"}], "annotations": ok}, "'images' must be a list"),
        "short.json": ([{"image_id": 1, "keypoints": person[:-3]}], "a person has 48 values"),
        "strings.json": ([{"image_id": 1, "keypoints": [str(v) for v in person]}], "must be a list of numbers"),
        "booleans.json": ([{"image_id": 1, "keypoints": [True] * 51}], "must be a list of numbers"),
        "dict.json": ([{"image_id": 1, "keypoints": {"x": 1}}], "must be a list of numbers"),
        "ragged.json": ([{"image_id": 1, "keypoints": [[1, 2, 3], [4]] * 9}], "must be a list of numbers"),
        "number.json": ([{"image_id": 1, "keypoints": 5}], "a person has 1 values"),
        "inf_image_id.json": ([{"image_id": float("inf"), "keypoints": person}], "expected a number or a string"),
        "not_a_list.json": ({"something": 1}, "expected a COCO-style list"),
    }
    for name, (data, expected) in cases.items():
        path = write(tmp_path / name, data)
        one_line_error(lambda: load_keypoints(path, "coco"), str(path), expected)
    (tmp_path / "folder.json").mkdir()
    one_line_error(lambda: load_keypoints(tmp_path / "folder.json", "coco"), "folder.json")


def test_malformed_openpose_files(tmp_path):
    person = person_at(300, 300, 200, 25).ravel().tolist()
    cases = {
        "dict_people": ({"people": {"pose_keypoints_2d": person}}, "'people' must be a list"),
        "null_people": ({"people": None}, "'people' must be a list"),
        "number_people": ({"people": [1, 2]}, "'people' must be a list"),
        "short": ({"people": [{"pose_keypoints_2d": person[:54]}]}, "a person has 54 values (OpenPose COCO-18)"),
        "strings": ({"people": [{"pose_keypoints_2d": ["x"] * 75}]}, "must be a list of numbers"),
        "not_openpose": ([1, 2, 3], "not an OpenPose file"),
    }
    for name, (data, expected) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        path = write(folder / "clip_000000000000_keypoints.json", data)
        one_line_error(lambda: load_keypoints(folder, "openpose"), str(path), expected)


def test_malformed_arrays(tmp_path):
    good = np.stack([person_at(300, 250, 200) for _ in range(5)])
    np.save(tmp_path / "objects.npy", np.array([{"x": 1}], dtype=object))
    np.savez(tmp_path / "objects.npz", keypoints=np.array([None, 1], dtype=object))
    np.savez(tmp_path / "good.npz", keypoints=good)
    raw = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[:len(raw) // 2])
    (tmp_path / "random.npy").write_bytes(np.random.default_rng(0).bytes(500))
    np.save(tmp_path / "strings.npy", np.full((5, 17, 3), "a"))
    np.savez(tmp_path / "size.npz", keypoints=good, image_size=np.array([0, 480]))
    np.savez(tmp_path / "size_text.npz", keypoints=good, image_size=np.array("640x480"))
    np.savez(tmp_path / "fps.npz", keypoints=good, fps=np.float64(-1))
    np.savez(tmp_path / "format.npz", keypoints=good, format=np.array("nonsense"))
    np.savez(tmp_path / "nothing.npz", a=good, b=good)
    expected = {"objects.npy": "cannot read this file as a numpy array",
                "objects.npz": "cannot read this file as a numpy array",
                "truncated.npz": "cannot read this file as a numpy array",
                "random.npy": "cannot read this file as a numpy array",
                "strings.npy": "expected a numeric array", "size.npz": "'image_size' must be [width, height]",
                "size_text.npz": "'image_size' must be [width, height]", "fps.npz": "'fps' must be a positive",
                "format.npz": "is not a keypoint format", "nothing.npz": "no array named 'keypoints'"}
    for name, fragment in expected.items():
        one_line_error(lambda: load_keypoints(tmp_path / name, "coco"), str(tmp_path / name), fragment)
    frames, meta = load_keypoints(tmp_path / "good.npz", "coco")
    assert len(frames) == 5 and meta == {}


# ------------------------------------------------------------------------------------- person selection

def normal_clip(frames=105):
    return [person_at(300 + t, 250, 200)[None] for t in range(frames)]


def test_a_glitched_frame_does_not_become_the_largest_person():
    detections = normal_clip()
    glitch = person_at(300 + 50, 250, 200)
    glitch[:, :2] *= 1000
    detections[50] = np.concatenate([detections[50], glitch[None]])  # an extra, absurd detection
    tracks = track_people(detections)
    assert len(tracks) == 2
    _, chosen = select_person(tracks)
    assert np.isfinite(chosen[:, 0, 0]).sum() == 105
    # the same glitch in place of the person (a single-person detector): the person is still followed
    detections = normal_clip()
    detections[50] = glitch[None]
    _, chosen = select_person(track_people(detections))
    assert np.isfinite(chosen[:, 0, 0]).sum() == 104
    # and the image size, when known, bounds a box too
    _, chosen = select_person(track_people(detections, image_size=(640, 480)))
    assert np.isfinite(chosen[:, 0, 0]).sum() == 104


def test_median_size_is_robust_inside_a_track():
    track = np.stack([person_at(300, 250, 200) for _ in range(20)])
    glitched = track.copy()
    glitched[7, 3, :2] = [1e7, 1e7]  # one flying keypoint
    assert person_size(glitched) == person_size(track) == pytest.approx(200 * 20)


def test_infinite_coordinates_are_missing():
    detections = normal_clip()
    detections[30] = detections[30].copy()
    detections[30][0, 5, 0] = np.inf  # one coordinate
    detections[60] = np.full((1, 17, 3), np.inf)  # a whole person
    extra = person_at(100, 100, 50)
    extra[:, 1] = -np.inf
    detections[70] = np.concatenate([detections[70], extra[None]])  # a person with no finite point
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        tracks = track_people(detections)
        _, chosen = select_person(tracks)
        filled, detected = fill_gaps(chosen)
    assert len(tracks) == 1 and detected.sum() == 104 and not detected[60]
    assert np.isfinite(filled).all()
    assert filled[30, 5, 2] == 0  # the joint was interpolated
    np.testing.assert_allclose(filled[30, 5, :2], person_at(330, 250, 200)[5, :2])
    _, near = select_person(tracks, (330, 250))
    assert near is tracks[0]
