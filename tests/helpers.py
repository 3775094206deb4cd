"""Small shared test utilities."""

import pytest
import torch

import h2ot

SMALL = dict(frames=27, depth=4, dim=32, num_heads=2, mlp_hidden=64)


def small_model(**kwargs):
    """A tiny MixSTE lifter (27 frames, depth 4, 32 channels) with any tokenizer options."""
    torch.manual_seed(0)
    return h2ot.create_model("mixste", **{**SMALL, **kwargs})


def clip(batch=2, frames=27, joints=17, channels=2, seed=0):
    return torch.randn(batch, frames, joints, channels, generator=torch.Generator().manual_seed(seed)) * 0.3


SHARED_DATA = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_clip(frames=27, channels=2, clip="02_01"):
    """``[1, frames, 17, channels]`` real 2D keypoints: a CMU clip seen by a Human3.6M-like camera.

    Skips the test when ``../shared/data`` is absent.
    """
    import pytest

    from h2ot.data.camera import normalize_screen
    from h2ot.data.mocap import h36m_like_cameras, load_bvh_h36m, render_2d

    path = SHARED_DATA / "cmu" / "daz" / f"{clip}.bvh"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path}")
    positions = load_bvh_h36m(path).positions[:frames]
    camera = h36m_like_cameras(positions[:, 0, :2].mean(axis=0))[0]
    pixels = normalize_screen(render_2d(positions, camera), camera.res_w, camera.res_h)
    x = torch.zeros(1, frames, 17, channels)
    x[0, ..., :2] = torch.as_tensor(pixels, dtype=torch.float32)
    if channels == 3:
        x[0, ..., 2] = 1.0
    return x


def one_line_error(call, *fragments) -> str:
    """The message of the ``ValueError`` that ``call()`` raises: one line holding every fragment."""
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message
