"""The generic lifter: any backbone + the hierarchical hourglass tokenizer.

``PoseLifter`` runs ``embed``, then the backbone's blocks, pruning the frame tokens before every block the
schedule names, then (seq2seq) recovers the full sequence and applies the head, or (seq2frame) applies the
head to the kept tokens and returns the centre frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from h2ot.data.skeleton import flip_pose
from h2ot.tokenizer import (PruneContext, build_pruner, build_recovery, format_schedule, parse_schedule,
                            validate_schedule)

if TYPE_CHECKING:
    from h2ot.models.base import Backbone

PIPELINES = ("seq2seq", "seq2frame")
INPUT_NORMS = (None, "window")

#: per-frame RMS distance of the joints from their centroid that a window is scaled to: a person 0.78
#: units tall (40 % of a 1000-px-wide frame under ``normalize_screen``, as the Human3.6M-like training
#: views) has about this radius, so models trained without the normalisation fine-tune smoothly.
WINDOW_RADIUS = 0.23


def normalize_window(x: torch.Tensor) -> torch.Tensor:
    """Make 2D keypoints ``[B, F, J, C]`` independent of where the person is and how big they appear.

    Per window (sample): subtract the mean of the per-frame joint centroids and divide by the mean of
    the per-frame RMS joint radius, then scale to :data:`WINDOW_RADIUS`. Channels after x, y (a
    confidence) are kept. A translation or uniform scaling of the window's 2D (another framing, image
    size or person size in the frame) gives the same output up to rounding; it commutes with the
    horizontal flip of the flip test-time augmentation.
    """
    xy = x[..., :2]
    per_frame = xy.mean(dim=2, keepdim=True)                                      # [B, F, 1, 2]
    radius = (xy - per_frame).square().sum(dim=-1).mean(dim=-1).sqrt()           # [B, F]
    scale = radius.mean(dim=1).clamp_min(1e-6)[:, None, None, None] / WINDOW_RADIUS
    xy = (xy - per_frame.mean(dim=1, keepdim=True)) / scale
    return torch.cat([xy, x[..., 2:]], dim=-1) if x.shape[-1] > 2 else xy



def flip_average(model, x: torch.Tensor) -> torch.Tensor:
    """Flip test-time augmentation: ``model`` on the clip and on its mirror in one batch, the mirrored
    prediction un-mirrored, the two averaged."""
    plain, mirrored = model(torch.cat([x, flip_pose(x)])).chunk(2)
    return (plain + flip_pose(mirrored)) / 2

# Larger 2D values are not normalised coordinates, and overflow float32 attention (NaN poses).
MAX_INPUT = 1e5

class PoseLifter(nn.Module):
    """Lift 2D keypoint clips ``[B, F, J, Cin]`` to root-relative 3D poses in metres.

    ``input_norm="window"``: the model normalises each input window itself (:func:`normalize_window`), so
    its output does not depend on the framing; every caller (training, evaluation, ``Lifter``, the stream,
    the ONNX export) gets this by calling the model. None: the input is used as given.

    Output: ``[B, F, J, 3]`` for seq2seq; ``[B, 1, J, 3]`` (the centre frame ``(F-1)//2``) for seq2frame.
    ``forward(x, return_kept=True)`` returns a pair instead: for seq2seq the full output and the original
    indices ``[B, f]`` of the frames the last stage kept; for seq2frame the poses of every kept frame
    ``[B, f, J, 3]`` and their indices (the authors supervise all kept frames when training seq2frame).
    """

    def __init__(self, backbone: Backbone, schedule=None, pruning: str | None = None,
                 recovery: str | None = None, pipeline: str = "seq2seq", input_norm: str | None = None):
        super().__init__()
        if pipeline not in PIPELINES:
            raise ValueError(f"pipeline must be one of {PIPELINES}, found {pipeline!r}")
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {INPUT_NORMS}, found {input_norm!r}")
        self.input_norm = input_norm
        self.backbone = backbone
        self.pipeline = pipeline
        self.schedule = validate_schedule(parse_schedule(schedule), backbone.depth, backbone.frames)
        if not self.schedule:
            if pruning is not None or recovery is not None:
                raise ValueError(f"pruning={pruning!r} / recovery={recovery!r} given without a schedule; pass "
                                 "schedule=[(layer_index, tokens), ...] (e.g. [(3, 81)]) or leave both unset")
            self.pruning = self.recovery_name = None
        else:
            self.pruning = pruning or "cluster"
            self.pruner = build_pruner(self.pruning)
            if pipeline == "seq2frame" and recovery is not None:
                raise ValueError(f"the seq2frame pipeline keeps the centre frame and needs no recovery; "
                                 f"found recovery={recovery!r}")
            self.recovery_name = recovery or ("attention" if pipeline == "seq2seq" else None)
        self.stage_of = {layer: stage for stage, (layer, _) in enumerate(self.schedule)}
        if self.schedule and pipeline == "seq2seq":
            # A new learnable positional embedding for the kept tokens of every stage (zero-initialised).
            self.token_pos = nn.ParameterList(nn.Parameter(torch.zeros(1, tokens, backbone.dim))
                                              for _, tokens in self.schedule)
            self.recovery = build_recovery(self.recovery_name, backbone.dim, backbone.num_heads,
                                           backbone.frames, qkv_bias=backbone.recovery_qkv_bias)

    # Attributes of the model contract used by data, evaluation and inference code.
    @property
    def frames(self) -> int:
        return self.backbone.frames

    @property
    def num_joints(self) -> int:
        return self.backbone.num_joints

    @property
    def in_channels(self) -> int:
        return self.backbone.in_channels

    @property
    def row_parallel(self) -> bool:
        """Whether inference may split the blocks' rows across threads (``h2ot.threads.use_threads(rows=...)``)."""
        return self.backbone.row_parallel

    def describe(self) -> str:
        name = getattr(self.backbone, "registry_name", type(self.backbone).__name__)
        if not self.schedule:
            return f"{name} {self.pipeline} {self.frames} frames (plain)"
        extra = f" + {self.recovery_name} recovery" if self.recovery_name else ""
        return (f"{name} {self.pipeline} {self.frames} frames, schedule {format_schedule(self.schedule)}, "
                f"{self.pruning} pruning{extra}")

    def check_input(self, x: torch.Tensor) -> None:
        expected = f"[batch, {self.frames} frames, {self.num_joints} joints, {self.in_channels} channels]"
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"expected a torch.Tensor {expected}, found {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.frames, self.num_joints, self.in_channels):
            raise ValueError(f"expected 2D keypoints of shape {expected}, found {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"expected floating-point keypoints, found dtype {x.dtype}")
        param = next(self.parameters(), None)
        if param is not None and torch.is_autocast_enabled(x.device.type) is False and x.dtype != param.dtype:
            raise ValueError(f"expected keypoints of the model's dtype {param.dtype}, found {x.dtype} "
                             f"(convert with x.to({param.dtype}))")
        if param is not None and x.device != param.device:
            raise ValueError(f"expected keypoints on the model's device {param.device}, found {x.device}")
        if not torch.isfinite(x).all():
            raise ValueError("the 2D keypoints contain NaN or infinite values; fill missing joints first "
                             "(e.g. interpolate them and set their confidence to 0)")
        if x.numel() and x.abs().max() > MAX_INPUT:
            raise ValueError(f"2D keypoint values up to {x.abs().max().item():.3g}: expected normalised "
                             f"coordinates (about -1..1; at most {MAX_INPUT:g})")

    def forward(self, x: torch.Tensor, return_kept: bool = False):
        if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
            self.check_input(x)
        if self.input_norm == "window":
            x = normalize_window(x)
        b, f = x.shape[:2]
        frames = torch.arange(f, device=x.device).expand(b, f)  # original frame index of every current token
        centre = None  # seq2frame: current position of the centre frame, which every stage keeps
        if self.pipeline == "seq2frame":
            centre = torch.full((b,), (f - 1) // 2, device=x.device, dtype=torch.long)
        tokens = self.backbone.embed(x)
        received = None
        for i in range(self.backbone.depth):
            if i in self.stage_of:
                stage = self.stage_of[i]
                ctx = PruneContext(frames=frames, pooled=self.backbone.pool_tokens(tokens), x2d=x,
                                   received=received, centre=centre)
                keep = self.pruner.select(tokens, self.schedule[stage][1], ctx, training=self.training)
                tokens = torch.gather(tokens, 1, keep[:, :, None, None].expand(-1, -1, *tokens.shape[2:]))
                frames = torch.gather(frames, 1, keep)
                if centre is not None:
                    centre = (frames < (f - 1) // 2).sum(dim=1)
                else:
                    tokens = tokens + self.token_pos[stage][:, :, None, :]
            if self.schedule and self.pruner.needs_attention and i + 1 in self.stage_of:
                tokens, received = self._block_with_attention(i, tokens)
            else:
                tokens = self.backbone.forward_block(i, tokens)
        if self.pipeline == "seq2frame":
            poses = self.backbone.head(tokens)
            if return_kept:
                return poses, frames
            return torch.gather(poses, 1, centre[:, None, None, None].expand(-1, 1, *poses.shape[2:]))
        poses = self.recovery(tokens, frames, self.backbone.head) if self.schedule else self.backbone.head(tokens)
        return (poses, frames) if return_kept else poses

    def _block_with_attention(self, i: int, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run block ``i`` and return, with its output, the attention each frame token received ``[B, n]``."""
        attn = self.backbone.temporal_attention(i)
        attn.record_received = True
        try:
            out = self.backbone.forward_block(i, tokens)
            received = attn.received.reshape(tokens.shape[0], -1, tokens.shape[1]).mean(dim=1)
        finally:
            attn.record_received, attn.received = False, None
        return out, received
