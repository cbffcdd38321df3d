#!/usr/bin/python3
"""Generate the PyTorch parity fixtures of the TransMIL model as MHIM uses it (tests/fixtures/transmil/*.h5 +
MANIFEST.tsv).

The reference re-states, in float64 and in functional form, the student path of the original MHIM wrapper around
SAttention (v1 modules/mhim.py + modules/satten.py, v2 modules/mhim.py + modules/mhim_modules/baseline.py, both with
modules/nystrom_attention.py and the PPEG of modules/emb_position.py):
    h = act(x W_eᵀ + b_e)[keep]                     (dropout off: eval mode)
    T = [cls ; h];  T += Nys1(LN1(T));  T[1:] = PPEG(T[1:]);  T += Nys2(LN2(T));  feat = LN(T)[0]
    logits = feat W_pᵀ + b_p
plus the teacher exports (per-head cls-row attention of both layers, layer-1 instance values) and the v2 class-aware
score (attn2score). The parameter tree mirrors the original module names and registration order, so the
state_dict keys and their order are the original ones.

Sizes: the model dimensions are the original hard-coded ones (512, dim_head 64, 256 landmarks), so one set of
parameters is ~2.7 M floats. To keep the files small, parameters and bags are NOT stored: both sides generate them
with the integer hash below (exactly representable values), and the fixture stores, per tensor, its generator
settings and 64 sampled entries that the C test checks first. Outputs and gradients are stored whole
when they have at most FULL_MAX elements, else as a digest: 1024 sampled entries plus 4 random ±1 projections of the
whole tensor.

Generator: z = splitmix64_mix(seed·G + stream·S + (i+1)·G) (mod 2^64), j = (z >> 48) − 32768,
value = offset + j · 2^exp. Signs of projection k: top bit of the hash with seed SIGN_SEED, stream k (1 → −1).

The backward objective is Σ logits·d_logits + Σ feat·d_feat (d_* are stored inputs), i.e. any loss on the logits
plus the consistency loss on the bag feature.

Run from the repository root:  /usr/bin/python3 tests/pytorch/gen_transmil_fixtures.py
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

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "transmil")
GENERATOR = "/usr/bin/python3 tests/pytorch/gen_transmil_fixtures.py"
torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)

DIM, DIM_HEAD, LANDMARKS = 512, 64, 256
G, S = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03
SIGN_SEED, SAMPLE_SEED, X_STREAM = 0x5EED, 0xD16E57, 1000
FULL_MAX, SAMPLES, PARAM_SAMPLES, PROJECTIONS = 16384, 1024, 64, 4


# ---- deterministic values shared with the C test -----------------------------------------------------------------

def hash_u64(seed, stream, n):
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) * np.uint64(G) + np.uint64(stream) * np.uint64(S) + i * np.uint64(G)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def hash_values(seed, stream, n, offset, exp):
    j = (hash_u64(seed, stream, n) >> np.uint64(48)).astype(np.int64) - 32768
    return offset + j.astype(np.float64) * 2.0 ** exp


def signs(k, n):
    return np.where((hash_u64(SIGN_SEED, k, n) >> np.uint64(63)) == 1, -1.0, 1.0)


# ---- the parameter tree (original names and registration order) --------------------------------------------------

class TransLayerTree(nn.Module):
    def __init__(self, heads):
        super().__init__()
        self.norm = nn.LayerNorm(DIM)
        self.attn = nn.Module()
        inner = heads * DIM_HEAD
        self.attn.to_qkv = nn.Linear(DIM, 3 * inner, bias=False)
        self.attn.to_out = nn.Sequential(nn.Linear(inner, DIM), nn.Dropout(0.1))
        self.attn.res_conv = nn.Conv2d(heads, heads, (33, 1), padding=(16, 0), groups=heads, bias=False)


class EncoderTree(nn.Module):
    def __init__(self, heads):
        super().__init__()
        self.norm = nn.LayerNorm(DIM)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.layer1 = TransLayerTree(heads)
        self.layer2 = TransLayerTree(heads)
        self.pos_embedding = nn.Module()
        for name, k in (("proj", 7), ("proj1", 5), ("proj2", 3)):
            setattr(self.pos_embedding, name, nn.Conv2d(DIM, DIM, k, 1, k // 2, groups=DIM))


class ModelTree(nn.Module):
    """v1: patch_to_emb; v2: feature. (In both originals `dp` is registered before the Sequential, which has no
    effect on the keys since dropout has no parameters.)"""

    def __init__(self, version, input_dim, n_classes, heads):
        super().__init__()
        self.dp = nn.Dropout(0.25)
        front = nn.Sequential(nn.Linear(input_dim, DIM), nn.ReLU())
        setattr(self, "patch_to_emb" if version == 1 else "feature", front)
        self.online_encoder = EncoderTree(heads)
        self.predictor = nn.Linear(DIM, n_classes)


def param_exp(key, shape, heads):
    """(offset, exp) of the generated values: a power-of-two range near the original initialisation scale."""
    if key.endswith("cls_token"):
        return 0.0, -14  # ±2 (torch.randn)
    if "norm.weight" in key:
        return 1.0, -18  # 1 ± 0.125
    if "norm.bias" in key:
        return 0.0, -19
    if key.endswith("res_conv.weight"):
        return 0.0, -18  # ±0.125 ~ 1/sqrt(33)
    if "pos_embedding" in key:
        k = shape[-1]
        return 0.0, int(round(math.log2(1.0 / k))) - 15  # U(±1/k) default conv init
    if key.endswith("bias"):
        return 0.0, -20  # ±1/32 (the original initialises linear biases to 0)
    fan_out, fan_in = shape[0], shape[1]
    bound = math.sqrt(3.0) * math.sqrt(2.0 / (fan_in + fan_out))  # xavier_normal std → uniform bound
    return 0.0, int(round(math.log2(bound))) - 15


# ---- reference forward (float64, autograd) ------------------------------------------------------------------------

def layer_norm(t, w, b):
    return F.layer_norm(t, (DIM,), w, b, eps=1e-5)


def pseudo_inverse(a, iters=6):
    """moore_penrose_iter_pinv: normaliser = (max row abs-sum) · (max column abs-sum), each over all heads."""
    norm = torch.max(a.abs().sum(-1)) * torch.max(a.abs().sum(-2))
    z = a.transpose(-1, -2) / norm
    eye = torch.eye(a.shape[-1]).unsqueeze(0)
    for _ in range(iters):
        y = a @ z
        z = 0.25 * z @ (13 * eye - y @ (15 * eye - y @ (7 * eye - y)))
    return z


def nystrom(u, P, pre, heads):
    """NystromAttention(512, dim_head 64, heads, 256 landmarks, residual conv 33) on u (n, 512), dropout off.
    Returns (out (n, 512), cls attention (H, n-1), instance values (H, n-1, 64), cls-row context (H, n-1, 64))."""
    n = u.shape[0]
    pad = (LANDMARKS - n % LANDMARKS) % LANDMARKS
    up = torch.cat([u.new_zeros(pad, DIM), u])
    total = up.shape[0]
    seg = total // LANDMARKS
    inner = heads * DIM_HEAD
    qkv = up @ P[pre + "to_qkv.weight"].t()
    q, k, v = (qkv[:, j * inner:(j + 1) * inner].reshape(total, heads, DIM_HEAD).permute(1, 0, 2) for j in range(3))
    q = q * DIM_HEAD ** -0.5
    q_land = q.reshape(heads, LANDMARKS, seg, DIM_HEAD).mean(2)
    k_land = k.reshape(heads, LANDMARKS, seg, DIM_HEAD).mean(2)
    a1 = torch.softmax(q @ k_land.transpose(1, 2), -1)
    a2 = torch.softmax(q_land @ k_land.transpose(1, 2), -1)
    a3 = torch.softmax(q_land @ k.transpose(1, 2), -1)
    z = pseudo_inverse(a2)
    o = (a1 @ z) @ (a3 @ v)
    o = o + F.conv2d(v.unsqueeze(0), P[pre + "res_conv.weight"], padding=(16, 0), groups=heads)[0]
    out = o.permute(1, 0, 2).reshape(total, inner) @ P[pre + "to_out.0.weight"].t() + P[pre + "to_out.0.bias"]
    attn = ((a1[:, pad:pad + 1] @ z) @ a3)[:, 0, pad + 1:]
    return out[pad:], attn, v[:, pad + 1:]


def ppeg(y, P):
    """PPEG(512, k=7) on the instance tokens y (M, 512)."""
    M = y.shape[0]
    side = int(np.ceil(np.sqrt(M)))
    grid_in = torch.cat([y, y[:side * side - M]])
    if side < 7:
        grid_in = torch.cat([grid_in, y.new_zeros(49 - side * side, DIM)])
        side = 7
    g = grid_in.t().reshape(1, DIM, side, side)
    out = g
    for name, k in (("proj", 7), ("proj1", 5), ("proj2", 3)):
        pre = "online_encoder.pos_embedding." + name
        out = out + F.conv2d(g, P[pre + ".weight"], P[pre + ".bias"], padding=k // 2, groups=DIM)
    return out.reshape(DIM, side * side).t()[:M]


def model_forward(P, x, keep, version, act, heads):
    front = "patch_to_emb.0." if version == 1 else "feature.0."
    h = x @ P[front + "weight"].t() + P[front + "bias"]
    h = torch.relu(h) if act == "relu" else F.gelu(h)
    if keep is not None:
        h = h[torch.as_tensor(keep)]
    enc = "online_encoder."
    t = torch.cat([P[enc + "cls_token"].reshape(1, DIM), h])
    outs = {}
    for layer in (1, 2):
        pre = f"{enc}layer{layer}."
        u = layer_norm(t, P[pre + "norm.weight"], P[pre + "norm.bias"])
        o, attn, values = nystrom(u, P, pre + "attn.", heads)
        t = t + o
        outs[f"attn{layer - 1}"] = attn
        if layer == 1:
            outs["values"] = values
            t = torch.cat([t[:1], ppeg(t[1:], P)])
    feat = layer_norm(t, P[enc + "norm.weight"], P[enc + "norm.bias"])[0]
    logits = feat @ P["predictor.weight"].t() + P["predictor.bias"]
    # v2 attn2score: to_out of layer 1 applied to α·V, predictor, + b_p[0] on every class, softmax, max
    a, v = outs["attn0"], outs["values"]
    ctx = (v * a.unsqueeze(-1)).permute(1, 0, 2).reshape(a.shape[1], heads * DIM_HEAD)
    u1 = ctx @ P[enc + "layer1.attn.to_out.0.weight"].t() + P[enc + "layer1.attn.to_out.0.bias"]
    cam = u1 @ P["predictor.weight"].t() + P["predictor.bias"][0]
    outs["scores"] = torch.softmax(cam, -1).max(-1).values
    return logits, feat, outs


# ---- writing -----------------------------------------------------------------------------------------------------

def group(parent, name):
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)  # no timestamps: byte-identical files on regeneration
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


def dataset(g, name, arr):
    arr = np.asarray(arr)
    arr = arr.astype(np.int64) if arr.dtype.kind in "iu" else arr.astype(np.float64 if name == "proj" else np.float32)
    g.create_dataset(name, data=arr, track_times=False)


def write_digest(g, stream, flat, generated=False):
    """Whole tensor (`full`) when small, else `idx`/`val` samples and `proj` projections (float64). Generated
    tensors (parameters, bag) only need PARAM_SAMPLES samples to show that both sides generate the same values."""
    flat = np.asarray(flat, dtype=np.float64).reshape(-1)
    if not generated and flat.size <= FULL_MAX:
        dataset(g, "full", flat)
        return
    idx = (hash_u64(SAMPLE_SEED, stream, PARAM_SAMPLES if generated else SAMPLES) % np.uint64(flat.size))
    idx = idx.astype(np.int64)
    dataset(g, "idx", idx)
    dataset(g, "val", flat[idx])
    if not generated:
        dataset(g, "proj", np.array([np.dot(signs(k, flat.size), flat) for k in range(PROJECTIONS)]))


def case(name, seed, version, input_dim, n_classes, heads, act, N, n_keep=None):
    tree = ModelTree(version, input_dim, n_classes, heads)
    keys = list(tree.state_dict().keys())
    P, gen = {}, {}
    for index, (key, ref) in enumerate(tree.state_dict().items()):
        offset, exp = param_exp(key, tuple(ref.shape), heads)
        vals = hash_values(seed, index, ref.numel(), offset, exp)
        assert np.all(vals.astype(np.float32) == vals)
        P[key] = torch.tensor(vals).reshape(ref.shape).requires_grad_(True)
        gen[key] = (index, offset, exp, tuple(ref.shape), vals)
    x_exp = -15
    x = torch.tensor(hash_values(seed, X_STREAM, N * input_dim, 0.0, x_exp)).reshape(N, input_dim)
    keep = None
    if n_keep is not None:  # a scrambled kept list: TransMIL depends on the order
        rng = np.random.RandomState(seed)
        keep = rng.permutation(N)[:n_keep]
    logits, feat, outs = model_forward(P, x, keep, version, act, heads)
    rng = np.random.RandomState(seed + 7)
    d_logits = torch.tensor(rng.uniform(-1, 1, n_classes).astype(np.float32).astype(np.float64))
    d_feat = torch.tensor(rng.uniform(-1, 1, DIM).astype(np.float32).astype(np.float64))
    ((logits * d_logits).sum() + (feat * d_feat).sum()).backward()

    path = os.path.join(OUT_DIR, name + ".h5")
    with h5py.File(path, "w") as f:
        attrs = dict(model="transmil", version=version, input_dim=input_dim, n_classes=n_classes, heads=heads,
                     act=0 if act == "relu" else 1, N=N, n_keep=N if keep is None else n_keep,
                     masked=int(keep is not None), seed=seed, x_offset=0.0, x_exp=x_exp, n_params=len(keys),
                     torch_version=str(torch.__version__))
        for k, v in attrs.items():
            f.attrs[k] = v
        gi = group(f, "inputs")
        if keep is not None:
            dataset(gi, "keep", keep)
        dataset(gi, "d_logits", d_logits.numpy())
        dataset(gi, "d_feat", d_feat.numpy())
        write_digest(group(gi, "x"), X_STREAM, x.numpy(), generated=True)
        gp, gg = group(f, "params"), group(f, "grads")
        for key in keys:
            index, offset, exp, shape, vals = gen[key]
            g = group(gp, key)
            g.attrs["index"], g.attrs["offset"], g.attrs["exp"] = index, offset, exp
            dataset(g, "shape", np.array(shape))
            write_digest(g, index, vals, generated=True)
            write_digest(group(gg, key), index, P[key].grad.numpy())
        go = group(f, "outputs")
        write_digest(group(go, "logits"), 2002, logits.detach().numpy())
        write_digest(group(go, "feat"), 2003, feat.detach().numpy())
        for k in ("attn0", "attn1", "scores"):
            write_digest(group(go, k), 2000, outs[k].detach().numpy())
        write_digest(group(go, "values"), 2001, outs["values"].detach().numpy())
    print(f"{name}: N={N} kept={attrs['n_keep']} heads={heads} v{version} logits={logits.detach().numpy()}")
    return path


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    # tier "slow": run by test_parity_transmil_slow (each case costs ~1 s of pseudo-inverse GEMMs at 256 landmarks)
    cases = [
        ("default", case("transmil_n1", 11, 1, 1024, 2, 8, "relu", 1)),
        ("slow", case("transmil_n5", 12, 1, 1024, 2, 8, "relu", 5)),
        ("default", case("transmil_n17_masked", 13, 1, 1024, 2, 8, "relu", 17, n_keep=11)),
        ("slow", case("transmil_n49", 14, 1, 1024, 2, 8, "relu", 49)),
        ("default", case("transmil_n255", 15, 1, 1024, 2, 8, "relu", 255)),
        ("default", case("transmil_n300", 16, 1, 1024, 2, 8, "relu", 300)),
        ("default", case("transmil_v2_h2_n40_masked", 17, 2, 768, 4, 2, "gelu", 40, n_keep=29)),
        ("slow", case("transmil_n3000", 18, 1, 1024, 2, 8, "relu", 3000)),
        ("slow", case("transmil_n3500_masked", 19, 1, 1024, 2, 8, "relu", 3500, n_keep=3000)),
    ]
    with open(os.path.join(OUT_DIR, "MANIFEST.tsv"), "w") as f:
        f.write("file\tsha256\ttorch_version\tgenerator\ttier\n")
        for tier, p in cases:
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
            f.write(f"{os.path.basename(p)}\t{digest}\t{torch.__version__}\t{GENERATOR}\t{tier}\n")
            print(f"{os.path.basename(p)}: {os.path.getsize(p)} bytes, tier {tier}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
