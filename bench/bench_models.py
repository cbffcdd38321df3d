#!/usr/bin/python3
"""PyTorch counterpart of bench_models: one training step's forward + backward per bag for the original MHIM
modules (re-stated as nn.Modules with the original structure: MHIM front end + DAttention / SAttention with
NystromAttention and PPEG / DSMIL, 2 classes, train mode), N instances of D_in 1024, plus torch.mm of N x 1024 x 512.

usage: OMP_WAIT_POLICY=passive python bench/bench_models.py [--threads T] [--reps R] [--n N] [--models LIST]
       [--autocast-bf16]
Run it with both interpreters: /usr/bin/python3 (Debian torch 1.13) and .venv-ref/bin/python (current torch).
--autocast-bf16 runs each step under torch.autocast("cpu", torch.bfloat16) (PyTorch's own CPU mixed precision: every
linear layer and matmul in bf16, not only the first as mhim's --precision=bf16; the original program has no such
mode on the CPU), for reference.
Prints median and best ms after 2 warm-ups, repetitions interleaved across models.
"""
import argparse
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

WARMUPS, D_IN, C = 2, 1024, 2


class Front(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_to_emb = nn.Sequential(nn.Linear(D_IN, 512), nn.ReLU())
        self.dp = nn.Dropout(0.25)
        self.predictor = nn.Linear(512, C)


class Abmil(Front):
    def __init__(self):
        super().__init__()
        self.attention = nn.Sequential(nn.Linear(512, 128, bias=False), nn.ReLU(), nn.Linear(128, 1, bias=False))

    def forward(self, x):
        h = self.dp(self.patch_to_emb(x))
        a = torch.softmax(self.attention(h).transpose(-1, -2), -1)
        return self.predictor((a @ h).squeeze(1))


class Dsmil(Front):
    def __init__(self):
        super().__init__()
        self.i_classifier = nn.Linear(512, C)
        self.q = nn.Sequential(nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 128), nn.Tanh())
        self.v = nn.Sequential(nn.Dropout(0.0), nn.Linear(512, 512), nn.ReLU())
        self.fcc = nn.Conv1d(C, C, kernel_size=512)

    def forward(self, x):
        f = self.dp(self.patch_to_emb(x))[0]
        c = self.i_classifier(f)
        v, q = self.v(f), self.q(f)
        _, idx = torch.sort(c, 0, descending=True)
        qmax = self.q(torch.index_select(f, 0, idx[0]))
        a = torch.softmax(q @ qmax.t() / math.sqrt(128.0), 0)
        b = a.t() @ v
        return self.fcc(b.unsqueeze(0)).view(1, -1), c.max(0, keepdim=True)[0]


def pinv(x, iters=6):
    abs_x = x.abs()
    z = x.transpose(-1, -2) / (abs_x.sum(-1).max() * abs_x.sum(-2).max())
    eye = torch.eye(x.shape[-1], device=x.device).unsqueeze(0)
    for _ in range(iters):
        xz = x @ z
        z = 0.25 * z @ (13 * eye - xz @ (15 * eye - xz @ (7 * eye - xz)))
    return z


class Nystrom(nn.Module):
    """NystromAttention(dim 512, dim_head 64, heads 8, 256 landmarks, 6 pinv iterations, residual conv 33)."""

    def __init__(self, heads=8, m=256):
        super().__init__()
        self.h, self.m = heads, m
        self.to_qkv = nn.Linear(512, 3 * 64 * heads, bias=False)
        self.to_out = nn.Sequential(nn.Linear(64 * heads, 512), nn.Dropout(0.1))
        self.res_conv = nn.Conv2d(heads, heads, (33, 1), padding=(16, 0), groups=heads, bias=False)

    def forward(self, x):
        b, n, _ = x.shape
        m, h = self.m, self.h
        if n % m:
            x = F.pad(x, (0, 0, m - n % m, 0))
        q, k, v = self.to_qkv(x).chunk(3, -1)
        q, k, v = (t.reshape(b, -1, h, 64).transpose(1, 2) for t in (q, k, v))
        q = q * 64 ** -0.5
        l = math.ceil(n / m)
        ql = q.reshape(b, h, m, l, 64).sum(3) / l
        kl = k.reshape(b, h, m, l, 64).sum(3) / l
        a1, a2, a3 = (torch.softmax(t, -1) for t in (q @ kl.transpose(-1, -2), ql @ kl.transpose(-1, -2),
                                                      ql @ k.transpose(-1, -2)))
        out = (a1 @ pinv(a2)) @ (a3 @ v) + self.res_conv(v)
        out = self.to_out(out.transpose(1, 2).reshape(b, -1, h * 64))
        return out[:, -n:]


class TransLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.attn = nn.LayerNorm(512), Nystrom()

    def forward(self, x):
        return x + self.attn(self.norm(x))


class Ppeg(nn.Module):
    def __init__(self, dim=512):
        super().__init__()
        self.proj, self.proj1, self.proj2 = (nn.Conv2d(dim, dim, k, 1, k // 2, groups=dim) for k in (7, 5, 3))

    def forward(self, x):
        b, n, c = x.shape
        s = int(math.ceil(math.sqrt(n)))
        add = s * s - n
        x = torch.cat([x, x[:, :add]], 1)
        if s < 7:
            s, zeros = 7, 49 - (n + add)
            x = torch.cat([x, torch.zeros(b, zeros, c)], 1)
            add += zeros
        g = x.transpose(1, 2).reshape(b, c, s, s)
        g = g + self.proj(g) + self.proj1(g) + self.proj2(g)
        x = g.flatten(2).transpose(1, 2)
        return x[:, :-add] if add else x


class Transmil(Front):
    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 512))
        self.layer1, self.layer2, self.pos_embedding, self.norm = TransLayer(), TransLayer(), Ppeg(), nn.LayerNorm(512)

    def forward(self, x):
        h = self.dp(self.patch_to_emb(x))
        t = self.layer1(torch.cat([self.cls_token, h], 1))
        t = torch.cat([t[:, :1], self.pos_embedding(t[:, 1:])], 1)
        return self.predictor(self.norm(self.layer2(t))[:, 0])


def step(model, x, y):
    model.zero_grad(set_to_none=True)
    out = model(x)
    if isinstance(out, tuple):
        loss = 0.5 * F.cross_entropy(out[0], y) + 0.5 * F.cross_entropy(out[1], y)
    else:
        loss = F.cross_entropy(out, y)
    loss.backward()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--models", default="abmil,transmil,dsmil")
    ap.add_argument("--autocast-bf16", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"# bench_models.py: torch {torch.__version__}, N {a.n}, D_in {D_IN}, threads {a.threads}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, median/best of {a.reps} after {WARMUPS}"
          f"{', autocast bf16' if a.autocast_bf16 else ''}")
    x, y = torch.rand(1, a.n, D_IN) * 2 - 1, torch.tensor([1])
    w = torch.rand(512, D_IN)
    kinds = {"abmil": Abmil, "transmil": Transmil, "dsmil": Dsmil}
    models = {k: kinds[k]().train() for k in a.models.split(",")}
    times = {k: [] for k in ["mm"] + list(models)}
    for rep in range(-WARMUPS, a.reps):
        t0 = time.perf_counter()
        torch.mm(x[0], w.t())
        if rep >= 0:
            times["mm"].append(time.perf_counter() - t0)
        for name, model in models.items():
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast_bf16):
                step(model, x, y)
            if rep >= 0:
                times[name].append(time.perf_counter() - t0)
    mm = statistics.median(times["mm"])
    print(f"# mm {a.n}x1024x512: {1e3 * mm:.1f} ms median = {2 * a.n * 512 * D_IN / mm * 1e-9:.1f} GFLOP/s")
    print("| model | fwd+bwd ms (median) | best ms |\n|---|---|---|")
    for name in models:
        print(f"| {name} | {1e3 * statistics.median(times[name]):.1f} | {1e3 * min(times[name]):.1f} |")


if __name__ == "__main__":
    main()
