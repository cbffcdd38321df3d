#!/usr/bin/python3
"""Generate the PyTorch parity fixtures of the TransMIL / DSMIL ops (tests/fixtures/attn/*.h5 + MANIFEST.tsv).

Reference modules are transcribed from the original MHIM-MIL code (modules/nystrom_attention.py: NystromAttention
and moore_penrose_iter_pinv; modules/emb_position.py: PPEG; modules/mhim_modules/baseline.py: BClassifier/DSMIL),
with einops replaced by explicit reshapes. Everything is computed in float64 from float32-representable inputs and
parameters; outputs and gradients are stored as float32. Dropout is off (p = 0).

Layout of each file: /inputs/*, /params/<state_dict name>, /outputs/*, /grads/<input or state_dict name>, root
attributes: op, torch_version, seed and the dimensions. The upstream gradient of every output is an input
(/inputs/d_<output>): the backward computes d(Σ output·d_output).

Run from the repository root:  /usr/bin/python3 tests/pytorch/gen_attn_fixtures.py
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

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "attn")
GENERATOR = "/usr/bin/python3 tests/pytorch/gen_attn_fixtures.py"
torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)


# ---- reference modules (original code, einops spelled out) --------------------------------------------------------

def moore_penrose_iter_pinv(x, iters=6):
    abs_x = torch.abs(x)
    col = abs_x.sum(dim=-1)
    row = abs_x.sum(dim=-2)
    z = x.transpose(-1, -2) / (torch.max(col) * torch.max(row))
    eye = torch.eye(x.shape[-1], dtype=x.dtype).unsqueeze(0)
    for _ in range(iters):
        xz = x @ z
        z = 0.25 * z @ (13 * eye - (xz @ (15 * eye - (xz @ (7 * eye - xz)))))
    return z


class NystromAttention(nn.Module):
    def __init__(self, dim, dim_head, heads, num_landmarks, pinv_iterations=6, residual_conv_kernel=33):
        super().__init__()
        inner_dim = heads * dim_head
        self.num_landmarks = num_landmarks
        self.pinv_iterations = pinv_iterations
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.to_qkv = nn.Linear(dim, inner_dim * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner_dim, dim), nn.Dropout(0.0))
        k = residual_conv_kernel
        self.res_conv = nn.Conv2d(heads, heads, (k, 1), padding=(k // 2, 0), groups=heads, bias=False)

    def forward(self, x):
        b, n, _ = x.shape
        h, m, iters = self.heads, self.num_landmarks, self.pinv_iterations
        remainder = n % m
        if remainder > 0:
            padding = m - (n % m)
            x = F.pad(x, (0, 0, padding, 0), value=0)
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = map(lambda t: t.reshape(b, t.shape[1], h, -1).transpose(1, 2), (q, k, v))  # b h n d
        q = q * self.scale
        l = math.ceil(n / m)
        q_landmarks = q.reshape(b, h, m, l, -1).sum(dim=3)  # '... (n l) d -> ... n d', sum
        k_landmarks = k.reshape(b, h, m, l, -1).sum(dim=3)
        q_landmarks = q_landmarks / l
        k_landmarks = k_landmarks / l
        attn1 = q @ k_landmarks.transpose(-1, -2)
        attn2 = q_landmarks @ k_landmarks.transpose(-1, -2)
        attn3 = q_landmarks @ k.transpose(-1, -2)
        attn1, attn2, attn3 = map(lambda t: t.softmax(dim=-1), (attn1, attn2, attn3))
        self.last_a2 = attn2
        attn2 = moore_penrose_iter_pinv(attn2, iters)
        out = (attn1 @ attn2) @ (attn3 @ v)
        out = out + self.res_conv(v)
        out = out.transpose(1, 2).reshape(b, out.shape[2], -1)  # 'b h n d -> b n (h d)'
        out = self.to_out(out)
        out = out[:, -n:]
        # return_attn branch of the original
        attn = (attn1[:, :, -n].unsqueeze(-2) @ attn2) @ attn3
        return out, attn[:, :, 0, -n + 1:], v[:, :, -n + 1:]


class PPEG(nn.Module):
    def __init__(self, dim, k=7):
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, k, 1, k // 2, groups=dim)
        self.proj1 = nn.Conv2d(dim, dim, 5, 1, 5 // 2, groups=dim)
        self.proj2 = nn.Conv2d(dim, dim, 3, 1, 3 // 2, groups=dim)

    def forward(self, x):
        B, N, C = x.shape
        H, W = int(np.ceil(np.sqrt(N))), int(np.ceil(np.sqrt(N)))
        add_length = H * W - N
        x = torch.cat([x, x[:, :add_length, :]], dim=1)
        if H < 7:
            H, W = 7, 7
            zero_pad = H * W - (N + add_length)
            x = torch.cat([x, torch.zeros((B, zero_pad, C), dtype=x.dtype)], dim=1)
            add_length += zero_pad
        cnn_feat = x.transpose(1, 2).view(B, C, H, W).contiguous()
        x = self.proj(cnn_feat) + cnn_feat + self.proj1(cnn_feat) + self.proj2(cnn_feat)
        x = x.flatten(2).transpose(1, 2)
        if add_length > 0:
            x = x[:, :-add_length]
        return x


class BClassifier(nn.Module):
    def __init__(self, input_size, output_class, qdim):
        super().__init__()
        self.q = nn.Sequential(nn.Linear(input_size, qdim), nn.ReLU(), nn.Linear(qdim, qdim), nn.Tanh())
        self.v = nn.Sequential(nn.Dropout(0.0), nn.Linear(input_size, input_size), nn.ReLU())
        self.fcc = nn.Conv1d(output_class, output_class, kernel_size=input_size)

    def forward(self, feats, c):
        V = self.v(feats)
        Q = self.q(feats).view(feats.shape[0], -1)
        _, m_indices = torch.sort(c, 0, descending=True)
        m_feats = torch.index_select(feats, dim=0, index=m_indices[0, :])
        q_max = self.q(m_feats)
        A = torch.mm(Q, q_max.transpose(0, 1))
        A = A / torch.sqrt(torch.tensor(Q.shape[1], dtype=torch.float32)).to(A.dtype)
        A = F.softmax(A, 0)
        B = torch.mm(A.transpose(0, 1), V)
        B = B.view(1, B.shape[0], B.shape[1])
        C = self.fcc(B)
        C = C.view(1, -1)
        return C, A, B, m_indices[0, :]


class DSMIL(nn.Module):
    def __init__(self, n_classes, mlp_dim, qdim):
        super().__init__()
        self.i_classifier = nn.Sequential(nn.Linear(mlp_dim, n_classes))
        self.b_classifier = BClassifier(mlp_dim, n_classes, qdim)

    def forward(self, x):
        feats = x.squeeze(0)
        classes = self.i_classifier(feats)
        prediction_bag, A, B, crit = self.b_classifier(feats, classes)
        classes_bag, _ = torch.max(classes, 0)
        return prediction_bag, classes_bag.unsqueeze(0), B, classes, crit


# ---- helpers -----------------------------------------------------------------------------------------------------

def f32(t):
    """Round to float32 and back: every fixture input is exactly representable in float32."""
    return t.detach().float().double()


def rand(shape, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape) * (hi - lo) + lo)


def round_params(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(f32(p))


def write(name, op, attrs, inputs, params, outputs, grads):
    path = os.path.join(OUT_DIR, name + ".h5")
    with h5py.File(path, "w") as f:
        f.attrs["op"] = op
        f.attrs["torch_version"] = str(torch.__version__)
        for k, v in attrs.items():
            f.attrs[k] = v
        for group, items in (("inputs", inputs), ("params", params), ("outputs", outputs), ("grads", grads)):
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)  # no timestamps: byte-identical files on regeneration
            g = h5py.Group(h5py.h5g.create(f.id, group.encode(), gcpl=gcpl))
            for k, v in items.items():
                arr = v.detach().numpy() if torch.is_tensor(v) else np.asarray(v)
                arr = arr.astype(np.int64) if arr.dtype.kind in "iu" else arr.astype(np.float32)
                g.create_dataset(k, data=arr, track_times=False)
    return path


def state(module):
    return {k: v for k, v in module.state_dict().items()}


# ---- cases -------------------------------------------------------------------------------------------------------

def nystrom_case(name, seed, n, dim, heads, dim_head, m, need_col_ties=False):
    """need_col_ties: take the first seed >= `seed` whose pinv column-sum maximum is tied (all-padding landmarks
    give identical columns), to pin down the evenly split gradient of torch.max."""
    while need_col_ties:
        torch.manual_seed(seed)
        mod = NystromAttention(dim, dim_head, heads, m)
        round_params(mod)
        mod(rand((1, n, dim)))
        col_sums = mod.last_a2.abs().sum(-2)
        if int((col_sums == col_sums.max()).sum()) >= 2:
            break
        seed += 1
    torch.manual_seed(seed)
    mod = NystromAttention(dim, dim_head, heads, m)
    round_params(mod)
    x = rand((1, n, dim)).requires_grad_(True)
    out, attn, v = mod(x)
    dout = rand(out.shape)
    (out * dout).sum().backward()
    a2 = mod.last_a2.detach()
    row_sums, col_sums = a2.abs().sum(-1), a2.abs().sum(-2)
    row_ties = int((row_sums == row_sums.max()).sum())
    col_ties = int((col_sums == col_sums.max()).sum())
    p = (m - n % m) % m
    attrs = dict(seed=seed, n=n, dim=dim, heads=heads, dim_head=dim_head, landmarks=m, pad=p,
                 pinv_row_ties=row_ties, pinv_col_ties=col_ties)
    params = state(mod)
    params["res_conv.weight"] = params["res_conv.weight"].reshape(heads, -1)
    grads = {"x": x.grad[0]}
    for k, prm in mod.named_parameters():
        grads[k] = prm.grad.reshape(heads, -1) if k == "res_conv.weight" else prm.grad
    outputs = {"out": out[0], "attn": attn[0], "v": v[0]}
    print(f"{name}: n={n} pad={p} pinv max ties rows={row_ties} cols={col_ties}")
    return write(name, "nystrom", attrs, {"x": x[0], "d_out": dout[0]}, params, outputs, grads)


def ppeg_case(name, seed, M, dim):
    torch.manual_seed(seed)
    mod = PPEG(dim)
    round_params(mod)
    x = rand((1, M, dim)).requires_grad_(True)
    out = mod(x)
    dout = rand(out.shape)
    (out * dout).sum().backward()
    params = {k: (v.reshape(dim, -1) if k.endswith("weight") else v) for k, v in state(mod).items()}
    grads = {"x": x.grad[0]}
    for k, prm in mod.named_parameters():
        grads[k] = prm.grad.reshape(dim, -1) if k.endswith("weight") else prm.grad
    return write(name, "ppeg", dict(seed=seed, M=M, dim=dim), {"x": x[0], "d_out": dout[0]}, params,
                 {"out": out[0]}, grads)


def dsmil_case(name, seed, n, dim, qdim, classes):
    torch.manual_seed(seed)
    mod = DSMIL(classes, dim, qdim)
    round_params(mod)
    h = rand((1, n, dim)).requires_grad_(True)
    bag_logit, max_logit, B, inst, crit = mod(h)
    d_bag_logit, d_max_logit, d_B = rand(bag_logit.shape), rand(max_logit.shape), rand(B.shape)
    ((bag_logit * d_bag_logit).sum() + (max_logit * d_max_logit).sum() + (B * d_B).sum()).backward()
    # the C code breaks ties towards the lowest index; random inputs must not contain any
    assert all(int((inst[:, c] == inst[:, c].max()).sum()) == 1 for c in range(classes))
    grads = {"h": h.grad[0]}
    for k, prm in mod.named_parameters():
        grads[k] = prm.grad
    outputs = {"bag_logit": bag_logit[0], "max_logit": max_logit[0], "bag": B[0], "inst": inst, "crit": crit}
    inputs = {"h": h[0], "d_bag_logit": d_bag_logit[0], "d_max_logit": d_max_logit[0], "d_bag": d_B[0]}
    return write(name, "dsmil", dict(seed=seed, n=n, dim=dim, qdim=qdim, classes=classes), inputs, state(mod),
                 outputs, grads)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    paths = [
        nystrom_case("nystrom_n13", 1, 13, 16, 2, 8, 4),
        nystrom_case("nystrom_n1", 2, 1, 16, 2, 8, 4),
        nystrom_case("nystrom_n3_ties", 3, 3, 16, 2, 8, 8, need_col_ties=True),
        nystrom_case("nystrom_n60_h8", 4, 60, 48, 8, 6, 24),
        ppeg_case("ppeg_m3", 5, 3, 8),
        ppeg_case("ppeg_m49", 6, 49, 8),
        ppeg_case("ppeg_m50", 7, 50, 8),
        dsmil_case("dsmil_n13", 8, 13, 16, 8, 2),
        dsmil_case("dsmil_n30_q128", 9, 30, 16, 128, 2),
        dsmil_case("dsmil_n9_c3", 10, 9, 16, 8, 3),
    ]
    with open(os.path.join(OUT_DIR, "MANIFEST.tsv"), "w") as f:
        f.write("file\tsha256\ttorch_version\tgenerator\n")
        for p in paths:
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
            f.write(f"{os.path.basename(p)}\t{digest}\t{torch.__version__}\t{GENERATOR}\n")
            print(f"{os.path.basename(p)}: {os.path.getsize(p)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
