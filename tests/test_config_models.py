"""A training config builds exactly what ``create_model`` builds for the same name and arguments."""
import pytest

from h2ot.config import ConfigError, build_config
from h2ot.models import create_model
from h2ot.models.motionagformer import MOTIONAGFORMER_VARIANTS
from h2ot.models.motionbert import MOTIONBERT_VARIANTS
from h2ot.models.presets import PRESETS
from h2ot.train import build_model

CASES = [("mixste", None), ("mhformer", None)]
CASES += [("motionbert", v) for v in MOTIONBERT_VARIANTS] + [("motionagformer", v) for v in MOTIONAGFORMER_VARIANTS]
CASES += [("motionbert", None), ("motionagformer", None)]  # the backbone's default variant


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("tokenizer", ["plain", "h2ot"])
@pytest.mark.parametrize("name,variant", CASES)
def test_config_builds_what_create_model_builds(name, variant, tokenizer):
    preset = dict(PRESETS[name][tokenizer])
    if name == "motionagformer" and variant in ("xs", "s") and tokenizer == "h2ot":
        preset["schedule"] = [(3, 9)]  # the 243-frame schedule does not fit 27/81 frames
    size = {"variant": variant} if variant else {}
    model_cfg = {"name": name, **size}
    if "schedule" in preset:
        model_cfg["schedule"] = ",".join(f"{layer}:{tokens}" for layer, tokens in preset["schedule"])
    for key in ("pruning", "recovery"):
        if key in preset:
            model_cfg[key] = preset[key]
    built = build_model(build_config({"model": model_cfg}))
    reference = create_model(name, **preset, **size)
    assert count(built) == count(reference)
    assert built.model_kwargs == reference.model_kwargs
    assert [tuple(p.shape) for p in built.parameters()] == [tuple(p.shape) for p in reference.parameters()]


def test_published_sizes_from_a_config():
    """The Lite/base models the papers publish, from configs naming only the backbone (issue: a config
    used to build MotionBERT with MixSTE's sizes, 67.7M parameters)."""
    expected = {"mixste": 33.78, "motionbert": 16.00, "motionagformer": 11.7, "mhformer": 31.5}
    for name, millions in expected.items():
        built = build_model(build_config({"model": {"name": name}}))
        assert count(built) / 1e6 == pytest.approx(millions, abs=0.1), name


def test_config_sizes_override_and_are_validated():
    built = build_model(build_config({"model": {"name": "motionbert", "variant": "lite", "depth": 2}}))
    assert built.model_kwargs["depth"] == 2 and built.backbone.dim == 256
    with pytest.raises(ConfigError, match="variant"):  # MixSTE has no named sizes
        build_model(build_config({"model": {"name": "mixste", "variant": "lite"}}))
    with pytest.raises(ConfigError, match="variant"):
        build_model(build_config({"model": {"name": "motionbert", "variant": "huge"}}))
    with pytest.raises(ConfigError, match="drop_path_rate"):
        build_config({"model": {"name": "mixste", "drop_path_rate": 5}})
