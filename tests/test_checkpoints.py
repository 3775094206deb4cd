"""Loading the authors' checkpoints: official key names and shapes, and the same function as their code.

The state_dicts here are built from the authors' module names and shapes (method.md section 7), with random
values; a functional re-statement of each authors' forward pass (explicit softmax attention, their layer
order and LayerNorm eps, DPC-kNN without the random tie-break noise) reads them directly and must give the
outputs of our converted model. Everything runs in float64 at small sizes.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from h2ot.checkpoints import convert_state_dict, detect_backbone, infer_config, load_official, read_state_dict
from h2ot.models import create_model

# --------------------------------------------------------------------------------------------------------
# Official key names and shapes
# --------------------------------------------------------------------------------------------------------


def _vit_block(keys, p, c, m, qkv_bias=True, suffix="", ln=("norm1", "norm2"), attn="attn", mlp="mlp",
               mlp_in=None, mlp_out=None):
    mlp_in = mlp_in or c
    mlp_out = mlp_out or c
    for norm, width in ((ln[0], c), (ln[1], mlp_in)):
        keys[f"{p}.{norm}{suffix}.weight"] = (width,)
        keys[f"{p}.{norm}{suffix}.bias"] = (width,)
    keys[f"{p}.{attn}{suffix}.qkv.weight"] = (3 * c, c)
    if qkv_bias:
        keys[f"{p}.{attn}{suffix}.qkv.bias"] = (3 * c,)
    keys[f"{p}.{attn}{suffix}.proj.weight"] = (c, c)
    keys[f"{p}.{attn}{suffix}.proj.bias"] = (c,)
    keys[f"{p}.{mlp}{suffix}.fc1.weight"] = (m, mlp_in)
    keys[f"{p}.{mlp}{suffix}.fc1.bias"] = (m,)
    keys[f"{p}.{mlp}{suffix}.fc2.weight"] = (mlp_out, m)
    keys[f"{p}.{mlp}{suffix}.fc2.bias"] = (mlp_out,)


def _linear(keys, p, i, o, bias=True):
    keys[f"{p}.weight"] = (o, i)
    if bias:
        keys[f"{p}.bias"] = (o,)


def _norm(keys, p, c):
    keys[f"{p}.weight"] = (c,)
    keys[f"{p}.bias"] = (c,)


def _hot(keys, c, frames, tokens, qkv_bias=True):
    keys["pos_embed_token"] = (1, tokens, c)
    keys["x_token"] = (1, frames, c)
    for name in ("linear_q", "linear_k", "linear_v"):
        _linear(keys, f"cross_attention.{name}", c, c, qkv_bias)
    _linear(keys, "cross_attention.proj", c, c)


def mixste_keys(frames, depth, c, m, tokens=None, joints=17):
    keys = {}
    _linear(keys, "Spatial_patch_to_embedding", 2, c)
    keys["Spatial_pos_embed"] = (1, joints, c)
    keys["Temporal_pos_embed"] = (1, frames, c)
    for i in range(depth):
        _vit_block(keys, f"STEblocks.{i}", c, m)
        _vit_block(keys, f"TTEblocks.{i}", c, m)
    _norm(keys, "Spatial_norm", c)
    _norm(keys, "Temporal_norm", c)
    _norm(keys, "head.0", c)
    _linear(keys, "head.1", c, 3)
    if tokens:
        _hot(keys, c, frames, tokens)
    return keys


def motionbert_keys(frames, depth, c, m, rep, tokens=None, joints=17):
    keys = {}
    _linear(keys, "joints_embed", 3, c)
    keys["pos_embed"] = (1, joints, c)
    keys["temp_embed"] = (1, frames, 1, c)
    for i in range(depth):
        for stream in ("blocks_st", "blocks_ts"):
            for s in ("_s", "_t"):
                _vit_block(keys, f"{stream}.{i}", c, m, suffix=s, ln=("norm1", "norm2"))
        _linear(keys, f"ts_attn.{i}", 2 * c, 2)
    _norm(keys, "norm", c)
    _linear(keys, "pre_logits.fc", c, rep)
    _linear(keys, "head", rep, 3)
    if tokens:
        _hot(keys, c, frames, tokens)
    return keys


def motionagformer_keys(frames, depth, c, rep, tokens=None, layer_index=None, joints=17):
    keys = {}
    _linear(keys, "joints_embed", 3, c)
    keys["pos_embed"] = (1, joints, c)
    _norm(keys, "norm", c)
    for i in range(depth):
        n = tokens if tokens and i >= layer_index else frames
        for branch in ("att_spatial", "att_temporal", "graph_spatial", "graph_temporal"):
            p = f"layers.{i}.{branch}"
            keys[f"{p}.layer_scale_1"] = (c,)
            keys[f"{p}.layer_scale_2"] = (c,)
            _norm(keys, f"{p}.norm1", c)
            _norm(keys, f"{p}.norm2", c)
            _linear(keys, f"{p}.mlp.fc1", c, 4 * c)
            _linear(keys, f"{p}.mlp.fc2", 4 * c, c)
            if branch.startswith("att"):
                _linear(keys, f"{p}.mixer.qkv", c, 3 * c, bias=False)
                _linear(keys, f"{p}.mixer.proj", c, c)
            else:
                _linear(keys, f"{p}.mixer.U", c, c)
                _linear(keys, f"{p}.mixer.V", c, c)
                nodes = joints if branch == "graph_spatial" else n
                _norm(keys, f"{p}.mixer.batch_norm", nodes)
                keys[f"{p}.mixer.batch_norm.running_mean"] = (nodes,)
                keys[f"{p}.mixer.batch_norm.running_var"] = (nodes,)
                keys[f"{p}.mixer.batch_norm.num_batches_tracked"] = ()
        _linear(keys, f"layers.{i}.fusion", 2 * c, 2)
    _linear(keys, "rep_logit.fc", c, rep)
    _linear(keys, "head", rep, 3)
    if tokens:
        _hot(keys, c, frames, tokens, qkv_bias=False)
    return keys


def mhformer_keys(frames, c, m, layers=3, joints=17):
    keys = {}
    for h in (1, 2, 3):
        _norm(keys, f"norm_{h}", frames)
        p = f"Transformer_encoder_{h}"
        keys[f"{p}.pos_embed"] = (1, 2 * joints, frames)
        for i in range(4):
            _vit_block(keys, f"{p}.blocks.{i}", frames, 2 * frames)
        _norm(keys, f"{p}.norm", frames)
        keys[f"embedding_{h}.weight"] = (c, 2 * joints, 1)
        keys[f"embedding_{h}.bias"] = (c,)
        keys[f"Transformer_hypothesis.pos_embed_{h}"] = (1, frames, c)
    t = "Transformer_hypothesis"
    for i in range(layers - 1):
        p = f"{t}.SHR_blocks.{i}"
        for h in (1, 2, 3):
            _norm(keys, f"{p}.norm1_{h}", c)
            _linear(keys, f"{p}.attn_{h}.qkv", c, 3 * c)
            _linear(keys, f"{p}.attn_{h}.proj", c, c)
        _norm(keys, f"{p}.norm2", 3 * c)
        _linear(keys, f"{p}.mlp.fc1", 3 * c, m)
        _linear(keys, f"{p}.mlp.fc2", m, 3 * c)
    p = f"{t}.CHI_blocks.0"
    for h in (1, 2, 3):
        for r in (1, 2, 3):
            _norm(keys, f"{p}.norm3_{h}{r}", c)
        for name in ("linear_q", "linear_k", "linear_v", "proj"):
            _linear(keys, f"{p}.attn_{h}.{name}", c, c)
    _norm(keys, f"{p}.norm2", 3 * c)
    _linear(keys, f"{p}.mlp.fc1", 3 * c, m)
    _linear(keys, f"{p}.mlp.fc2", m, 3 * c)
    _norm(keys, f"{t}.norm", 3 * c)
    _norm(keys, "regression.0", 3 * c)
    keys["regression.0.running_mean"] = (3 * c,)
    keys["regression.0.running_var"] = (3 * c,)
    keys["regression.0.num_batches_tracked"] = ()
    keys["regression.1.weight"] = (3 * joints, 3 * c, 1)
    keys["regression.1.bias"] = (3 * joints,)
    return keys


def random_state(keys, seed=0):
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in keys.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(10)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5
        else:
            scale = 0.3 if "weight" in key or "embed" in key or "token" in key else 0.1
            state[key] = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
            if key.endswith(("norm1.weight", "norm2.weight")) or ".norm" in key and key.endswith("weight"):
                state[key] = state[key] + 1.0
    # Values exactly representable in float32, so that loading into a float32 model loses nothing.
    return {k: v.float().double() if v.is_floating_point() else v for k, v in state.items()}


# --------------------------------------------------------------------------------------------------------
# The authors' forward passes, restated functionally on the official state_dict
# --------------------------------------------------------------------------------------------------------


def lin(sd, p, x):
    return F.linear(x, sd[p + ".weight"], sd.get(p + ".bias"))


def ln(sd, p, x, eps):
    return F.layer_norm(x, x.shape[-1:], sd[p + ".weight"], sd[p + ".bias"], eps)


def heads_of(x, h):
    n, length, c = x.shape
    return x.reshape(n, length, h, c // h).transpose(1, 2)


def attend(q, k, v):
    a = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    return a.softmax(dim=-1) @ v


def self_attn(sd, p, x, h):
    n, length, c = x.shape
    qkv = lin(sd, p + ".qkv", x).reshape(n, length, 3, h, c // h).permute(2, 0, 3, 1, 4)
    out = attend(qkv[0], qkv[1], qkv[2]).transpose(1, 2).reshape(n, length, c)
    return lin(sd, p + ".proj", out)


def cross_attn(sd, p, xq, xk, xv, h):
    n, length, c = xq.shape
    out = attend(heads_of(lin(sd, p + ".linear_q", xq), h), heads_of(lin(sd, p + ".linear_k", xk), h),
                 heads_of(lin(sd, p + ".linear_v", xv), h))
    return lin(sd, p + ".proj", out.transpose(1, 2).reshape(n, length, c))


def mlp(sd, p, x):
    return lin(sd, p + ".fc2", F.gelu(lin(sd, p + ".fc1", x)))


def vit_block(sd, p, x, h, eps=1e-6, s=""):
    x = x + self_attn(sd, f"{p}.attn{s}", ln(sd, f"{p}.norm1{s}", x, eps), h)
    return x + mlp(sd, f"{p}.mlp{s}", ln(sd, f"{p}.norm2{s}", x, eps))


def cluster(x, keep, center=None, index=None):
    """The authors' DPC-kNN (k=2); returns sorted kept indices (or ``index`` when given).

    The authors break density ties with uniform noise x 1e-6; with k=2 ties are structural (two mutual nearest
    neighbours have the same density), so the noise decides which of the two counts as denser. The
    deterministic stand-in here: of two equal densities, the lower index counts as denser.
    """
    if index is not None:
        return index
    c = x.shape[-1]
    d = torch.cdist(x, x) / c ** 0.5
    d = ((d + d.transpose(1, 2)) / 2).masked_fill(torch.eye(x.shape[1], dtype=torch.bool), 0.0)
    near = d.topk(2, dim=-1, largest=False).values
    density = (-(near ** 2).mean(dim=-1)).exp()
    order = torch.arange(x.shape[1])
    tie = (density[:, None, :] == density[:, :, None]) & (order[None, :] < order[:, None])[None]
    mask = ((density[:, None, :] > density[:, :, None]) | tie).to(x.dtype)
    dmax = d.flatten(1).max(dim=-1)[0][:, None, None]
    score = (d * mask + dmax * (1 - mask)).min(dim=-1).values * density
    if center is None:
        return score.topk(keep, dim=-1).indices.sort(dim=-1).values
    score[:, center] = -math.inf
    index = score.topk(keep - 1, dim=-1).indices
    index = torch.cat([index, torch.full_like(index[:, :1], center)], dim=-1)
    return index.sort(dim=-1).values


def ref_recover(sd, x, f, h):
    """HoT's attention recovery when the checkpoint has it: ``f`` zero-initialised queries (``x_token``)
    cross-attend to the kept tokens ``[B, n, J, C]``; otherwise ``x`` unchanged."""
    if "x_token" not in sd:
        return x
    b, n, j, _ = x.shape
    kv = x.transpose(1, 2).reshape(b * j, n, -1)
    q = sd["x_token"].expand(b * j, -1, -1)
    return (q + cross_attn(sd, "cross_attention", q, kv, kv, h)).reshape(b, j, f, -1).transpose(1, 2)


def ref_fuse(sd, p, a, c):
    """The adaptive fusion of two streams (MotionBERT, MotionAGFormer): softmax weights from ``p``."""
    alpha = lin(sd, p, torch.cat([a, c], dim=-1)).softmax(dim=-1)
    return a * alpha[..., 0:1] + c * alpha[..., 1:2]


def gather_frames(x, index):
    return x[torch.arange(x.shape[0])[:, None], index]


def ref_mixste(sd, x, h, layer_index=None, tokens=None, center_keep=False, head_eps=1e-5, index=None):
    b, f, j, _ = x.shape
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("STEblocks."))
    x = lin(sd, "Spatial_patch_to_embedding", x.reshape(b * f, j, -1)) + sd["Spatial_pos_embed"]
    for i in range(depth):
        n = x.numel() // (b * j * x.shape[-1])
        if i == layer_index:
            x4 = x.reshape(b, n, j, -1)
            index = cluster(x4.mean(dim=2), tokens, (f - 1) // 2 if center_keep else None, index)
            x4 = gather_frames(x4, index)
            if not center_keep:
                x4 = x4 + sd["pos_embed_token"][:, :, None, :]
            n = tokens
            x = x4.reshape(b * n, j, -1)
        x = ln(sd, "Spatial_norm", vit_block(sd, f"STEblocks.{i}", x, h), 1e-6)
        x = x.reshape(b, n, j, -1).transpose(1, 2).reshape(b * j, n, -1)
        if i == 0:
            x = x + sd["Temporal_pos_embed"]
        x = ln(sd, "Temporal_norm", vit_block(sd, f"TTEblocks.{i}", x, h), 1e-6)
        x = x.reshape(b, j, n, -1).transpose(1, 2).reshape(b * n, j, -1)
    if layer_index is None:
        index = None
    x = x.reshape(b, -1, j, x.shape[-1])
    x = ref_recover(sd, x, f, h)
    out = lin(sd, "head.1", ln(sd, "head.0", x, head_eps))  # the authors: nn.LayerNorm(C), eps 1e-5
    if center_keep:
        pos = (index == (f - 1) // 2).nonzero()[:, 1] if index is not None else torch.full((b,), (f - 1) // 2)
        return out[torch.arange(b), pos][:, None]
    return out


def ref_motionbert(sd, x, h, layer_index=None, tokens=None, index=None):
    b, f, j, _ = x.shape
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks_st."))
    x = lin(sd, "joints_embed", x) + sd["pos_embed"] + sd["temp_embed"]  # [B, F, J, C]

    def spatial(p, s, x):
        n = x.shape[1]
        return vit_block(sd, p, x.reshape(b * n, j, -1), h, s=s).reshape(b, n, j, -1)

    def temporal(p, s, x):
        n = x.shape[1]
        y = vit_block(sd, p, x.transpose(1, 2).reshape(b * j, n, -1), h, s=s)
        return y.reshape(b, j, n, -1).transpose(1, 2)

    for i in range(depth):
        if i == layer_index:
            x = gather_frames(x, cluster(x.mean(dim=2), tokens, index=index)) + sd["pos_embed_token"][:, :, None, :]
        x_st = temporal(f"blocks_st.{i}", "_t", spatial(f"blocks_st.{i}", "_s", x))
        x_ts = spatial(f"blocks_ts.{i}", "_s", temporal(f"blocks_ts.{i}", "_t", x))
        x = ref_fuse(sd, f"ts_attn.{i}", x_st, x_ts)
    x = ln(sd, "norm", x, 1e-6)
    x = ref_recover(sd, x, f, h)
    return lin(sd, "head", torch.tanh(lin(sd, "pre_logits.fc", x)))


CONNECTIONS = {10: [9], 9: [8, 10], 8: [7, 9], 14: [15, 8], 15: [16, 14], 11: [12, 8], 12: [13, 11],
               7: [0, 8], 0: [1, 7], 1: [2, 0], 2: [3, 1], 4: [5, 0], 5: [6, 4], 16: [15], 13: [12], 3: [2], 6: [5]}


def ref_gcn(sd, p, x, mode, neighbours):
    b, t, j, c = x.shape
    if mode == "temporal":
        x = x.transpose(1, 2).reshape(-1, t, c)
        sim = x @ x.transpose(1, 2)
        thr = sim.topk(k=neighbours, dim=-1, largest=True)[0][..., -1].view(b * j, t, 1)
        adj = (sim >= thr).to(x.dtype)
    else:
        x = x.reshape(-1, j, c)
        adj = torch.zeros(j, j, dtype=x.dtype)
        for a, links in CONNECTIONS.items():
            adj[a, links] = 1
        adj = adj.repeat(b * t, 1, 1)
    n = adj.shape[-1]
    deg = adj.sum(dim=-1) ** -0.5
    dm = torch.eye(n, dtype=x.dtype).view(1, n, n) * deg.view(-1, n, 1)
    agg = torch.bmm(torch.bmm(dm, adj), dm) @ lin(sd, p + ".V", x)
    bn = p + ".batch_norm"
    y = F.batch_norm(agg + lin(sd, p + ".U", x), sd[bn + ".running_mean"], sd[bn + ".running_var"],
                     sd[bn + ".weight"], sd[bn + ".bias"], False, 0.1, 1e-5)
    x = torch.relu(x + y)
    return x.reshape(-1, t, j, c) if mode == "spatial" else x.reshape(-1, j, t, c).transpose(1, 2)


def ref_motionagformer(sd, x, h, neighbours=2, layer_index=None, tokens=None, index=None):
    b, f, j, _ = x.shape
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("layers."))
    x = lin(sd, "joints_embed", x) + sd["pos_embed"]

    def attention(p, x, mode):
        bb, t, jj, c = x.shape
        if mode == "spatial":
            return self_attn(sd, p, x.reshape(bb * t, jj, c), h).reshape(bb, t, jj, c)
        y = self_attn(sd, p, x.transpose(1, 2).reshape(bb * jj, t, c), h)
        return y.reshape(bb, jj, t, c).transpose(1, 2)

    def block(p, x, mixer):
        x = x + sd[p + ".layer_scale_1"] * mixer(ln(sd, p + ".norm1", x, 1e-5))
        return x + sd[p + ".layer_scale_2"] * mlp(sd, p + ".mlp", ln(sd, p + ".norm2", x, 1e-5))

    for i in range(depth):
        if i == layer_index:
            x = gather_frames(x, cluster(x.mean(dim=2), tokens, index=index)) + sd["pos_embed_token"][:, :, None, :]
        p = f"layers.{i}"
        xa = block(p + ".att_spatial", x, lambda y: attention(p + ".att_spatial.mixer", y, "spatial"))
        xa = block(p + ".att_temporal", xa, lambda y: attention(p + ".att_temporal.mixer", y, "temporal"))
        xg = block(p + ".graph_spatial", x, lambda y: ref_gcn(sd, p + ".graph_spatial.mixer", y, "spatial", neighbours))
        xg = block(p + ".graph_temporal", xg,
                   lambda y: ref_gcn(sd, p + ".graph_temporal.mixer", y, "temporal", neighbours))
        x = ref_fuse(sd, p + ".fusion", xa, xg)
    x = ln(sd, "norm", x, 1e-5)
    x = ref_recover(sd, x, f, h)
    return lin(sd, "head", torch.tanh(lin(sd, "rep_logit.fc", x)))


def ref_mhformer(sd, x, h, layer_index=None, tokens=None, index=None):
    b, f, j, c = x.shape
    x = x.reshape(b, f, j * c).transpose(1, 2)  # b (j c) f
    hyp = []
    for k in (1, 2, 3):
        e = f"Transformer_encoder_{k}"
        y = ln(sd, f"norm_{k}", x, 1e-5) + sd[f"{e}.pos_embed"]
        for i in range(4):
            y = vit_block(sd, f"{e}.blocks.{i}", y, 9)
        x = x + ln(sd, f"{e}.norm", y, 1e-6)
        emb = F.conv1d(x, sd[f"embedding_{k}.weight"], sd[f"embedding_{k}.bias"]).permute(0, 2, 1)
        hyp.append(emb + sd[f"Transformer_hypothesis.pos_embed_{k}"])
    t = "Transformer_hypothesis"
    shr = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith(f"{t}.SHR_blocks."))
    kept = index
    index = None

    def shared_mlp(p, hyp):
        y = torch.cat(hyp, dim=2)
        y = y + mlp(sd, p + ".mlp", ln(sd, p + ".norm2", y, 1e-6))
        return list(y.chunk(3, dim=2))

    for i in range(shr):
        if i == layer_index:
            index = cluster(torch.cat(hyp, dim=2), tokens, (f - 1) // 2, kept)
            hyp = [gather_frames(y, index) for y in hyp]
        p = f"{t}.SHR_blocks.{i}"
        hyp = [y + self_attn(sd, f"{p}.attn_{k}", ln(sd, f"{p}.norm1_{k}", y, 1e-6), h)
               for k, y in zip((1, 2, 3), hyp)]
        hyp = shared_mlp(p, hyp)
    p = f"{t}.CHI_blocks.0"
    x1, x2, x3 = hyp

    def n_(name, y):
        return ln(sd, f"{p}.norm3_{name}", y, 1e-6)

    x1 = x1 + cross_attn(sd, f"{p}.attn_1", n_("11", x2), n_("12", x3), n_("13", x1), h)
    x2 = x2 + cross_attn(sd, f"{p}.attn_2", n_("21", x1), n_("22", x3), n_("23", x2), h)
    x3 = x3 + cross_attn(sd, f"{p}.attn_3", n_("31", x1), n_("32", x2), n_("33", x3), h)
    y = ln(sd, f"{t}.norm", torch.cat(shared_mlp(p, [x1, x2, x3]), dim=2), 1e-6).permute(0, 2, 1)
    y = F.batch_norm(y, sd["regression.0.running_mean"], sd["regression.0.running_var"], sd["regression.0.weight"],
                     sd["regression.0.bias"], False, 0.1, 1e-5)
    y = F.conv1d(y, sd["regression.1.weight"], sd["regression.1.bias"])  # [B, 3J, n]
    out = y.reshape(b, j, 3, -1).permute(0, 3, 1, 2)
    pos = (index == (f - 1) // 2).nonzero()[:, 1] if index is not None else torch.full((b,), (f - 1) // 2)
    return out[torch.arange(b), pos][:, None]


def clip(frames, channels, batch=2, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, 17, channels, generator=gen, dtype=torch.float64) * 0.5
    if channels == 3:
        x[..., 2] = torch.rand(batch, frames, 17, generator=gen, dtype=torch.float64)
    return x


# --------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------

# The authors' MixSTE head is nn.Sequential(nn.LayerNorm(C), nn.Linear(C, 3)): LayerNorm eps 1e-5, unlike the
# blocks' 1e-6; the references below use the authors' values.

CASES = {
    # name: (official keys, load_official kwargs, reference(sd, x, index), input channels, expected config)
    "mixste": (lambda: mixste_keys(15, 3, 16, 32), {},
               lambda sd, x, index: ref_mixste(sd, x, 2, head_eps=1e-5), 2,
               dict(frames=15, depth=3, dim=16, mlp_hidden=32)),
    "hot_mixste": (lambda: mixste_keys(15, 3, 16, 32, tokens=7), dict(layer_index=1),
                   lambda sd, x, index: ref_mixste(sd, x, 2, 1, 7, head_eps=1e-5, index=index), 2,
                   dict(schedule=[(1, 7)])),
    "tpc_mixste": (lambda: mixste_keys(15, 3, 16, 32), dict(schedule=[(2, 5)]),
                   lambda sd, x, index: ref_mixste(sd, x, 2, 2, 5, True, 1e-5, index=index), 2,
                   dict(pipeline="seq2frame")),
    "motionbert": (lambda: motionbert_keys(11, 2, 16, 32, 24), {},
                   lambda sd, x, index: ref_motionbert(sd, x, 2), 3,
                   dict(frames=11, depth=2, dim=16, mlp_hidden=32, dim_rep=24)),
    "hot_motionbert": (lambda: motionbert_keys(11, 3, 16, 32, 24, tokens=5), {},
                       lambda sd, x, index: ref_motionbert(sd, x, 2, 1, 5, index=index), 3, dict(schedule=[(1, 5)])),
    "motionagformer": (lambda: motionagformer_keys(13, 2, 16, 24), {},
                       lambda sd, x, index: ref_motionagformer(sd, x, 2), 3, dict(frames=13, depth=2, dim=16)),
    "hot_motionagformer": (lambda: motionagformer_keys(13, 3, 16, 24, tokens=6, layer_index=2), {},
                           lambda sd, x, index: ref_motionagformer(sd, x, 2, 2, 2, 6, index=index), 3,
                           dict(schedule=[(2, 6)])),
    "mhformer": (lambda: mhformer_keys(27, 16, 32), {}, lambda sd, x, index: ref_mhformer(sd, x, 2), 2,
                 dict(frames=27, dim=16, mlp_hidden=32, depth=3)),
    "tpc_mhformer": (lambda: mhformer_keys(27, 16, 32), dict(schedule=[(1, 9)]),
                     lambda sd, x, index: ref_mhformer(sd, x, 2, 1, 9, index=index), 2, dict(schedule=[(1, 9)])),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_official_state_dict_loads_and_computes_the_authors_function(case):
    keys, kwargs, reference, channels, expected = CASES[case]
    sd = random_state(keys())
    model = load_official(sd, num_heads=2, **kwargs).double()
    config = infer_config(sd, **{k: v for k, v in kwargs.items() if k in ("schedule", "layer_index")})
    for key, value in expected.items():
        assert config[key] == value, (key, config[key])
    x = clip(model.frames, channels)
    with torch.no_grad():
        # The backbone, the order of operations and the recovery must match exactly; the kept frames are
        # the lifter's (the selection rule is compared with the authors' in test_cluster_selection_*).
        ours, kept = model(x, return_kept=True) if model.schedule else (model(x), None)
        if model.pipeline == "seq2frame" and kept is not None:
            centre = (kept == (model.frames - 1) // 2).nonzero()[:, 1]
            ours = ours[torch.arange(ours.shape[0]), centre][:, None]
        theirs = reference(sd, x, index=kept)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)
    # Every official tensor went somewhere and nothing of ours is left at its initial value.
    ours_state = model.state_dict()
    for official, converted in zip(sd, convert_state_dict(sd)):
        torch.testing.assert_close(ours_state[converted], sd[official].to(ours_state[converted].dtype))


def test_mixste_head_norm_eps_is_the_authors():
    sd = random_state(mixste_keys(15, 2, 16, 32))
    model = load_official(sd, num_heads=2).double()
    x = clip(15, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref_mixste(sd, x, 2, head_eps=1e-5), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("centre", [None, 13])
def test_cluster_selection_matches_the_authors_rule(centre):
    from h2ot.tokenizer import dpc_knn_score, select_top

    pooled = torch.randn(4, 27, 48, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    centres = None if centre is None else torch.full((4,), centre)
    ours = select_top(dpc_knn_score(pooled), 9, centres)
    assert torch.equal(ours, cluster(pooled, 9, centre))


@pytest.mark.parametrize("wrap", ["bare", "model_pos", "model"])
def test_wrappers_and_module_prefix_and_files(tmp_path, wrap):
    sd = random_state(motionbert_keys(11, 2, 16, 32, 24))
    if wrap != "bare":
        sd = {wrap: {f"module.{k}": v for k, v in sd.items()}, "epoch": 3, "lr": 1e-4}
    path = tmp_path / "ckpt.bin"
    torch.save(sd, path)
    assert detect_backbone(read_state_dict(path)) == "motionbert"
    model = load_official(str(path), num_heads=2)
    assert model.backbone.registry_name == "motionbert" and not model.training


def test_official_default_layer_indices_and_tpc():
    assert infer_config(random_state(mixste_keys(243, 8, 8, 16, tokens=81)))["schedule"] == [(3, 81)]
    assert infer_config(random_state(motionbert_keys(243, 5, 8, 16, 8, tokens=81)))["schedule"] == [(1, 81)]
    agf = infer_config(random_state(motionagformer_keys(243, 16, 8, 8, tokens=81, layer_index=7)))
    assert agf["schedule"] == [(7, 81)]
    tpc = infer_config(random_state(mixste_keys(243, 8, 8, 16)), tpc=True)
    assert tpc["schedule"] == [(7, 61)] and tpc["pipeline"] == "seq2frame"
    assert infer_config(random_state(mhformer_keys(27, 8, 16)), tpc=True)["schedule"] == [(1, 117)]


def test_loading_into_a_given_model_and_mismatch_messages():
    sd = random_state(mixste_keys(15, 3, 16, 32, tokens=7))
    model = create_model("mixste", frames=15, depth=3, dim=16, mlp_hidden=32, num_heads=2, schedule=[(1, 7)])
    assert load_official(sd, model=model) is model
    wrong = create_model("mixste", frames=15, depth=3, dim=32, mlp_hidden=32, num_heads=2)
    with pytest.raises(ValueError) as info:
        load_official(sd, model=wrong)
    message = str(info.value)
    assert "unexpected (10):" in message and "x_token (ours: recovery.x_token)" in message
    assert "pos_embed_token (ours: token_pos.0)" in message
    assert "mis-shaped (77):" in message
    assert "Spatial_pos_embed (ours: backbone.spatial_pos): checkpoint (1, 17, 16), model (1, 17, 32)" in message
    sd_missing = {k: v for k, v in sd.items() if not k.startswith("TTEblocks.2.")}
    with pytest.raises(ValueError, match=r"missing \(12\):\n    backbone.temporal_blocks.2.norm1.weight"):
        load_official(sd_missing, model=model)
    with pytest.raises(ValueError, match="this is a mixste checkpoint but the model's backbone is motionbert"):
        load_official(sd, model=create_model("motionbert", frames=15, depth=2, dim=16, mlp_hidden=32, variant=None))


def test_unknown_checkpoints_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        load_official(tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="not a checkpoint of a known backbone"):
        load_official({"foo.weight": torch.zeros(2)})
    with pytest.raises(ValueError, match="no state_dict in this checkpoint"):
        load_official({"optimizer": {"state": {}}, "epoch": 1})
    with pytest.raises(ValueError, match="no official TPC"):
        load_official(random_state(motionbert_keys(11, 2, 16, 32, 24)), tpc=True)
