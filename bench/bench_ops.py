#!/usr/bin/python3
"""PyTorch counterpart of bench_ops: nn.Linear(1024 -> 512) forward + backward next to torch.mm of the same shape.

usage: OMP_WAIT_POLICY=passive /usr/bin/python3 bench/bench_ops.py [--threads T] [--reps R] [--n 1000,8000,30000]
Same columns as bench_ops (median ms and GFLOP/s after 2 warm-ups): mm = X·Wᵀ, fwd = nn.Linear forward,
bwd = backward with input, weight and bias gradients, bwd_noin = backward without the input gradient,
fwd+bwd = forward then backward (6·N·C·OC flops); "% mm" = fwd+bwd rate over the mm rate (medians, best, and
flops per median process CPU-second).
Keep the OpenBLAS environment (OPENBLAS_CORETYPE, ...) identical to the C run.
"""
import argparse
import os
import statistics
import time

import torch

WARMUPS = 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--n", default="1000,8000,30000")
    ap.add_argument("--in", dest="c", type=int, default=1024)
    ap.add_argument("--out", dest="oc", type=int, default=512)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"# bench_ops.py: torch {torch.__version__}, Linear({a.c} -> {a.oc}), threads {a.threads}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, median of {a.reps} after {WARMUPS} warm-ups")
    print("| N | mm ms | GFLOP/s | fwd ms | GFLOP/s | bwd ms | GFLOP/s | bwd_noin ms | GFLOP/s | fwd+bwd ms | GFLOP/s "
          "| % mm (median) | % mm (best) | % mm (CPU time) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lin = torch.nn.Linear(a.c, a.oc)
    for n in [int(v) for v in a.n.split(",")]:
        x = torch.rand(n, a.c) * 2 - 1
        xg = x.clone().requires_grad_(True)
        dy = torch.rand(n, a.oc) * 2 - 1
        w = lin.weight.detach()
        unit = n * a.c * a.oc * 1e-9
        state = {}

        def fwd_keep(inp):
            state["y"] = lin(inp)

        def bwd():
            state["y"].backward(dy)

        def fwd_bwd():
            lin(xg).backward(dy)

        # repetitions outer, ops inner (as in bench_ops.c): load from other processes hits every op alike
        samples = {k: [] for k in ("mm", "fwd", "bwd", "bwd_noin", "fwd+bwd")}
        cpu = {"mm": [], "fwd+bwd": []}
        for r in range(WARMUPS + a.reps):
            t, c = {}, {}
            t0, c0 = time.perf_counter(), time.process_time()
            torch.mm(x, w.t())
            t["mm"], c["mm"] = time.perf_counter() - t0, time.process_time() - c0
            with torch.no_grad():
                t0 = time.perf_counter()
                lin(x)
                t["fwd"] = time.perf_counter() - t0
            for key, inp in (("bwd", xg), ("bwd_noin", x)):
                fwd_keep(inp)  # untimed forward that the timed backward needs
                t0 = time.perf_counter()
                bwd()
                t[key] = time.perf_counter() - t0
            t0, c0 = time.perf_counter(), time.process_time()
            fwd_bwd()
            t["fwd+bwd"], c["fwd+bwd"] = time.perf_counter() - t0, time.process_time() - c0
            if r >= WARMUPS:
                for k, v in t.items():
                    samples[k].append(v)
                for k, v in c.items():
                    cpu[k].append(v)
        med = {k: statistics.median(v) for k, v in samples.items()}
        best = {k: min(v) for k, v in samples.items()}
        t_mm, t_fwd, t_fb = med["mm"], med["fwd"], med["fwd+bwd"]
        times = med
        cols = [(t_mm, 2), (t_fwd, 2), (times["bwd"], 4), (times["bwd_noin"], 2), (t_fb, 6)]
        row = "".join(f" {t * 1e3:.2f} | {k * unit / t:.1f} |" for t, k in cols)
        print(f"| {n} |{row} {100 * (6 * unit / t_fb) / (2 * unit / t_mm):.0f}% | "
              f"{100 * (6 * unit / best['fwd+bwd']) / (2 * unit / best['mm']):.0f}% | "
              f"{100 * 3 * statistics.median(cpu['mm']) / statistics.median(cpu['fwd+bwd']):.0f}% |", flush=True)


if __name__ == "__main__":
    main()
