"""Named tokenizer settings per backbone: the plain model, the authors' HoT/TPC configuration, and an H2OT
default (hierarchical, uniform sampling + interpolation; not tuned per backbone).

``create_model(name, **PRESETS[name]["h2ot"])`` builds one; ``h2ot bench`` measures all three.
"""

SAMPLER_TRI = dict(pruning="sampler", recovery="interpolation")

PRESETS: dict[str, dict[str, dict]] = {
    "mixste": {
        "plain": {},
        "hot": dict(schedule=[(3, 81)], pruning="cluster", recovery="attention"),
        "h2ot": dict(schedule=[(1, 121), (3, 81), (5, 27)], **SAMPLER_TRI),
    },
    "motionbert": {
        "plain": {},
        "hot": dict(schedule=[(1, 81)], pruning="cluster", recovery="attention"),
        "h2ot": dict(schedule=[(1, 121), (2, 81), (3, 27)], **SAMPLER_TRI),
    },
    "motionagformer": {
        "plain": {},
        "hot": dict(schedule=[(7, 81)], pruning="cluster", recovery="attention"),
        "h2ot": dict(schedule=[(3, 121), (7, 81), (11, 27)], **SAMPLER_TRI),
    },
    "mhformer": {  # seq2frame: TPC keeps the centre frame, no recovery
        "plain": {},
        "hot": dict(schedule=[(1, 117)], pruning="cluster"),
        "h2ot": dict(schedule=[(1, 117), (2, 39)], pruning="sampler"),
    },
}
