#!/usr/bin/python3
"""Generate the PyTorch parity fixtures of the ABMIL model as MHIM wraps it (tests/fixtures/abmil/*.h5 + MANIFEST.tsv).

The reference re-states, in this file's own words, the network the original MHIM-MIL code builds for
baseline='attn': the front end (v1 MHIM.patch_to_emb / v2 MHIM.feature: Linear(D_in, 512) + ReLU|GELU, then dp),
DAttention (Attention: Linear(512, 128, bias=False), act, Linear(128, 1, bias=False); or AttentionGated), the
softmax over the instances, attention pooling and the predictor Linear(512, C); the masked student sees the rows
mask_ids[:len_keep] in that order; the v2 teacher score is get_pseudo_score (attn2score). Everything runs in float64
from float32-representable inputs and parameters; results are stored as float32. Dropout is off (eval mode).

File layout: /inputs/x_codes (N, D_in) uint8, the bag being x_codes · x_scale (root attribute); /params/<state_dict
key> (float16-exact values); then one group per variant, "full" (all rows) and/or "masked": <variant>/inputs/keep_idx
(n) (masked only), <variant>/inputs/d_logits (C), <variant>/inputs/d_z (512) (upstream gradients: the backward
computes d(Σ logits·d_logits + Σ z·d_z)); <variant>/outputs/{logits, z, attn, scores} of the student on the kept
rows, plus teacher_score (attn2score over the whole bag) in "full"; <variant>/grads/<state_dict key>. A gradient of more than
GRAD_KEEP elements is stored as its leading rows (at most GRAD_KEEP elements), and <variant>/grad_norms/<key> holds
the Frobenius norm of the whole tensor. Attributes: version, gated, act, da_act,
act_id, da_act_id (mhim_act values), N, <variant>_n, input_dim, classes, seed.

Run from the repository root:  /usr/bin/python3 tests/pytorch/gen_abmil_fixtures.py
"""
import hashlib
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "abmil")
GENERATOR = "/usr/bin/python3 tests/pytorch/gen_abmil_fixtures.py"
GRAD_KEEP = 32768  # at most this many elements of each gradient are stored (leading rows)
torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)

ACTS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}
ACT_IDS = {"relu": 0, "gelu": 1, "tanh": 2}  # the values of the C enum mhim_act


# ---- reference network ------------------------------------------------------------------------------------------

class FrontEnd(nn.Module):
    """Linear(D_in, 512) + activation; dropout is the identity in eval mode."""

    def __init__(self, input_dim, act):
        super().__init__()
        self.proj = nn.Linear(input_dim, 512)
        self.act = ACTS[act]()

    def forward(self, x):
        return self.act(self.proj(x))


class AttentionScores(nn.Module):
    """Raw attention logits s (n,) of DAttention, plain or gated, without biases (hidden width 128, K = 1)."""

    def __init__(self, act, gated):
        super().__init__()
        self.gated = gated
        self.act = ACTS[act]()
        if gated:
            self.wa = nn.Linear(512, 128, bias=False)
            self.wb = nn.Linear(512, 128, bias=False)
            self.wc = nn.Linear(128, 1, bias=False)
        else:
            self.w1 = nn.Linear(512, 128, bias=False)
            self.w2 = nn.Linear(128, 1, bias=False)

    def forward(self, h):
        if self.gated:
            return self.wc(self.act(self.wa(h)) * torch.sigmoid(self.wb(h)))[:, 0]
        return self.w2(self.act(self.w1(h)))[:, 0]


class MhimAbmil(nn.Module):
    def __init__(self, version, input_dim, classes, act, da_act, gated):
        super().__init__()
        self.version, self.gated = version, gated
        self.front = FrontEnd(input_dim, act)
        self.scores = AttentionScores(da_act, gated)
        self.predictor = nn.Linear(512, classes)

    def forward(self, x, keep_idx=None):
        h = self.front(x)
        if keep_idx is not None:
            h = h[keep_idx]
        s = self.scores(h)
        a = torch.softmax(s, dim=0)
        z = a @ h
        return self.predictor(z), z, a, s, h

    def state_keys(self):
        """state_dict key of the original module for each parameter here (original names, original order)."""
        front = "patch_to_emb.0" if self.version == 1 else "feature.0"
        enc = "online_encoder.attention."
        keys = {"front.proj.weight": front + ".weight", "front.proj.bias": front + ".bias"}
        if self.gated:
            keys.update({"scores.wa.weight": enc + "attention_a.0.weight", "scores.wb.weight": enc + "attention_b.0.weight",
                         "scores.wc.weight": enc + "attention_c.weight"})
        else:
            keys.update({"scores.w1.weight": enc + "attention.0.weight", "scores.w2.weight": enc + "attention.2.weight"})
        keys.update({"predictor.weight": "predictor.weight", "predictor.bias": "predictor.bias"})
        return keys


def attn2score(predictor, h, a):
    """v2 get_pseudo_score: max over classes of softmax_c((a_i h_i) · W_p[c] + b_p[0])."""
    cam = (h * a[:, None]) @ predictor.weight.t() + predictor.bias[0]
    return torch.softmax(cam, dim=1).max(dim=1).values


# ---- helpers ----------------------------------------------------------------------------------------------------

def quantise(t, std):
    """Round to multiples of a power-of-two step near std/16: exact in float16, and compact under gzip."""
    step = 2.0 ** round(math.log2(std / 16))
    q = torch.round(t / step)
    assert q.abs().max() <= 2048
    return q * step


def init_params(model, seed):
    """Xavier-normal weights and small random biases (non-zero so that their gradients are tested)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            std = math.sqrt(2.0 / (p.shape[0] + p.shape[-1])) if p.dim() >= 2 else 0.1
            p.copy_(quantise(torch.randn(p.shape, generator=g) * std, std))


def bag_codes(N, D, seed):
    """A bag of non-negative features x = codes / 8, codes in 0..15 (40 % zeros)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(1, 16, (N, D), generator=g)
    q[torch.rand((N, D), generator=g) < 0.4] = 0
    return q.to(torch.uint8)


X_SCALE = 0.125


def dataset(g, name, v):
    arr = v.detach().numpy() if torch.is_tensor(v) else np.asarray(v)
    gz = dict(compression="gzip", compression_opts=9, shuffle=True) if arr.size > 1024 else {}
    if arr.dtype == np.uint8:
        return g.create_dataset(name, data=arr, track_times=False, **gz)
    if arr.dtype.kind in "iu":
        return g.create_dataset(name, data=arr.astype(np.int64), track_times=False, **gz)
    if name.startswith("params/") or "/params/" in g.name + "/":
        half = arr.astype(np.float16)  # parameters are float16-exact by construction
        assert np.array_equal(half.astype(np.float64), arr.astype(np.float64)), name
        return g.create_dataset(name, data=half, track_times=False, **gz)
    return g.create_dataset(name, data=arr.astype(np.float32), track_times=False, **gz)


def write_group(parent, name, items):
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)  # no timestamps: byte-identical files on regeneration
    g = h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))
    for k, v in items.items():
        if isinstance(v, dict):
            write_group(g, k, v)
        else:
            dataset(g, k, v)


def write(out_dir, name, attrs, tree):
    """tree: nested dicts of tensors (groups of datasets); root attributes from attrs."""
    path = os.path.join(out_dir, name + ".h5")
    with h5py.File(path, "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        for k, v in attrs.items():
            f.attrs[k] = v
        for k, v in tree.items():
            write_group(f, k, v)
    return path


def write_manifest(out_dir, generator, paths):
    with open(os.path.join(out_dir, "MANIFEST.tsv"), "w") as f:
        f.write("file\tsha256\ttorch_version\tgenerator\n")
        for p in paths:
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
            f.write(f"{os.path.basename(p)}\t{digest}\t{torch.__version__}\t{generator}\n")
            print(f"{os.path.basename(p)}: {os.path.getsize(p)} bytes")


def trim_grads(grads):
    """Keep at most GRAD_KEEP elements (whole leading rows) of every gradient; returns the Frobenius norms of the
    trimmed tensors, by key."""
    norms = {}
    for key, g in grads.items():
        if g.numel() > GRAD_KEEP:
            rows = max(1, GRAD_KEEP // (g.numel() // g.shape[0]))
            norms[key] = g.norm()
            grads[key] = g[:rows]
    return norms


# ---- cases ------------------------------------------------------------------------------------------------------

def case(name, seed, version, N, D, classes, act="relu", da_act="relu", gated=False, keep=None, full=True):
    """One file: the bag, the parameters and up to two variants: "full" (every row; also the teacher score) and
    "masked" (`keep` rows, a random permutation prefix, so in no particular order)."""
    torch.manual_seed(seed)
    model = MhimAbmil(version, D, classes, act, da_act, gated)
    init_params(model, seed)
    codes = bag_codes(N, D, seed + 1)
    x = codes.to(torch.float64) * X_SCALE
    g = torch.Generator().manual_seed(seed + 2)
    keys = model.state_keys()
    attrs = dict(version=version, gated=int(gated), act=act, da_act=da_act, act_id=ACT_IDS[act],
                 da_act_id=ACT_IDS[da_act], N=N, input_dim=D, classes=classes,
                 seed=seed, x_scale=X_SCALE)
    tree = {"inputs": {"x_codes": codes}, "params": {keys[k]: p for k, p in model.named_parameters()}}
    variants = (["full"] if full else []) + (["masked"] if keep is not None else [])
    for variant in variants:
        keep_idx = torch.randperm(N, generator=g)[:keep] if variant == "masked" else None
        model.zero_grad()
        logits, z, a, s, h = model(x, keep_idx)
        d_logits = (torch.rand(classes, generator=g) * 2 - 1).to(torch.float32).to(torch.float64)
        d_z = (torch.rand(512, generator=g) * 2 - 1).to(torch.float32).to(torch.float64)
        ((logits * d_logits).sum() + (z * d_z).sum()).backward()
        grads = {keys[k]: p.grad.clone() for k, p in model.named_parameters()}
        norms = trim_grads(grads)
        inputs = {"d_logits": d_logits, "d_z": d_z}
        if keep_idx is not None:
            inputs["keep_idx"] = keep_idx
        outputs = {"logits": logits, "z": z, "attn": a, "scores": s}
        if keep_idx is None:
            outputs["teacher_score"] = attn2score(model.predictor, h, a)
        tree[variant] = {"inputs": inputs, "outputs": outputs, "grads": grads, "grad_norms": norms}
        attrs[f"{variant}_n"] = len(h)
        print(f"{name}/{variant}: N={N} n={len(h)} D_in={D} C={classes} v{version} gated={int(gated)} "
              f"act={act}/{da_act}")
    return write(OUT_DIR, name, attrs, tree)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    paths = [
        case("abmil_v1_n13", 11, 1, 13, 24, 2, keep=8),
        case("abmil_v2_gelu_tanh_c4", 12, 2, 9, 20, 4, act="gelu", da_act="tanh", keep=5),
        case("abmil_v2_gated_gelu_n11", 14, 2, 11, 16, 2, act="gelu", da_act="gelu", gated=True, keep=6, full=False),
        case("abmil_v1_n3000_d1024", 15, 1, 3000, 1024, 2, keep=1480),
    ]
    write_manifest(OUT_DIR, GENERATOR, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
