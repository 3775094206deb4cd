"""Follow people through a video: link per-frame detections into tracks, choose one, fill its gaps.

- :func:`track_people`: greedy frame-to-frame association of the detections (``[N, K, 3]`` per frame)
  by the distance between box centres relative to the box height; a detection that is too far from
  every recent track starts a new one (this is also how a single-person detector's switch from one
  person to another is caught).
- :func:`select_person`: the largest person (size × duration: the median box height over the frames the
  person is seen × the number of those frames; see :func:`person_size`), a track number (``0`` =
  largest), or the track nearest a pixel point ``(x, y)``.
- :func:`fill_gaps`: frames where the person is missing are linearly interpolated (held at the ends)
  and get confidence 0.
- :func:`consistent_sides`: undo the detector's left/right label swaps (MediaPipe swaps whole limbs,
  or the whole body, on people seen side-on, from behind or against the light) by choosing, for the
  legs and for the arms, the labelling over the whole clip that moves least from frame to frame.

Missing keypoints are NaN (:mod:`h2ot.infer.keypoints_io` turns each format's marker into NaN); a
non-finite coordinate (``inf``) in a detection is treated as missing too, and a detection with no finite
keypoint is no detection. One glitched frame cannot make a person "the largest": the size is a median,
and a box taller than ``BOX_LIMIT`` × the clip's median box height (or than ``BOX_LIMIT`` × the image,
when its size is given) counts at that limit.
"""
from __future__ import annotations

import numpy as np


#: a box taller than this many times the clip's median box height (or the image) counts only at that size
BOX_LIMIT = 10.0


def _box_points(points: np.ndarray) -> np.ndarray:
    """The ``[M, 2]`` keypoints that outline a person ``[K, 3]``: the confident ones (> 0.2) when there are
    at least 3, else those with a positive confidence, else all finite ones."""
    finite = np.isfinite(points[:, :2]).all(axis=-1)
    confidence = np.nan_to_num(points[:, 2], nan=0.0)
    confident = finite & (confidence > 0.2)
    if confident.sum() >= 3:
        return points[confident, :2]
    positive = finite & (confidence > 0)
    return points[positive if positive.any() else finite, :2]


def _box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and height of the box around the confident keypoints of ``[K, 3]``."""
    xy = _box_points(points)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        return lo / 2 + hi / 2, float(max(hi[1] - lo[1], hi[0] - lo[0], 1.0))


def _clean(people: np.ndarray) -> np.ndarray:
    """Detections ``[N, K, 3]`` with non-finite coordinates as missing (NaN) and people with no keypoint
    left dropped."""
    people = np.array(people, dtype=np.float64)
    if people.ndim != 3 or not len(people):
        return people
    bad = ~np.isfinite(people[..., :2]).all(axis=-1)
    people[bad] = np.nan
    return people[~bad.all(axis=-1)]


def track_people(detections: list[np.ndarray], max_gap: int = 15, max_jump: float = 0.5,
                 image_size=None) -> list[np.ndarray]:
    """Link detections into tracks. ``detections``: per frame ``[N, K, 3]``.

    A detection joins the track whose last box centre is nearest, if that distance is below
    ``max_jump × box height × (1 + frames since last seen / 10)`` and the track was seen within
    ``max_gap`` frames. Returns tracks ``[T, K, 3]`` (NaN where the person is absent), largest first
    (:func:`person_size`; ``image_size`` ``(w, h)``, when known, also bounds the box heights).
    Non-finite coordinates are missing keypoints.
    """
    num_frames = len(detections)
    detections = [_clean(d) for d in detections]
    keypoints = next((d.shape[1] for d in detections if len(d)), None)
    if keypoints is None:
        return []
    tracks: list[dict] = []
    heights = []
    for t, people in enumerate(detections):
        if not len(people):
            continue
        boxes = [_box(p) for p in people]
        heights += [h for _, h in boxes]
        pairs = []
        for i, (centre, height) in enumerate(boxes):
            for k, track in enumerate(tracks):
                gap = t - track["last"]
                if gap > max_gap:
                    continue
                size = max(height, track["height"])
                with np.errstate(over="ignore", invalid="ignore"):
                    dist = float(np.linalg.norm(centre - track["centre"])) / size
                if dist < max_jump * (1 + (gap - 1) / 10):
                    pairs.append((dist, i, k))
        used_i, used_k = set(), set()
        for _, i, k in sorted(pairs):
            if i in used_i or k in used_k:
                continue
            used_i.add(i), used_k.add(k)
            tracks[k]["frames"][t] = people[i]
            tracks[k].update(last=t, centre=boxes[i][0], height=boxes[i][1])
        for i, person in enumerate(people):
            if i not in used_i:
                tracks.append({"frames": {t: person}, "last": t, "centre": boxes[i][0], "height": boxes[i][1]})
    out = []
    for track in tracks:
        array = np.full((num_frames, keypoints, 3), np.nan)
        for t, person in track["frames"].items():
            array[t] = person
        out.append(array)
    limit = BOX_LIMIT * float(np.median(heights))
    if image_size is not None:
        limit = min(limit, BOX_LIMIT * float(max(image_size)))
    sizes = [person_size(a, limit) for a in out]
    return [out[k] for k in sorted(range(len(out)), key=lambda k: -sizes[k])]


def person_size(track: np.ndarray, limit: float | None = None) -> float:
    """Size × duration of a track ``[T, K, 3]``: the median box height over the frames it is present ×
    the number of those frames (so one glitched frame changes it little); heights above ``limit`` count as
    ``limit``."""
    heights = [_box(p)[1] for p in track if np.isfinite(p[:, :2]).all(axis=-1).any()]
    if not heights:
        return 0.0
    heights = np.asarray(heights)
    if limit is not None:
        heights = np.minimum(heights, limit)
    return float(np.median(heights) * len(heights))


def select_person(tracks: list[np.ndarray], person=None) -> tuple[int, np.ndarray]:
    """Choose one track: ``None`` → the largest; an int → that track (0 = largest); ``(x, y)`` → the track
    whose box comes nearest that pixel point. Returns ``(index, track)``."""
    if not tracks:
        raise ValueError("no person was detected")
    if person is None:
        return 0, tracks[0]
    if isinstance(person, (int, np.integer)):
        if not 0 <= person < len(tracks):
            raise ValueError(f"--person {person}: only {len(tracks)} person track(s) found "
                             f"(0 = the largest)")
        return int(person), tracks[person]
    point = np.asarray(person, dtype=np.float64)
    best, best_dist = 0, np.inf
    for k, track in enumerate(tracks):
        for p in track:
            if not np.isfinite(p[:, :2]).all(axis=-1).any():
                continue
            xy = _box_points(p)
            outside = np.maximum(0, np.maximum(xy.min(0) - point, point - xy.max(0)))
            dist = float(np.linalg.norm(outside))
            if dist < best_dist:
                best, best_dist = k, dist
    return best, tracks[best]


def fill_gaps(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing values (NaN) of ``[T, K, 3]`` keypoints: each joint is linearly interpolated in time
    over its gaps (held at the ends) and gets confidence 0 there. Returns ``(filled [T, K, 3],
    detected [T] bool)``, ``detected`` false where the whole person was missing. Raises if no frame has a
    pose."""
    from h2ot.infer.lifting import fill_joint_gaps

    keypoints = np.array(keypoints, dtype=np.float64)
    keypoints[~np.isfinite(keypoints[..., :2]).all(axis=-1)] = np.nan  # inf: missing
    detected = ~np.isnan(keypoints[..., :2]).all(axis=(1, 2))
    if not detected.any():
        raise ValueError("no person was detected in any frame: nothing to lift")
    seen = ~(np.isnan(keypoints[..., :2]).any(-1) | np.isnan(keypoints[..., 2]))
    never = np.flatnonzero(~seen.any(axis=0))
    if len(never):
        raise ValueError(f"keypoint(s) {never.tolist()} of the chosen person are missing in every frame (NaN, "
                         f"or confidence 0 in a JSON keypoint file): there is nothing to interpolate them from")
    return fill_joint_gaps(keypoints), detected


#: Human3.6M-17 limb groups whose left/right labels are checked together: (right joints, left joints)
SIDE_GROUPS = {"legs": ((1, 2, 3), (4, 5, 6)), "arms": ((14, 15, 16), (11, 12, 13))}


def consistent_sides(keypoints: np.ndarray, penalty: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Undo left/right label swaps in a Human3.6M-17 track ``[T, 17, C]`` (pixels or normalised; no NaN).

    For each limb group of :data:`SIDE_GROUPS` (hip-knee-ankle, shoulder-elbow-wrist) every frame is
    either kept or swapped. The choice minimises, over the whole clip (dynamic programming, two states
    per frame), the summed 2D distance the group's joints move between consecutive frames plus
    ``penalty`` × the median torso length (pelvis–thorax) for each swapped frame, so a labelling the
    detector holds for the whole clip is never overturned, only its sudden flips. ``benchmarks/sides.py``
    measures it on CMU tracks (docs/video.md, "Left and right"). Returns ``(fixed copy, swapped [T, 2]
    bool: legs, arms)``.
    """
    keypoints = np.array(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1] != 17:
        raise ValueError(f"consistent_sides expects Human3.6M-17 keypoints [T, 17, C], found {keypoints.shape}")
    if np.isnan(keypoints[..., :2]).any():
        raise ValueError("consistent_sides needs a track without gaps (fill them first)")
    torso = float(np.median(np.linalg.norm(keypoints[:, 0, :2] - keypoints[:, 8, :2], axis=-1)))
    cost_of_swap = penalty * max(torso, 1e-9)
    swapped = np.zeros((len(keypoints), len(SIDE_GROUPS)), dtype=bool)
    for g, (right, left) in enumerate(SIDE_GROUPS.values()):
        kept, flipped = list(right + left), list(left + right)
        states = np.stack([keypoints[:, kept, :2], keypoints[:, flipped, :2]])  # [2, T, 6, 2]
        # motion[a, b, t]: distance moved from state a at t-1 to state b at t
        motion = np.linalg.norm(states[None, :, 1:] - states[:, None, :-1], axis=-1).sum(-1)
        total = np.array([0.0, cost_of_swap])
        came_from = np.zeros((len(keypoints), 2), dtype=int)
        for t in range(1, len(keypoints)):
            options = total[:, None] + motion[:, :, t - 1]  # [from, to]
            came_from[t] = options.argmin(axis=0)
            total = options.min(axis=0) + np.array([0.0, cost_of_swap])
        state = int(total.argmin())
        for t in range(len(keypoints) - 1, -1, -1):
            swapped[t, g] = bool(state)
            state = came_from[t, state]
        keypoints[np.ix_(swapped[:, g], kept)] = keypoints[np.ix_(swapped[:, g], flipped)]
    return keypoints, swapped
