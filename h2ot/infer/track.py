"""Follow people through a video: link per-frame detections into tracks, choose one, fill its gaps.

- :func:`track_people`: greedy frame-to-frame association of the detections (``[N, K, 3]`` per frame)
  by the distance between box centres relative to the box height; a detection that is too far from
  every recent track starts a new one (this is also how a single-person detector's switch from one
  person to another is caught).
- :func:`select_person`: the largest person (sum of box heights over the frames they are seen: size ×
  duration), a track number (``0`` = largest), or the track nearest a pixel point ``(x, y)``.
- :func:`fill_gaps`: frames where the person is missing are linearly interpolated (held at the ends)
  and get confidence 0.
"""
from __future__ import annotations

import numpy as np


def _box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and height of the box around the confident keypoints of ``[K, 3]``."""
    good = points[:, 2] > 0.2
    xy = points[good, :2] if good.sum() >= 3 else points[:, :2]
    lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
    return (lo + hi) / 2, float(max(hi[1] - lo[1], hi[0] - lo[0], 1.0))


def track_people(detections: list[np.ndarray], max_gap: int = 15, max_jump: float = 0.5) -> list[np.ndarray]:
    """Link detections into tracks. ``detections``: per frame ``[N, K, 3]``.

    A detection joins the track whose last box centre is nearest, if that distance is below
    ``max_jump × box height × (1 + frames since last seen / 10)`` and the track was seen within
    ``max_gap`` frames. Returns tracks ``[T, K, 3]`` (NaN where the person is absent), largest first.
    """
    num_frames = len(detections)
    keypoints = next((d.shape[1] for d in detections if len(d)), None)
    if keypoints is None:
        return []
    tracks: list[dict] = []
    for t, people in enumerate(detections):
        if not len(people):
            continue
        boxes = [_box(p) for p in people]
        pairs = []
        for i, (centre, height) in enumerate(boxes):
            for k, track in enumerate(tracks):
                gap = t - track["last"]
                if gap > max_gap:
                    continue
                size = max(height, track["height"])
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
    return sorted(out, key=lambda a: -person_size(a))


def person_size(track: np.ndarray) -> float:
    """Sum over the frames a track is present of its box height (size × duration)."""
    return float(sum(_box(p)[1] for p in track if not np.isnan(p[:, :2]).all()))


def track_summary(track: np.ndarray) -> dict:
    seen = ~np.isnan(track[..., :2]).all(axis=(1, 2))
    frames = np.flatnonzero(seen)
    return {"frames_seen": int(seen.sum()), "first": int(frames[0]) if len(frames) else None,
            "last": int(frames[-1]) if len(frames) else None, "size": person_size(track)}


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
            if np.isnan(p[:, :2]).all():
                continue
            good = p[:, 2] > 0.2
            xy = p[good, :2] if good.sum() >= 3 else p[:, :2]
            outside = np.maximum(0, np.maximum(np.nanmin(xy, 0) - point, point - np.nanmax(xy, 0)))
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

    keypoints = np.asarray(keypoints, dtype=np.float64)
    detected = ~np.isnan(keypoints[..., :2]).all(axis=(1, 2))
    if not detected.any():
        raise ValueError("no person was detected in any frame: nothing to lift")
    return fill_joint_gaps(keypoints), detected
