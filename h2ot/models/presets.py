"""Named tokenizer settings per backbone: the plain model, the authors' HoT/TPC configuration, and an H2OT
default (hierarchical, uniform sampling + interpolation; not tuned per backbone).

``create_model(name, **PRESETS[name]["h2ot"])`` builds one; ``h2ot bench`` measures all three. The ``hot``
schedules are the backbone classes' ``official_hot`` (``official_tpc`` for MHFormer, which has no HoT
variant), the same ones :func:`h2ot.checkpoints.load_official` uses.
"""

from h2ot.models.mhformer import MHFormer
from h2ot.models.mixste import MixSTE
from h2ot.models.motionagformer import MotionAGFormer
from h2ot.models.motionbert import MotionBERT

SAMPLER_TRI = dict(pruning="sampler", recovery="interpolation")


def _hot(backbone) -> dict:
    """The authors' HoT: their schedule, DPC-kNN cluster pruning and attention recovery (TRA)."""
    return dict(schedule=list(backbone.official_hot), pruning="cluster", recovery="attention")


PRESETS: dict[str, dict[str, dict]] = {
    "mixste": {
        "plain": {},
        "hot": _hot(MixSTE),
        "h2ot": dict(schedule=[(1, 121), (3, 81), (5, 27)], **SAMPLER_TRI),
    },
    "motionbert": {
        "plain": {},
        "hot": _hot(MotionBERT),
        "h2ot": dict(schedule=[(1, 121), (2, 81), (3, 27)], **SAMPLER_TRI),
    },
    "motionagformer": {
        "plain": {},
        "hot": _hot(MotionAGFormer),
        "h2ot": dict(schedule=[(3, 121), (7, 81), (11, 27)], **SAMPLER_TRI),
    },
    "mhformer": {  # seq2frame: TPC keeps the centre frame, no recovery
        "plain": {},
        "hot": dict(schedule=list(MHFormer.official_tpc), pruning="cluster"),
        "h2ot": dict(schedule=[(1, 117), (2, 39)], pruning="sampler"),
    },
}
