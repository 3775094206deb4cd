"""The dataset builder (:func:`build_mocap_dataset`) and its writer (no pickles: :func:`save_npz_atomic`)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ...fileio import atomic_path
from ..skeleton import H36M_LEFT, H36M_RIGHT, derive_torso
from .bones import bone_stats, h36m_bone_lengths, retarget_clip
from .cameras import h36m_like_cameras, random_cameras, render_2d
from .clip import MocapClip, load_bvh_h36m
from .noise import add_detector_noise
from .sources import SOURCE_OF_PRESET, SOURCES, _check_free, bvh_files, clip_subjects, folder_licence


def build_mocap_dataset(src, out, fps: float = 50.0, cameras: str | int = "h36m",
                        noise: bool = True, seed: int = 0, mapping=None,
                        test_subjects=None, bones: str = "recorded",
                        bone_jitter: float = 0.0, joints: str = "rig", train_2d: bool = True,
                        free_only: bool = False) -> dict:
    """Convert every ``*.bvh`` / ``*.bvh.gz`` under ``src`` (a folder or one clip file, or a list
    of them, one per source) and write a VideoPose3D-layout npz to ``out``.

    The npz holds ``positions_3d[subject][clip]`` ``[T, 17, 3]`` world metres,
    ``positions_2d[subject][clip]`` a list (one per camera) of ``[T, 17, 2]`` pixels (or
    ``[T, 17, 3]`` with a confidence when ``noise``), ``metadata`` (layout, joint symmetry, fps,
    split, sources and their licences) and ``cameras[subject]`` (a list of camera dicts, translation in
    metres; for ``cameras="wide"`` a dict ``{clip: [camera dicts]}``, the cameras being drawn per clip).
    ``cameras``: "h36m" (four fixed Human3.6M-like views), an int (that many random Human3.6M-like cameras
    per subject, seeded) or ``"wide"`` / ``"wide:N"`` (N, default 2, cameras per clip from
    :class:`h2ot.data.views.ViewRange`: phones to lab cameras, portrait and landscape).
    Subjects and the held-out split come from each clip's :class:`Source`; ``test_subjects`` overrides
    the split. ``bones``: "recorded" (the rig's own bone lengths) or "h36m" (every clip retargeted to
    the Human3.6M reference lengths, :func:`h36m_bone_lengths`; with ``bone_jitter`` > 0 each clip a
    random person around them). ``joints="detector"`` re-derives the pelvis, spine and thorax from the
    hips and shoulders as from a detector's keypoints (:func:`h2ot.data.skeleton.derive_torso`).
    ``train_2d=False`` renders 2D for the test subjects only (training then draws views on the fly).
    ``free_only``: refuse any source whose licence is not known to allow any use (a licence file, or the
    licence a known collection documents, :attr:`Source.licence`). Returns a summary dict (clips,
    frames per split, bone stats).
    """
    from ..views import ViewRange, render_view, sample_view

    if bones not in ("recorded", "h36m"):
        raise ValueError(f"bones must be 'recorded' or 'h36m', got {bones!r}")
    if joints not in ("rig", "detector"):
        raise ValueError(f"joints must be 'rig' or 'detector', got {joints!r}")
    if not 0 <= bone_jitter < 0.5:
        raise ValueError(f"bone_jitter must be in [0, 0.5), got {bone_jitter}")
    wide = isinstance(cameras, str) and cameras.startswith("wide")
    if wide and joints != "detector":
        raise ValueError("--cameras wide renders the torso joints from the projected hips and shoulders, as from a "
                         "detector; use it with --joints detector so that the 3D is defined the same way")
    views_per_clip = int(cameras.partition(":")[2] or 2) if wide else 0
    src_paths = [Path(f) for f in ([src] if isinstance(src, (str, Path)) else src)]  # folders, or single clips
    files, licences = [], {}
    for src_path in src_paths:
        if not src_path.exists():
            raise FileNotFoundError(f"mocap source not found: {src_path} (a folder of .bvh / .bvh.gz files, or one)")
        found = bvh_files(src_path)
        if not found:
            raise FileNotFoundError(f"no .bvh or .bvh.gz files in {src_path}")
        licences[str(src_path)] = folder_licence(src_path)
        if free_only and licences[str(src_path)] == "non-commercial":  # fail before reading anything
            _check_free(src_path, licences[str(src_path)])
        files += [(src_path, f) for f in found]
    rng = np.random.default_rng(seed)
    clips = [load_bvh_h36m(f, mapping=mapping, fps=fps) for _, f in files]
    for (src_path, _), clip in zip(files, clips):  # a collection's documented licence where no file says it
        documented = SOURCES[SOURCE_OF_PRESET.get(clip.preset, "custom")].licence
        if licences[str(src_path)] == "unstated" and documented:
            licences[str(src_path)] = documented
    if free_only:
        for src_path, licence in licences.items():
            _check_free(src_path, licence)
    if bones == "h36m":
        clips = [retarget_clip(c, h36m_bone_lengths(rng, bone_jitter)) for c in clips]
    if joints == "detector":
        clips = [replace(c, positions=derive_torso(c.positions).astype(np.float32)) for c in clips]
    subjects, test = clip_subjects(clips, test_subjects)
    seen: dict[tuple[str, str], Path] = {}
    for (_, path), clip, subject in zip(files, clips, subjects):
        if (subject, clip.name) in seen:
            raise ValueError(f"{path}: a clip named {clip.name!r} of subject {subject!r} was already read from "
                             f"{seen[subject, clip.name]}; give one copy of each clip (e.g. --src …/cmu/daz, not …/cmu)")
        seen[subject, clip.name] = path

    by_subject: dict[str, list[MocapClip]] = {}
    for clip, subject in zip(clips, subjects):
        by_subject.setdefault(subject, []).append(replace(clip, subject=subject))

    positions_3d, positions_2d, camera_dicts = {}, {}, {}
    for subject, subject_clips in sorted(by_subject.items()):
        positions_3d[subject] = {c.name: c.positions for c in subject_clips}
        if not (train_2d or subject in test):
            continue
        roots = np.concatenate([c.positions[:, 0, :2] for c in subject_clips])
        centre = roots.mean(axis=0)
        radius = float(np.linalg.norm(roots - centre, axis=1).max())
        if wide:
            cams = {c.name: [sample_view(rng, c.positions, ViewRange(), f"wide{i}") for i in range(views_per_clip)]
                    for c in subject_clips}
            camera_dicts[subject] = {name: [c.to_dict() for c in cs] for name, cs in cams.items()}
        else:
            shared = (h36m_like_cameras(centre, radius) if cameras == "h36m"
                      else random_cameras(int(cameras), rng, centre, radius))
            cams = {c.name: shared for c in subject_clips}
            camera_dicts[subject] = [c.to_dict() for c in shared]
        positions_2d[subject] = {}
        for clip in subject_clips:
            views = []
            for cam in cams[clip.name]:
                if wide:  # pixels through the ideal pinhole, torso from the projected hips and shoulders
                    kp, _ = render_view(clip.positions, cam, rng, noise)
                    pix = cam.denormalize(kp[..., :2])
                    pix = np.concatenate([pix, kp[..., 2:]], axis=-1) if noise else pix
                else:
                    pix = render_2d(clip.positions, cam)
                    if noise:
                        pix = add_detector_noise(pix, rng)
                views.append(pix.astype(np.float32))
            positions_2d[subject][clip.name] = views

    frames = {"train": 0, "test": 0}
    for clip, subject in zip(clips, subjects):
        frames["test" if subject in test else "train"] += clip.positions.shape[0]
    sources = sorted({SOURCE_OF_PRESET.get(c.preset, "custom") for c in clips})
    metadata = {
        "layout_name": "h36m", "num_joints": 17,
        "keypoints_symmetry": [list(H36M_LEFT), list(H36M_RIGHT)],
        "fps": float(fps), "source": ",".join(str(f) for f in src_paths), "noise": bool(noise),
        "cameras": str(cameras), "seed": int(seed), "bones": bones, "bone_jitter": float(bone_jitter),
        "joints": joints, "train_2d": bool(train_2d),
        "subjects_test": [s for s in sorted(by_subject) if s in test],
        "subjects_train": [s for s in sorted(by_subject) if s not in test],
        "presets": sorted({c.preset for c in clips}), "sources": sources, "licences": licences,
        "noncommercial": any(v == "non-commercial" for v in licences.values()),
    }
    save_npz_atomic(out, positions_3d=positions_3d, positions_2d=positions_2d,
                    metadata=metadata, cameras=camera_dicts)
    return {"clips": len(clips), "subjects": len(by_subject), "frames": frames,
            "cameras_per_subject": views_per_clip or len(next(iter(camera_dicts.values()), [])),
            "dropped_leading_frames": sum(c.dropped for c in clips),
            "bone_stats": bone_stats([c.positions for c in clips]), "metadata": metadata}


def save_npz_atomic(path, **arrays) -> None:
    """A compressed npz without pickles, written whole or not at all (:func:`h2ot.fileio.atomic_path`).

    Dicts and lists (VideoPose3D's ``positions_3d[subject][clip]`` …, ``cameras``, ``metadata``) are stored
    as JSON members whose arrays are members of their own (:func:`h2ot.data.sequences.npz_members`), so
    ``np.load(path, allow_pickle=False)`` opens every member; :func:`h2ot.data.sequences.load_vp3d` and the
    other readers return the same dicts as from VideoPose3D's pickled layout."""
    import zipfile

    from ..sequences import npz_members

    members = npz_members(arrays)  # refuses what would need a pickle before anything is written
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, array in members.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
