#!/usr/bin/python3
"""PyTorch counterpart of bench_elementwise: the same non-GEMM ops on the same (N, D) float32 activation.

usage: OMP_WAIT_POLICY=passive .venv-ref/bin/python bench/bench_elementwise.py [--threads T] [--reps R] [--n N] [--d D]
Each op is the ATen kernel that PyTorch's autograd runs for it, called with preallocated outputs (`out=` /
`grad_input=` overloads), so neither the autograd graph nor an allocation is timed: relu (clamp_min /
threshold_backward), gelu (exact erf), tanh, sigmoid, dropout applied as PyTorch's CPU dropout applies it (input ·
noise, a float tensor of 0 and 1/(1 − p): 12 bytes per element where the C bench's uint8 mask moves 9; the draw of
the noise is not timed, as the C bench does not time the mask's), native_layer_norm and its backward (input, weight
and bias gradients), index_select of half the rows and its backward (zero, then index_add), _softmax over rows and
its backward, and ABMIL's attention pooling with one column (z = Aᵀh; backward dA = h·dz and dh = A dzᵀ, as
autograd's two products). A second table times TransMIL's convolutions as the original modules run them,
allocations included (PPEG: the original's module, three depthwise Conv2d on the padded square grid plus identity;
the Nyström residual convolution: Conv2d(H, H, (33, 1), padding (16, 0), groups=H) on H = D/64 heads of (N, 64));
their backwards are autograd's (the forward is rebuilt untimed before each backward), GFLOP/s counting the C bench's
2 flops per tap and element.
Rounds: every op once per round (as bench_elementwise --interleave), R rounds after one warm-up round. Columns as the
C bench: median and best ms, GB/s with the same byte counts (every input read once, every output written once),
"% of relu (best)" and "% of relu (paired median)" against torch's relu of the same traffic in the same
run.
Keep OMP_WAIT_POLICY and the thread count identical to the C run.
"""
import argparse
import os
import statistics
import time

import torch

from bench_models import Ppeg  # the original's PPEG module (bench/ is this script's folder)

A = torch.ops.aten
EPS = 1e-5
P_DROP = 0.25


def make_ops(n, d):
    """(name, bytes per element of the (n, d) array, index of the relu with the same traffic or None, callable)."""
    g = torch.Generator().manual_seed(1)

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    x, y, dy, dx = uniform((n, d), -3, 3), uniform((n, d), 0, 1), uniform((n, d), -1, 1), torch.zeros(n, d)
    w, b = uniform((d,), 0.5, 1.5), uniform((d,), -0.1, 0.1)
    dw, db = torch.zeros(d), torch.zeros(d)
    mean, rstd = torch.zeros(n, 1), torch.zeros(n, 1)
    noise = (torch.rand((n, d), generator=g) >= P_DROP).float() / (1.0 - P_DROP)
    idx = torch.arange(0, n, 2, dtype=torch.int64)
    half = n // 2
    scores, probs = uniform((n,), -4, 4), torch.zeros(n)
    pooled, dpooled = torch.zeros(d), uniform((d,), -1, 1)
    A.native_layer_norm.out(x, [d], w, b, EPS, out0=y.clone(), out1=mean, out2=rstd)  # the statistics bwd reads
    ln_out = torch.empty(n, d)

    def scatter():
        dx.zero_()
        dx.index_add_(0, idx, dy[:half])

    def pool_bwd():
        torch.mv(x, dpooled, out=probs)
        torch.outer(scores, dpooled, out=dx)

    relu_f, relu_b = 1, 2
    return [
        ("memcpy (copy_)", 8, None, lambda: y.copy_(x)),
        ("relu fwd", 8, relu_f, lambda: torch.clamp_min(x, 0.0, out=y)),
        ("relu bwd", 12, relu_b, lambda: A.threshold_backward.grad_input(dy, y, 0.0, grad_input=dx)),
        ("gelu fwd", 8, relu_f, lambda: A.gelu.out(x, out=y)),
        ("gelu bwd", 12, relu_b, lambda: A.gelu_backward.grad_input(dy, x, grad_input=dx)),
        ("tanh fwd", 8, relu_f, lambda: torch.tanh(x, out=y)),
        ("tanh bwd", 12, relu_b, lambda: A.tanh_backward.grad_input(dy, y, grad_input=dx)),
        ("sigmoid fwd", 8, relu_f, lambda: torch.sigmoid(x, out=y)),
        ("sigmoid bwd", 12, relu_b, lambda: A.sigmoid_backward.grad_input(dy, y, grad_input=dx)),
        ("dropout fwd", 12, None, lambda: torch.mul(x, noise, out=y)),
        ("dropout bwd", 12, None, lambda: torch.mul(dy, noise, out=dx)),
        ("layernorm fwd", 8, relu_f,
         lambda: A.native_layer_norm.out(x, [d], w, b, EPS, out0=ln_out, out1=mean, out2=rstd)),
        ("layernorm bwd", 12, relu_b,
         lambda: A.native_layer_norm_backward.out(dy, x, [d], mean, rstd, w, b, [True, True, True],
                                                  out0=dx, out1=dw, out2=db)),
        ("gather half the rows", 4, None, lambda: torch.index_select(x, 0, idx, out=y[:half])),
        ("scatter half the rows (gather bwd)", 6, None, scatter),
        ("softmax rows", 8, relu_f, lambda: A._softmax.out(x, 1, False, out=y)),
        ("softmax rows bwd", 12, relu_b,
         lambda: A._softmax_backward_data.out(dy, y, 1, torch.float32, grad_input=dx)),
        ("attention pooling fwd (1 column)", 4, None, lambda: torch.mv(x.t(), scores, out=pooled)),
        ("attention pooling bwd (1 column)", 8, relu_f, pool_bwd),
    ]


def make_conv_ops(n, d):
    """(name, flops per element of the (n, d) array, untimed preparation or None, timed callable)."""
    torch.manual_seed(1)
    ppeg, heads = Ppeg(d), d // 64
    res_conv = torch.nn.Conv2d(heads, heads, (33, 1), padding=(16, 0), groups=heads, bias=False)
    x = (torch.rand(1, n, d) * 2 - 1).requires_grad_(True)
    v = (torch.rand(1, heads, n, 64) * 2 - 1).requires_grad_(True)
    dy, dv = torch.rand(1, n, d) * 2 - 1, torch.rand(1, heads, n, 64) * 2 - 1
    held = {}

    # before each timed backward: a fresh graph, and the gradients set to None as a training loop's zero_grad() does
    # (otherwise autograd adds into the previous .grad, a pass the training step does not make)
    def ppeg_fwd_graph():
        x.grad = None
        ppeg.zero_grad(set_to_none=True)
        held["y"] = ppeg(x)

    def res_fwd_graph():
        v.grad = None
        res_conv.zero_grad(set_to_none=True)
        held["y"] = res_conv(v)

    def no_grad(f):
        def run():
            with torch.no_grad():
                f()
        return run

    taps = 7 * 7 + 5 * 5 + 3 * 3
    return [
        ("PPEG fwd (7x7 + 5x5 + 3x3 depthwise)", 2 * taps, None, no_grad(lambda: ppeg(x))),
        ("PPEG bwd", 2 * (49 + 49), ppeg_fwd_graph, lambda: held["y"].backward(dy)),
        ("residual conv fwd (33 taps)", 2 * 33, None, no_grad(lambda: res_conv(v))),
        ("residual conv bwd", 2 * (33 + 33), res_fwd_graph, lambda: held["y"].backward(dv)),
    ]


def time_rounds(calls, reps):
    """Seconds of each (prepare, run) call per round: every call once per round, reps rounds after one warm-up
    round; prepare (or None) runs untimed before its call."""
    times = [[] for _ in calls]
    for r in range(reps + 1):
        for k, (prepare, run) in enumerate(calls):
            if prepare:
                prepare()
            t0 = time.perf_counter()
            run()
            t = time.perf_counter() - t0
            if r:
                times[k].append(t)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--d", type=int, default=512)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ops = make_ops(a.n, a.d)
    count = a.n * a.d
    print(f"# bench_elementwise.py: torch {torch.__version__}, N={a.n} D={a.d} threads={a.threads} rounds={a.reps}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    print("| op | ms (median) | ms (best) | GB/s (median) | GB/s (best) | % of memcpy (best) | % of relu (best) "
          "| % of relu (paired median) |\n|---|---|---|---|---|---|---|---|")
    times = time_rounds([(None, run) for _, _, _, run in ops], a.reps)
    best_rate = [nbytes * count / min(times[k]) / 1e9 for k, (_, nbytes, _, _) in enumerate(ops)]
    for k, (name, nbytes, relu, _) in enumerate(ops):
        med, best = statistics.median(times[k]), min(times[k])
        relu_best = relu_paired = ""
        if relu is not None:
            relu_best = f"{100 * best_rate[k] / best_rate[relu]:.0f}%"
            relu_paired = f"{100 * statistics.median(tr / t for tr, t in zip(times[relu], times[k])):.0f}%"
        print(f"| {name} | {med * 1e3:.3f} | {best * 1e3:.3f} | {nbytes * count / med / 1e9:.1f} | "
              f"{best_rate[k]:.1f} | {100 * best_rate[k] / best_rate[0]:.0f}% | {relu_best} | {relu_paired} |")
    conv_ops = make_conv_ops(a.n, a.d)
    conv_times = time_rounds([(prepare, run) for _, _, prepare, run in conv_ops], a.reps)
    print("\n| compute-bound op | ms (median) | ms (best) | GFLOP/s (median) | GFLOP/s (best) |\n|---|---|---|---|---|")
    for k, (name, flops, _, _) in enumerate(conv_ops):
        med, best = statistics.median(conv_times[k]), min(conv_times[k])
        print(f"| {name} | {med * 1e3:.3f} | {best * 1e3:.3f} | {flops * count / med / 1e9:.1f} | "
              f"{flops * count / best / 1e9:.1f} |")


if __name__ == "__main__":
    main()
