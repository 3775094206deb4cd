"""The hierarchical pruning schedule: ``[(layer_index, tokens), ...]``.

Before block ``layer_index`` the current frame tokens are pruned to ``tokens``. HoT is the one-stage case
``[(3, 81)]``; H2OT uses several stages, e.g. ``[(1, 121), (3, 81), (5, 27)]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Schedule = tuple[tuple[int, int], ...]


def parse_schedule(spec: str | Iterable[Sequence[int]] | None) -> Schedule:
    """Parse ``"3:81,5:27"`` or ``[(3, 81), (5, 27)]`` into a tuple of ``(layer, tokens)`` pairs.

    ``None``, ``""`` and ``"none"`` mean no pruning (the plain backbone).
    """
    if spec is None:
        return ()
    if isinstance(spec, str):
        text = spec.strip()
        if text.lower() in ("", "none"):
            return ()
        stages = []
        for part in text.split(","):
            fields = part.split(":")
            if len(fields) != 2 or not all(f.strip().lstrip("-").isdigit() for f in fields):
                raise ValueError(f"schedule stage {part.strip()!r} is not 'layer:tokens' (e.g. '3:81,5:27')")
            stages.append((int(fields[0]), int(fields[1])))
        return tuple(stages)
    stages = []
    for stage in spec:
        if len(stage) != 2:
            raise ValueError(f"schedule stage {stage!r} is not a (layer_index, tokens) pair")
        layer, tokens = stage
        if int(layer) != layer or int(tokens) != tokens:
            raise ValueError(f"schedule stage {stage!r}: layer_index and tokens must be integers")
        stages.append((int(layer), int(tokens)))
    return tuple(stages)


def validate_schedule(schedule: Schedule, depth: int, frames: int) -> Schedule:
    """Check a parsed schedule against a backbone of ``depth`` blocks and ``frames`` input frames."""
    previous_layer, previous_tokens = 0, frames
    for layer, tokens in schedule:
        if not 1 <= layer <= depth - 1:
            raise ValueError(f"schedule stage ({layer}, {tokens}): layer_index must lie in 1..{depth - 1} "
                             f"for a backbone of depth {depth}, found {layer}")
        if layer <= previous_layer:
            raise ValueError(f"schedule layer indices must strictly increase, found {layer} after "
                             f"{previous_layer}: {list(schedule)}")
        if tokens < 1:
            raise ValueError(f"schedule stage ({layer}, {tokens}): tokens must be at least 1")
        if tokens > frames:
            raise ValueError(f"schedule stage ({layer}, {tokens}) keeps {tokens} tokens but the model only "
                             f"has {frames} frames")
        if tokens >= previous_tokens:
            raise ValueError(f"schedule token counts must strictly decrease, found {tokens} after "
                             f"{previous_tokens}: {list(schedule)}")
        previous_layer, previous_tokens = layer, tokens
    return schedule


def tokens_per_block(schedule: Schedule, depth: int, frames: int) -> list[int]:
    """Number of frame tokens each of the ``depth`` blocks sees under ``schedule``."""
    counts, current, stages = [], frames, dict(schedule)
    for layer in range(depth):
        current = stages.get(layer, current)
        counts.append(current)
    return counts


def format_schedule(schedule: Schedule) -> str:
    return ",".join(f"{layer}:{tokens}" for layer, tokens in schedule) or "none"
