"""Training configuration: dataclasses loaded from YAML, overridable with ``key=value`` strings.

A config file has up to four sections plus a few top-level keys::

    model:  {name: mixste, frames: 81, depth: 4, dim: 64, schedule: "1:41,2:27", pruning: sampler, ...}
    data:   {train: [runs/data/cmu_h36m.npz], stride: 27, flip_augment: true, ...}
    optim:  {recipe: mixste, lr: 5.0e-4, epochs: 10, batch_size: 32, ...}
    loss:   {weighted_mpjpe: 1.0, tc: 0.5, mpjve: 2.0, ...}
    out: runs/mixste_small
    seed: 1126

Precedence (lowest first): dataclass defaults < the recipe preset named by ``optim.recipe`` (the
authors' recipes, docs/method.md section 8) < the YAML file < ``--set`` overrides. Unknown keys and
wrong types raise a :class:`ConfigError` naming the key, what was expected and what was found.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import yaml


class ConfigError(ValueError):
    """A user error in a training config (unknown key, wrong type, bad value, missing file)."""


@dataclass
class ModelConfig:
    """What ``create_model(name, pruning, recovery, schedule, pipeline, **size)`` builds."""

    name: str = "mixste"
    variant: Optional[str] = None        # a named size of the backbone (motionbert lite|full, motionagformer xs|s|b|l)
    # Sizes: None leaves the backbone's own default (or its variant's); only what the config sets is passed.
    frames: Optional[int] = None
    depth: Optional[int] = None
    dim: Optional[int] = None
    num_heads: Optional[int] = None
    mlp_hidden: Optional[int] = None
    in_channels: Optional[int] = None
    drop_path_rate: Optional[float] = None
    pipeline: Optional[str] = None       # default: the backbone's own
    schedule: Optional[str] = None       # "layer:tokens,..." e.g. "3:81" (HoT) or "1:121,3:81,5:27" (H2OT)
    pruning: Optional[str] = None        # cluster | attention | motion | sampler
    recovery: Optional[str] = None       # attention | interpolation
    input_norm: Optional[str] = None     # window: the model normalises each window's 2D position and scale
    extra: dict = field(default_factory=dict)  # other backbone arguments, passed through

    _SIZE_KEYS = ("variant", "frames", "depth", "dim", "num_heads", "mlp_hidden", "in_channels",
                  "drop_path_rate")

    def create_kwargs(self) -> dict:
        """Keyword arguments for ``create_model(self.name, **kwargs)``: the tokenizer settings and only the
        sizes the config sets (``create_model`` validates them against the backbone)."""
        size = {k: getattr(self, k) for k in self._SIZE_KEYS if getattr(self, k) is not None}
        size.update(self.extra)
        return dict(pruning=self.pruning, recovery=self.recovery, schedule=self.schedule,
                    pipeline=self.pipeline, input_norm=self.input_norm, **size)


@dataclass
class DataConfig:
    """Datasets in the VideoPose3D npz layout (``h2ot data mocap`` output, Human3.6M files)."""

    train: list = field(default_factory=list)   # npz file(s) with positions_3d (+ positions_2d, cameras)
    data_2d: Optional[str] = None               # separate 2D file (Human3.6M); default: the 2D in `train`
    test: Optional[str] = None                  # test file; default: the first train file
    test_2d: Optional[str] = None
    train_subjects: Optional[list] = None       # default: metadata["subjects_train"], else S1 S5 S6 S7 S8
    test_subjects: Optional[list] = None        # default: metadata["subjects_test"], else S9 S11
    cameras: Optional[list] = None              # keep only these camera indices (default: all)
    stride: Optional[int] = None                # training window stride (default: frames // 3)
    stride_by_prefix: dict = field(default_factory=dict)  # with virtual_views: another stride for the
                                                # subjects whose name starts so, e.g. {R: 243} (ReActIdle)
    flip_augment: bool = True
    pad_short: bool = True                      # edge-pad training sequences shorter than a window
    scale_augment: float = 0.0                  # random 2D scale about the root per clip: x (1 +- this), uniform
    shift_augment: float = 0.0                  # random 2D shift per clip, +- this (normalised units)
    num_workers: int = 0
    virtual_views: bool = False                 # train on positions_3d seen by a fresh random camera per window
    view_noise: bool = True                     # with virtual_views: the detector-noise model on the 2D
    view_noise_model: str = "gaussian"          # which: gaussian (the first recipes') or video (matched to
                                                # MediaPipe; h2ot.data.mocap.NOISE_MODELS)
    bone_jitter: Optional[float] = None         # with virtual_views: a random person per window around the
                                                # Human3.6M bone lengths (size 1 +- this); None keeps the data's
    free_only: bool = False                     # refuse training files built from non-commercial sources


@dataclass
class LossConfig:
    """Weights of the loss terms (0 turns a term off); see :mod:`h2ot.losses`."""

    mpjpe: float = 0.0            # plain MPJPE
    weighted_mpjpe: float = 1.0   # MPJPE with the MixSTE joint weights
    tc: float = 0.5               # temporal consistency: weighted mean squared frame difference
    mpjve: float = 2.0            # velocity error
    n_mpjpe: float = 0.0          # scale-normalised MPJPE
    reprojection: float = 0.0     # the 3D vs its 2D input under the best weak-perspective camera (fraction of size)
    joint_weights: Optional[list] = None  # default: MixSTE's [1,1,2.5,2.5,1,2.5,2.5,1,1,1,1.5,1.5,4,4,1.5,4,4]


@dataclass
class OptimConfig:
    recipe: Optional[str] = None   # mixste | mhformer | motionbert | motionagformer (presets, method.md §8)
    optimizer: str = "adamw"       # adamw | adam
    lr: float = 4e-5
    weight_decay: float = 0.1
    amsgrad: bool = False
    lr_decay: float = 0.99         # multiplied into the lr after every epoch
    epochs: int = 160
    batch_size: int = 4
    grad_clip: float = 0.0         # max gradient norm; 0 = off
    amp: str = "none"              # none | bf16 | fp16 (CUDA only; ignored with a warning on CPU)
    max_steps_per_epoch: int = 0   # 0 = a full pass; otherwise cut the epoch (smoke tests, budgets)


@dataclass
class EvalConfig:
    every: int = 1                 # evaluate every N epochs (and always after the last); 0 = never (when
                                   # candidates are chosen on validation sets, the test set stays unseen)
    flip: bool = True              # flip test-time augmentation
    protocol: str = "mpjpe,p-mpjpe"
    batch_size: int = 64


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    out: str = "runs/train"
    init: Optional[str] = None     # fine-tune: start from these weights (h2ot checkpoint or shipped weights)
    seed: int = 1126
    device: str = "auto"           # auto | cpu | cuda | cuda:N
    threads: int = 0               # torch.set_num_threads on CPU; 0 = leave torch's default
    progress: bool = True          # a progress line per epoch on stderr
    tensorboard: bool = True       # write TensorBoard events when the package is installed
    deterministic: bool = False    # torch.use_deterministic_algorithms (slower on CUDA)
    retain_memory: bool = True     # CPU: keep freed memory for reuse (h2ot.memory): no page faults per step


# The authors' recipes (docs/method.md section 8). Values a recipe does not name keep the defaults.
RECIPES: dict[str, dict] = {
    "mixste": {  # MixSTE / HoT / H2OT w. MixSTE
        "optim": dict(optimizer="adamw", lr=4e-5, weight_decay=0.1, lr_decay=0.99, epochs=160, batch_size=4),
        "loss": dict(mpjpe=0.0, weighted_mpjpe=1.0, tc=0.5, mpjve=2.0, n_mpjpe=0.0),
        "seed": 1126,
    },
    "mhformer": {  # MHFormer / TPC w. MHFormer (seq2frame)
        "optim": dict(optimizer="adam", amsgrad=True, lr=1e-3, weight_decay=0.0, lr_decay=0.95, epochs=20,
                      batch_size=128),
        "loss": dict(mpjpe=1.0, weighted_mpjpe=0.0, tc=0.0, mpjve=0.0, n_mpjpe=0.0),
    },
    "motionbert": {  # MotionBERT (Lite): MPJPE + 0.5 N-MPJPE + 20 velocity
        "optim": dict(optimizer="adamw", lr=5e-4, weight_decay=0.01, lr_decay=0.99, epochs=120, batch_size=32),
        "loss": dict(mpjpe=1.0, weighted_mpjpe=0.0, tc=0.0, mpjve=20.0, n_mpjpe=0.5),
    },
    "motionagformer": {
        "optim": dict(optimizer="adamw", lr=5e-4, weight_decay=0.01, lr_decay=0.99, epochs=90, batch_size=16),
        "loss": dict(mpjpe=1.0, weighted_mpjpe=0.0, tc=0.0, mpjve=20.0, n_mpjpe=0.5),
    },
}

CHOICES = {
    "optim.optimizer": ("adamw", "adam"),
    "optim.amp": ("none", "bf16", "fp16"),
    "optim.recipe": (None, *RECIPES),
    "model.pipeline": (None, "seq2seq", "seq2frame"),
    "model.input_norm": (None, "window"),
    "data.view_noise_model": ("gaussian", "video"),  # the names of h2ot.data.mocap.NOISE_MODELS
}


# ----------------------------------------------------------------------------------------------
# dict <-> dataclass with type checks
# ----------------------------------------------------------------------------------------------

def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _coerce(value, tp, key: str):
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(f"{key}: expected {_type_name(tp)}, found {value!r} ({type(value).__name__})")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)) and key.endswith("schedule"):  # [[3, 81], ...] -> "3:81"
            try:
                return ",".join(f"{int(a)}:{int(b)}" for a, b in value)
            except (TypeError, ValueError):
                pass
    elif tp is list or origin is list:
        if isinstance(value, (list, tuple)):
            return list(value)
        if isinstance(value, (str, int)) and not isinstance(value, bool):  # a single item
            return [value]
    elif tp is dict or origin is dict:
        if isinstance(value, dict):
            return dict(value)
    else:  # pragma: no cover
        raise ConfigError(f"{key}: unsupported type {tp}")
    raise ConfigError(f"{key}: expected {_type_name(tp)}, found {value!r} ({type(value).__name__})")


def _from_dict(cls, data: dict, prefix: str = ""):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, found {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key(s) {[prefix + k for k in unknown]}; valid keys"
                          f"{' in ' + prefix.rstrip('.') if prefix else ''}: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _from_dict(tp, value, f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, tp, prefix + name)
    return cls(**kwargs)


def _deep_update(base: dict, new: dict) -> dict:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "extra":
            _deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def parse_overrides(pairs: list[str] | None) -> dict:
    """``["optim.lr=1e-3", "model.schedule=3:81"]`` → a nested dict; values are parsed as YAML."""
    out: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value (e.g. optim.lr=1e-3), found {pair!r}")
        key, raw = pair.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"--set: empty key in {pair!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str) and key.split(".")[-1] == "schedule":
            value = raw.strip()
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section")
        node[parts[-1]] = value
    return out


def build_config(raw: dict | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from a nested dict: defaults < recipe < ``raw``; validated."""
    raw = copy.deepcopy(raw or {})
    if not isinstance(raw, dict):
        raise ConfigError(f"config: expected a mapping at the top level, found {type(raw).__name__}")
    recipe = (raw.get("optim") or {}).get("recipe") if isinstance(raw.get("optim"), dict) else None
    merged: dict = {}
    if recipe is not None:
        if recipe not in RECIPES:
            raise ConfigError(f"optim.recipe: unknown recipe {recipe!r}; expected one of {sorted(RECIPES)}")
        _deep_update(merged, RECIPES[recipe])
    _deep_update(merged, raw)
    cfg = _from_dict(TrainConfig, merged)
    validate(cfg)
    return cfg


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML file (optional) and apply ``key=value`` overrides."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            raise ConfigError(f"{path}: not valid YAML ({where}{getattr(err, 'problem', None) or err})") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, found {type(raw).__name__}")
    _deep_update(raw, parse_overrides(overrides))
    return build_config(raw)


def to_dict(cfg: TrainConfig) -> dict:
    """Plain nested dict (YAML/JSON/``torch.save(weights_only)`` safe)."""
    return dataclasses.asdict(cfg)


def validate(cfg: TrainConfig, check_files: bool = False) -> None:
    """Value checks that need no data; ``check_files`` also checks that every data file exists."""
    for section in ("model", "data", "optim", "loss", "eval"):
        part = getattr(cfg, section, None)
        for f in dataclasses.fields(part) if dataclasses.is_dataclass(part) else ():
            value = getattr(part, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{section}.{f.name}: expected a finite number, found {value}")
    for key, choices in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in choices:
            raise ConfigError(f"{key}: expected one of {[c for c in choices if c is not None]}, found {value!r}")
    positive = {"model.frames": cfg.model.frames, "model.depth": cfg.model.depth, "model.dim": cfg.model.dim,
                "model.num_heads": cfg.model.num_heads, "model.mlp_hidden": cfg.model.mlp_hidden,
                "optim.epochs": cfg.optim.epochs, "optim.batch_size": cfg.optim.batch_size,
                "eval.batch_size": cfg.eval.batch_size}
    for key, value in positive.items():
        if value is not None and value < 1:
            raise ConfigError(f"{key}: must be >= 1, found {value}")
    if cfg.eval.every < 0:
        raise ConfigError(f"eval.every: must be >= 0 (0 = never evaluate), found {cfg.eval.every}")
    if cfg.optim.lr <= 0:
        raise ConfigError(f"optim.lr: must be > 0, found {cfg.optim.lr}")
    if not 0 < cfg.optim.lr_decay <= 1:
        raise ConfigError(f"optim.lr_decay: must be in (0, 1], found {cfg.optim.lr_decay}")
    if cfg.optim.grad_clip < 0 or cfg.optim.max_steps_per_epoch < 0:
        raise ConfigError("optim.grad_clip and optim.max_steps_per_epoch must be >= 0")
    if cfg.model.drop_path_rate is not None and not 0 <= cfg.model.drop_path_rate < 1:
        raise ConfigError(f"model.drop_path_rate: must be in [0, 1), found {cfg.model.drop_path_rate}")
    if cfg.model.in_channels not in (None, 2, 3):
        raise ConfigError(f"model.in_channels: expected 2 or 3, found {cfg.model.in_channels}")
    if not 0 <= cfg.data.scale_augment < 1 or cfg.data.shift_augment < 0:
        raise ConfigError(f"data.scale_augment must be in [0, 1) and data.shift_augment >= 0, found "
                          f"{cfg.data.scale_augment}, {cfg.data.shift_augment}")
    if cfg.data.stride is not None and cfg.data.stride < 1:
        raise ConfigError(f"data.stride: must be >= 1, found {cfg.data.stride}")
    if cfg.loss.joint_weights is not None and len(cfg.loss.joint_weights) != 17:
        raise ConfigError(f"loss.joint_weights: expected 17 numbers, found {len(cfg.loss.joint_weights)}")
    terms = ("mpjpe", "weighted_mpjpe", "tc", "mpjve", "n_mpjpe")
    if not any(getattr(cfg.loss, t) for t in terms):
        raise ConfigError(f"loss: every term weight is 0; set at least one of {list(terms)}")
    if check_files:
        if cfg.init is not None and not Path(cfg.init).is_file():
            raise ConfigError(f"init: weights file not found: {cfg.init}")
        if not cfg.data.train:
            raise ConfigError("data.train: no training file given (e.g. data.train=[runs/data/cmu_h36m.npz])")
        for key, paths in (("data.train", cfg.data.train), ("data.data_2d", [cfg.data.data_2d]),
                           ("data.test", [cfg.data.test]), ("data.test_2d", [cfg.data.test_2d])):
            for p in paths:
                if p is not None and not Path(p).is_file():
                    raise ConfigError(f"{key}: dataset file not found: {p} (build the CMU file with "
                                      "`h2ot data mocap --src ../shared/data/cmu/daz --out FILE.npz`)")
