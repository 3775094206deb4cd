"""Small shared test utilities."""

import numpy as np
import pytest
import torch
from torch import nn

import h2ot
from h2ot.data.skeleton import H36M_PARENTS

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


def make_dataset(path, seed=0, frames=24):
    """A tiny VideoPose3D-layout npz: random-walk poses, 2 training subjects and 1 test subject."""
    from h2ot.data.mocap import h36m_like_cameras, render_2d, save_npz_atomic

    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.25, (17, 3)) + np.array([0, 0, 1.0])
    p3, p2, cams = {}, {}, {}
    for subject in ("S1", "S2", "S9"):
        cam = h36m_like_cameras(np.zeros(2))[:2]
        cams[subject] = [c.to_dict() for c in cam]
        p3[subject], p2[subject] = {}, {}
        for clip in ("a", "b"):
            walk = np.cumsum(rng.normal(0, 0.01, (frames, 17, 3)), axis=0) + base
            p3[subject][clip] = walk
            p2[subject][clip] = [render_2d(walk, c).astype(np.float32) for c in cam]
    meta = {"layout_name": "h36m", "num_joints": 17, "fps": 50.0, "subjects_train": ["S1", "S2"],
            "subjects_test": ["S9"]}
    save_npz_atomic(path, positions_3d=p3, positions_2d=p2, metadata=meta, cameras=cams)
    return str(path)


# Human3.6M bone vectors of a symmetric standing pose (camera axes: x right, y down), metres.
REST = np.array([[0, 0, 0], [-.133, 0, 0], [0, .442, 0], [0, .454, 0], [.133, 0, 0], [0, .442, 0],
                 [0, .454, 0], [0, -.233, 0], [0, -.257, 0], [0, -.10, -.07], [0, -.115, 0], [.151, 0, 0],
                 [.10, .26, 0], [.05, .245, 0], [-.151, 0, 0], [-.10, .26, 0], [-.05, .245, 0]])


def rig_pose(rest=REST) -> np.ndarray:
    pose = np.zeros((17, 3))
    for j in range(1, 17):
        pose[j] = pose[H36M_PARENTS[j]] + rest[j]
    return pose


def rodrigues(w):
    theta = np.linalg.norm(w, axis=-1, keepdims=True) + 1e-12
    k = w / theta
    K = np.zeros(w.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2], K[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    K = K - np.swapaxes(K, -1, -2)
    theta = theta[..., None]
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K


def moving_rig(frames=60, seed=0, stretch=0.0):
    """A rig with constant bone lengths (``stretch`` > 0 varies them) whose joints rotate smoothly."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, frames)[:, None]
    pos = np.zeros((frames, 17, 3))
    for j in range(1, 17):
        w = rng.normal(size=3) * np.sin(t + rng.uniform(0, 6)) * 1.2
        bone = np.einsum("tij,j->ti", rodrigues(w), REST[j]) * (1 + stretch * np.sin(3 * t + j))
        pos[:, j] = pos[:, H36M_PARENTS[j]] + bone
    return pos + np.array([0.1, -0.9, 4.0]) + np.cumsum(rng.normal(size=(frames, 1, 3)) * 0.01, axis=0)


class PerFrame(nn.Module):
    """A lifting model whose output frame t depends only on input frame t: (x, y, x*y) × 0.5."""

    num_joints = 17

    def __init__(self, frames=27, pipeline="seq2seq", in_channels=2):
        super().__init__()
        self.frames, self.pipeline, self.in_channels = frames, pipeline, in_channels
        self.dummy = nn.Parameter(torch.zeros(()))

    @staticmethod
    def f(x):
        x = torch.as_tensor(x)
        return torch.stack([x[..., 0], x[..., 1], x[..., 0] * x[..., 1]], dim=-1) * 0.5

    def forward(self, x):
        assert x.shape[1] == self.frames
        out = self.f(x)
        return out[:, (self.frames - 1) // 2:][:, :1] if self.pipeline == "seq2frame" else out
