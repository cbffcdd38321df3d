#!/usr/bin/env python3
"""PyTorch reference for bench/bench_gpu.c: the same ABMIL+MHIM training step on the same GPU.

teacher forward (no dropout) -> student forward (Linear(dim, 512) + ReLU + Dropout(0.25), ABMIL attention L=128
without biases, instance softmax with 10% of the instances masked, pooling, Linear(512, 2)) -> CE + 0.5 x
consistency (soft-target CE, temperatures 0.1 / 1) -> backward -> AdamW -> EMA teacher. fp32, TF32 off.
Prints the median step time and the peak allocated GPU memory:
    python3 bench/bench_gpu.py [instances=9000] [dim=1024] [repetitions=50]
"""
import copy
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ABMIL(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(dim, 512), nn.ReLU(), nn.Dropout(0.25))
        self.attention = nn.Sequential(nn.Linear(512, 128, bias=False), nn.ReLU(), nn.Linear(128, 1, bias=False))
        self.predictor = nn.Linear(512, 2)

    def forward(self, x, keep=None):
        h = self.embed(x)
        a = self.attention(h).squeeze(1)
        if keep is not None:
            a = a.masked_fill(~keep, float("-inf"))
        z = torch.softmax(a, 0) @ h
        return self.predictor(z), z


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    dim = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    student = ABMIL(dim).to(dev)
    teacher = copy.deepcopy(student).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=2e-4, weight_decay=1e-4)
    x = torch.rand(n, dim, device=dev)
    keep = torch.arange(n, device=dev) % 10 != 0
    y = torch.tensor([1], device=dev)
    torch.cuda.reset_peak_memory_stats()
    times = []
    for r in range(reps + 3):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            _, zt = teacher(x)
        logits, z = student(x, keep)
        cons = torch.sum(-F.softmax(zt / 0.1, -1) * F.log_softmax(z / 1.0, -1), -1).mean()
        loss = F.cross_entropy(logits.unsqueeze(0), y) + 0.5 * cons
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pt, ps in zip(teacher.parameters(), student.parameters()):
                pt.mul_(0.9999).add_(ps, alpha=1 - 0.9999)
        torch.cuda.synchronize()
        if r >= 3:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(f"bench_gpu.py torch {torch.__version__} {torch.cuda.get_device_name()}: instances={n} dim={dim} "
          f"reps={reps} median_ms={times[len(times) // 2]:.3f} min_ms={times[0]:.3f} "
          f"peak_alloc_mib={torch.cuda.max_memory_allocated() / 2**20:.1f}")


if __name__ == "__main__":
    main()
