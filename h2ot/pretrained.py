"""The pretrained models shipped with the package, and safe loading of h2ot weights.

``h2ot.load_pretrained(name)`` returns a shipped H2OT w. MixSTE model in eval mode, ready for inference
(the docs, "The shipped models" in docs/training.md): ``"free"`` (``h2ot_mixste_free``, trained on data free for any use),
``"nc"`` (``h2ot_mixste_nc``, also trained on non-commercial data: CC BY-NC 4.0), the default
:data:`DEFAULT`, or the previous release ``"h2ot_mixste_cmu"``::

    model = h2ot.load_pretrained()
    poses = model(x2d)          # x2d [B, 243, 17, 2] -> [B, 243, 17, 3] metres

The input convention and the licence travel with the weights (``model.pretrained_info``: ``input``,
``license``, ``notice``): Human3.6M-17 joint order, 2 channels (x, y), 50 fps (resample other frame rates
first); the shipped models normalise each window themselves (``input_norm="window"``), the previous release
takes :func:`h2ot.data.normalize_screen` coordinates.

Weights are stored as float16 (cast to float32 on load), with a JSON card beside them (data, config,
commit, metrics, SHA-256). Loading uses ``torch.load(..., weights_only=True)``, checks the checksum,
and refuses a checkpoint built for another model, naming both.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from h2ot.fileio import atomic_path, write_text_atomic

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT = "h2ot_mixste_nc"  # the more accurate of the two shipped models (docs/training.md, "The shipped models")
#: short names of the shipped models (``--model free``, ``load_pretrained("nc")``)
ALIASES = {"free": "h2ot_mixste_free", "nc": "h2ot_mixste_nc"}


class PretrainedError(ValueError):
    """A weights file that is missing, corrupt, or built for another model."""


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def available() -> list[str]:
    """Names of the weights shipped in ``h2ot/weights``."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))


def shipped_name(name: str) -> str | None:
    """The file stem of the shipped model called ``name`` (a stem or a short name of :data:`ALIASES`), or
    None when no such weights ship."""
    stem = ALIASES.get(name, name)
    return stem if stem in available() else None


def model_notice(model) -> str:
    """The one-line licence notice of a shipped model's card ("" for other models): printed by ``demo``
    and ``lift`` and written into their outputs, so a restricted licence travels with the results."""
    info = getattr(model, "pretrained_info", None) or {}
    return str(info.get("notice", ""))


def describe_model(name, kwargs) -> str:
    """``mixste(depth=8, dim=128, ...)``: how error messages name a model."""
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in sorted(kwargs.items()))})"


def same_model(ckpt: dict, model, ignore: tuple[str, ...] = ()) -> bool:
    """Whether checkpoint ``ckpt`` was built for ``model`` (same backbone and create_model arguments, but
    for the ``ignore``d ones)."""
    name = ckpt["model_name"]

    def kwargs(value):  # a size left out is the backbone's default: compare with the defaults filled in
        return {k: v for k, v in {**_backbone_defaults(name), **_plain(value or {})}.items() if k not in ignore}

    return (name == getattr(model, "model_name", None)
            and kwargs(ckpt["model_kwargs"]) == kwargs(getattr(model, "model_kwargs", None)))


def _backbone_defaults(name: str) -> dict:
    """The keyword defaults of backbone ``name``'s constructor (``{}`` for an unknown name)."""
    import inspect

    from h2ot.models import BACKBONES

    if name not in BACKBONES:
        return {}
    return {k: p.default for k, p in inspect.signature(BACKBONES[name]).parameters.items()
            if p.default is not inspect.Parameter.empty}


def read_weights(path: str | Path) -> dict:
    """``{"model_name", "model_kwargs", "state_dict", ...}`` from ``path`` (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        reason = ("it holds objects other than tensors and plain containers, or is not a PyTorch file"
                  if "Weights only load failed" in str(err) else (str(err).splitlines() or [""])[0][:200])
        raise PretrainedError(f"{path}: cannot load as a weights-only PyTorch checkpoint ({reason})") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in ("model_name", "model_kwargs", "state_dict")):
        found = sorted(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise PretrainedError(f"{path}: expected a dict with model_name, model_kwargs, state_dict; found {found}")
    kinds = {"model_name": str, "model_kwargs": dict, "state_dict": dict}
    for key, kind in kinds.items():
        if not isinstance(ckpt[key], kind):
            raise PretrainedError(f"{path}: {key} must be a {kind.__name__}, found {type(ckpt[key]).__name__}")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in ckpt["state_dict"].items()):
        raise PretrainedError(f"{path}: state_dict must map parameter names to tensors")
    return ckpt


def save_checkpoint(obj: dict, path: str | Path) -> None:
    """``torch.save`` of a checkpoint dict, atomically (a reader sees the old file or the new one)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: the archive's inner folder is then
        torch.save(obj, fh)                               # "archive", not the random temporary name


def state_mismatch(expected: dict, state: dict) -> tuple[list[str], list[str], list[str]]:
    """``(missing, unexpected, differently shaped)`` tensor names of ``state`` against ``expected``."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    return missing, unexpected, shapes


def load_state(model, state: dict, source) -> None:
    """``model.load_state_dict(state)`` (floating tensors cast to the model's float32), refusing with one
    line that names ``source`` and what does not fit: missing, unexpected or differently shaped tensors."""
    own = model.state_dict()
    missing, unexpected, shapes = state_mismatch(own, state)
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
                 f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
                 f"{len(shapes)} of another shape (e.g. {shapes[0]}: {tuple(state[shapes[0]].shape)} in the file, "
                 f"{tuple(own[shapes[0]].shape)} in the model)" if shapes else ""]
        name = describe_model(getattr(model, "model_name", type(model).__name__), getattr(model, "model_kwargs", {}))
        raise PretrainedError(f"{source}: the tensors do not fit {name}: " + "; ".join(p for p in parts if p))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})


def build_from_weights(path: str | Path):
    """``(model, checkpoint)``: the model an h2ot checkpoint declares, built by ``create_model`` and loaded,
    or a one-line :class:`PretrainedError` naming the file."""
    from h2ot.models import create_model

    ckpt = read_weights(path)
    try:
        model = create_model(ckpt["model_name"], **ckpt["model_kwargs"])
    except (TypeError, ValueError) as err:
        raise PretrainedError(f"{path}: cannot build {describe_model(ckpt['model_name'], ckpt['model_kwargs'])} "
                              f"({err})") from None
    load_state(model, ckpt["state_dict"], path)
    return model, ckpt


def load_weights(model, path: str | Path, ignore: tuple[str, ...] = ()):
    """Load an h2ot checkpoint into ``model`` (a lifter from ``create_model``); refuse one for another model
    (``ignore``: create_model arguments that may differ). With ``"schedule"`` ignored, the pruning stages
    both schedules have keep their token position embeddings (``token_pos.N``, of the same token count:
    else a one-line refusal), a stage only the checkpoint has is dropped and one only the model has starts
    from the model's own."""
    ckpt = read_weights(path)
    if not same_model(ckpt, model, ignore):
        name, kwargs = getattr(model, "model_name", None), getattr(model, "model_kwargs", None) or {}
        raise PretrainedError(f"{path} holds weights for {describe_model(ckpt['model_name'], ckpt['model_kwargs'])}, "
                              f"but the model is {describe_model(name, kwargs)}")
    state = ckpt["state_dict"]
    load_state(model, fit_schedule(model, state) if "schedule" in ignore else state, path)
    return model


def fit_schedule(model, state: dict) -> dict:
    """``state`` (of the same lifter under another pruning schedule) for ``model``'s schedule: the token
    position embeddings of the pruning stages ``model`` lacks are dropped, those it adds are its own."""
    own = model.state_dict()
    fitted = {k: v for k, v in state.items() if not k.startswith("token_pos.") or k in own}
    fitted.update({k: v for k, v in own.items() if k.startswith("token_pos.") and k not in fitted})
    return fitted


def retokenize(model, schedule=None, pruning: str | None = None):
    """The same weights run with another pruning ``schedule`` (e.g. ``"1:121,3:81"``) and/or token selection
    (``pruning``): a new lifter (card and frame rate kept) in eval mode, or a one-line :class:`PretrainedError`.
    Token selection has no parameters; the stages both schedules have must keep their token counts (their
    position embeddings are learned), a stage only the new schedule has starts untrained."""
    from h2ot.models import create_model

    name, kwargs = getattr(model, "model_name", None), dict(getattr(model, "model_kwargs", None) or {})
    if name is None:
        raise PretrainedError(f"{type(model).__name__}: only a lifter built by create_model can change its tokens")
    kwargs.update({k: v for k, v in (("schedule", schedule), ("pruning", pruning)) if v is not None})
    try:
        new = create_model(name, **kwargs)
    except (TypeError, ValueError) as err:
        raise PretrainedError(f"cannot build {describe_model(name, kwargs)} ({err})") from None
    load_state(new, fit_schedule(new, model.state_dict()), (getattr(model, "pretrained_info", None) or {}).get("name")
               or "the weights")
    for attribute in ("pretrained_info", "fps", "metadata"):
        if hasattr(model, attribute):
            setattr(new, attribute, getattr(model, attribute))
    return new.to(next(model.parameters()).device).eval()


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load_pretrained(name: str = DEFAULT, device: str | torch.device = "cpu", path: str | Path | None = None,
                    model=None, verify: bool = True):
    """The shipped pretrained lifter ``name`` (a file stem in ``h2ot/weights`` or a short name of
    :data:`ALIASES`; or the checkpoint at ``path``), in eval mode on ``device``.

    ``model``: load into this lifter instead of building one (refused, naming both, when the weights
    were built for another model). ``verify``: check the SHA-256 recorded in the model card.
    The card is attached as ``model.pretrained_info``.
    """
    info: dict = {}
    if path is None:
        if shipped_name(name) is None:
            names = available() + [a for a in ALIASES if shipped_name(a)]
            raise PretrainedError(f"no shipped weights named {name!r}; available: {names}")
        path = WEIGHTS_DIR / f"{shipped_name(name)}.pt"
        card = path.with_suffix(".json")
        if card.is_file():
            info = json.loads(card.read_text())
        if verify and info.get("sha256") and sha256(path) != info["sha256"]:
            raise PretrainedError(f"{path}: checksum mismatch (expected {info['sha256']}, found {sha256(path)}); "
                                  "the file is corrupt, reinstall the package")
    if model is None:
        model = build_from_weights(path)[0]
    else:
        load_weights(model, path)
    model.pretrained_info = info
    return model.to(device).eval()


DEFAULT_FPS = 50.0  # Human3.6M's rate, the rate every model here is trained at unless it says otherwise


def model_fps(model) -> float:
    """The frame rate a model expects: ``model.fps``, ``model.metadata["fps"]``, the card's
    ``pretrained_info["input"]["fps"]`` or ``pretrained_info["fps"]``, else :data:`DEFAULT_FPS`."""
    info = getattr(model, "pretrained_info", None) or {}
    candidates = (getattr(model, "fps", None), (getattr(model, "metadata", None) or {}).get("fps"),
                  (info.get("input") or {}).get("fps") if isinstance(info.get("input"), dict) else None,
                  info.get("fps"))
    for value in candidates:
        if value:
            return float(value)
    return DEFAULT_FPS


def load_checkpoint_model(path: str | Path, device: str | torch.device = "cpu"):
    """The model an h2ot checkpoint ``{"model_name", "model_kwargs", "state_dict"}`` holds, with its frame
    rate as ``model.pretrained_info`` (what :func:`model_fps` reads): the JSON card beside a shipped weights
    file (``h2ot/weights/*.pt``), else the checkpoint's optional ``fps`` / ``metadata["fps"]``."""
    model, ckpt = build_from_weights(path)
    card = Path(path).with_suffix(".json")
    meta = ckpt.get("metadata") if isinstance(ckpt.get("metadata"), dict) else {}
    if Path(path).resolve().parent == WEIGHTS_DIR.resolve() and card.is_file():
        model.pretrained_info = json.loads(card.read_text())
    elif ckpt.get("fps") or meta.get("fps"):
        model.pretrained_info = {"fps": float(ckpt.get("fps") or meta.get("fps"))}
    return model.to(device)


def export_weights(checkpoint: str | Path, out: str | Path, card: dict | None = None, half: bool = True) -> dict:
    """Write a shippable weights file from a training checkpoint (model only, float16 by default) and its
    JSON card (``card`` + the SHA-256 and size); returns the card."""
    ckpt = read_weights(checkpoint)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
             for k, v in ckpt["state_dict"].items()}
    out = Path(out)
    save_checkpoint({"model_name": ckpt["model_name"], "model_kwargs": ckpt["model_kwargs"], "state_dict": state},
                    out)
    card = dict(card or {})
    card.update(file=out.name, sha256=sha256(out), bytes=out.stat().st_size,
                dtype="float16" if half else "float32", model_name=ckpt["model_name"],
                model_kwargs=ckpt["model_kwargs"])
    write_text_atomic(out.with_suffix(".json"), json.dumps(card, indent=2) + "\n")
    return card
