"""Which data a run trains and is tested on: the config's files, subjects, cameras and held-out split
(:func:`load_training_data`), the test set of any supported file (:func:`load_test_sequences`), and the
training windows (:func:`training_windows`)."""
from __future__ import annotations

from h2ot.config import ConfigError, DataConfig

from .h36m import SUBJECTS_TEST, SUBJECTS_TRAIN
from .humaneva import load_humaneva
from .sequences import Sequence, load_3dhp, load_vp3d, npz_metadata
from .views import VirtualViewWindows, load_world_clips
from .windows import PoseWindows


def _is_humaneva(meta: dict) -> bool:
    return (str(meta.get("layout_name", "")).lower().startswith("humaneva")
            or meta.get("num_joints") == 15)


def load_test_sequences(data: str, data_2d: str | None = None, subjects=None,
                        fps: float | None = None, split: str | None = None) -> list[Sequence]:
    """Test sequences from a data file: MPI-INF-3DHP (key ``data``) or VideoPose3D layout; for the
    latter the test subjects are ``subjects``, else the file's ``metadata["subjects_test"]``, else
    Human3.6M's S9, S11. HumanEva-I (the 2D file's ``metadata`` says ``humaneva15`` / 15 joints):
    the Validate split (``split="Train"``: its Train split, a validation set), Walk/Jog/Box, all 3 cameras,
    resampled to ``fps`` (default 50), scored on its 15 joints (:func:`h2ot.data.humaneva.load_humaneva`);
    ``split`` is refused for other files."""
    keys, meta = npz_metadata(data)
    meta_2d = npz_metadata(data_2d)[1] if data_2d is not None else {}
    humaneva = "data" not in keys and (_is_humaneva(meta) or _is_humaneva(meta_2d))
    if split is not None and not humaneva:
        raise ValueError(f"{data}: a split ({split!r}) can be chosen for HumanEva-I only; other files' test "
                         "subjects are chosen with --subjects")
    if "data" in keys:
        return load_3dhp(data)
    if humaneva:
        return load_humaneva(data, data_2d, split=split or "Validate", fps=float(fps or 50.0), subjects=subjects)
    if subjects is None:
        subjects = meta.get("subjects_test") or SUBJECTS_TEST
    return load_vp3d(data, data_2d, subjects=subjects)


def keep_cameras(sequences, cameras):
    """The sequences whose camera index (per subject and action, in file order) is in ``cameras`` (None: all)."""
    if cameras is None:
        return sequences
    counter: dict = {}
    kept = []
    for seq in sequences:
        index = counter.get((seq.subject, seq.action), 0)
        counter[(seq.subject, seq.action)] = index + 1
        if index in cameras:
            kept.append(seq)
    return kept


def load_training_data(cfg: DataConfig, with_test: bool = True):
    """Training and test data from a config's ``data`` section: lists of :class:`~h2ot.data.Sequence`, or,
    with ``virtual_views``, ``(subject, world clip [T, 17, 3])`` pairs for training. ``with_test=False``:
    the test file is not read (the test list is empty)."""
    train = []
    for path in cfg.train:
        meta = npz_metadata(path)[1]
        if cfg.free_only and meta.get("noncommercial"):
            raise ConfigError(f"data.train: {path} was built from a non-commercial source "
                              f"({meta.get('licences')}); data.free_only refuses it")
        subjects = cfg.train_subjects or meta.get("subjects_train") or list(SUBJECTS_TRAIN)
        if cfg.virtual_views:  # world clips; views are drawn per window
            train += load_world_clips(path, subjects)
        else:
            train += load_vp3d(path, cfg.data_2d, subjects=subjects)
    if not cfg.virtual_views:
        train = keep_cameras(train, cfg.cameras)
    if not train:
        raise ConfigError(f"no training sequences in {cfg.train} (subjects {cfg.train_subjects}, "
                          f"cameras {cfg.cameras})")
    if not with_test:
        return train, []
    test_path = cfg.test or cfg.train[0]
    test_2d = cfg.test_2d if cfg.test else (cfg.test_2d or cfg.data_2d)
    subjects = cfg.test_subjects
    if subjects is None and not npz_metadata(test_path)[1].get("subjects_test"):
        subjects = list(SUBJECTS_TEST)
    return train, keep_cameras(load_test_sequences(test_path, test_2d, subjects), cfg.cameras)


def training_windows(cfg: DataConfig, train: list, frames: int, in_channels: int):
    """The training windows of ``frames`` frames: fixed views (:class:`PoseWindows`) or a fresh virtual
    camera per window (:class:`VirtualViewWindows`, ``stride_by_prefix`` per subject name)."""
    stride = cfg.stride or max(frames // 3, 1)
    try:
        if cfg.virtual_views:
            strides = [next((int(v) for k, v in cfg.stride_by_prefix.items() if subject.startswith(k)), stride)
                       for subject, _ in train]
            return VirtualViewWindows([clip for _, clip in train], frames, strides, in_channels=in_channels,
                                      flip_augment=cfg.flip_augment,
                                      noise=cfg.view_noise and cfg.view_noise_model,
                                      bone_jitter=cfg.bone_jitter)
        return PoseWindows(train, frames, "seq2seq", train=True, stride=stride, flip_augment=cfg.flip_augment,
                           in_channels=in_channels, pad_short=cfg.pad_short)
    except ValueError as err:
        raise ConfigError(f"data: {err}") from None
