#!/usr/bin/python3
"""Write the PyTorch parity fixtures of tests/unit/test_parity_basic.c (basic ops and losses).

Run from the repository root with the Debian interpreter (torch 1.13, numpy, h5py):
    /usr/bin/python3 tests/pytorch/gen_basic_fixtures.py
Outputs tests/fixtures/basic/*.h5 and tests/fixtures/basic/MANIFEST.tsv.

Inputs are drawn in float32 and the reference is computed in float64 from exactly those values, then stored as
float32, so a fixture carries almost no reference noise. Layout of every file:
    inputs/<name>    tensors fed to the op (masks and indices included: nothing is random on the C side)
    params/<name>    parameters under their PyTorch state_dict names
    outputs/<name>   forward results
    grads/<name>     gradients of sum(out * inputs/dout) (or of dloss * loss for the losses)
    attrs            scalars (p, eps, temperatures, alpha, dloss) and torch_version
"""
import hashlib
import math
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join("tests", "fixtures", "basic")
COMMAND = "/usr/bin/python3 tests/pytorch/gen_basic_fixtures.py"
GEN = torch.Generator().manual_seed(20240607)


def create_file(path):
    """A new HDF5 file whose objects carry no timestamps, so regenerating gives identical bytes."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl))


def group(parent, name):
    """parent[name] as a group, created without timestamps (intermediate groups included) if missing."""
    for part in name.split("/"):
        if part not in parent:
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            h5py.h5g.create(parent.id, part.encode(), gcpl=gcpl)
        parent = parent[part]
    return parent


def as_numpy(value):
    """float tensors -> float32 arrays, integer/bool tensors -> int64 / uint8 arrays."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.dtype == torch.bool:
            return value.numpy().astype(np.uint8)
        if value.is_floating_point():
            return value.to(torch.float32).numpy()
        return value.to(torch.int64).numpy()
    return value


def write(name, datasets, attrs=None):
    path = os.path.join(OUT, name)
    with create_file(path) as f:
        for key, value in datasets.items():
            head, _, leaf = key.rpartition("/")
            parent = group(f, head) if head else f
            parent.create_dataset(leaf, data=as_numpy(value), track_times=False)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        f.attrs["torch_version"] = str(torch.__version__)
    return name


def randn(*shape, scale=1.0):
    """float32 draw, returned as a float64 leaf that requires grad (exactly the float32 values)."""
    x = (torch.randn(*shape, generator=GEN, dtype=torch.float32) * scale).to(torch.float64)
    return x.requires_grad_(True)


def rand_mask(n, keep_prob):
    return torch.rand(n, generator=GEN) < keep_prob


def backward(out, dout):
    (out * dout).sum().backward()


def linear_case(name, N, C, OC, bias):
    x, layer = randn(N, C), nn.Linear(C, OC, bias=bias).double()
    with torch.no_grad():  # float32-representable parameters
        for p in layer.parameters():
            p.copy_(p.float().double())
    out = layer(x)
    dout = randn(N, OC).detach()
    backward(out, dout)
    data = {"inputs/x": x, "inputs/dout": dout, "params/weight": layer.weight, "outputs/out": out,
            "grads/x": x.grad, "grads/weight": layer.weight.grad}
    if bias:
        data["params/bias"] = layer.bias
        data["grads/bias"] = layer.bias.grad
    return write(name, data)


def act_case():
    x = randn(257, scale=2.0)
    with torch.no_grad():
        x[x.abs() < 1e-3] = 0.5  # keep ReLU away from its kink
    dout = randn(257).detach()
    data = {"inputs/x": x, "inputs/dout": dout}
    for act, fn in (("relu", F.relu), ("gelu", F.gelu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid)):
        xa = x.detach().clone().requires_grad_(True)
        out = fn(xa)
        backward(out, dout)
        data[f"outputs/{act}"] = out
        data[f"grads/{act}"] = xa.grad
    return write("act.h5", data)


def dropout_case():
    p = 0.25
    x = randn(300)
    keep = rand_mask(300, 1.0 - p)
    # nn.Dropout's train path: noise = bernoulli(1-p); noise.div_(1-p); out = x * noise (mask exported as input)
    out = x * (keep.double() / (1.0 - p))
    dout = randn(300).detach()
    backward(out, dout)
    return write("dropout.h5", {"inputs/x": x, "inputs/keep": keep, "inputs/dout": dout, "outputs/out": out,
                                "grads/x": x.grad}, {"p": p})


def layernorm_case():
    N, C = 19, 48
    x = (randn(N, C, scale=3.0).detach() + 1.5).requires_grad_(True)
    ln = nn.LayerNorm(C, eps=1e-5).double()
    with torch.no_grad():
        ln.weight.copy_(torch.rand(C, generator=GEN) + 0.5)
        ln.bias.copy_(torch.randn(C, generator=GEN) * 0.1)
    out = ln(x)
    dout = randn(N, C).detach()
    backward(out, dout)
    return write("layernorm.h5", {"inputs/x": x, "inputs/dout": dout, "params/weight": ln.weight,
                                  "params/bias": ln.bias, "outputs/out": out, "grads/x": x.grad,
                                  "grads/weight": ln.weight.grad, "grads/bias": ln.bias.grad}, {"eps": 1e-5})


def softmax_case():
    data = {}
    # instance softmax over dim 0 of (N, K), keep mask over N
    N, K = 29, 2
    for tag, keep in (("plain", torch.ones(N, dtype=torch.bool)), ("masked", rand_mask(N, 0.5)),
                      ("one_kept", torch.arange(N) == 11)):
        x = randn(N, K, scale=3.0)
        out = torch.softmax(x.masked_fill(~keep[:, None], float("-inf")), dim=0)
        dout = randn(N, K).detach()
        backward(out, dout)
        data.update({f"inputs/inst_{tag}_x": x, f"inputs/inst_{tag}_keep": keep, f"inputs/inst_{tag}_dout": dout,
                     f"outputs/inst_{tag}": out, f"grads/inst_{tag}": x.grad})
    # row softmax over (R, L), keep mask over L (the (K, N) attention layout)
    R, L = 6, 23
    for tag, keep in (("plain", torch.ones(L, dtype=torch.bool)), ("masked", rand_mask(L, 0.5))):
        x = randn(R, L, scale=3.0)
        out = torch.softmax(x.masked_fill(~keep[None, :], float("-inf")), dim=-1)
        dout = randn(R, L).detach()
        backward(out, dout)
        data.update({f"inputs/rows_{tag}_x": x, f"inputs/rows_{tag}_keep": keep, f"inputs/rows_{tag}_dout": dout,
                     f"outputs/rows_{tag}": out, f"grads/rows_{tag}": x.grad})
    return write("softmax.h5", data)


def attnpool_case():
    N, K, D = 31, 2, 24
    A = torch.softmax(randn(N, K).detach(), dim=0).float().double().requires_grad_(True)
    h = randn(N, D)
    z = torch.mm(A.t(), h)
    dout = randn(K, D).detach()
    backward(z, dout)
    return write("attnpool.h5", {"inputs/A": A, "inputs/h": h, "inputs/dout": dout, "outputs/z": z,
                                 "grads/A": A.grad, "grads/h": h.grad})


class DAttentionScores(nn.Module):
    """The score network of the original DAttention (gated=False): attention = [Linear, act, Linear]."""

    def __init__(self, D, L, K, act, bias):
        super().__init__()
        self.attention = nn.Sequential(nn.Linear(D, L, bias=bias), act, nn.Linear(L, K, bias=bias))

    def forward(self, h):
        return self.attention(h)


class GatedScores(nn.Module):
    """The gated score network: attention_a = [Linear, act], attention_b = [Linear, Sigmoid], attention_c."""

    def __init__(self, D, L, K, act, bias):
        super().__init__()
        self.attention_a = nn.Sequential(nn.Linear(D, L, bias=bias), act)
        self.attention_b = nn.Sequential(nn.Linear(D, L, bias=bias), nn.Sigmoid())
        self.attention_c = nn.Linear(L, K, bias=bias)

    def forward(self, h):
        return self.attention_c(self.attention_a(h) * self.attention_b(h))


def scores_case(name, module, N, D, K):
    module = module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.float().double())
    h = randn(N, D)
    s = module(h)
    dout = randn(N, K).detach()
    backward(s, dout)
    data = {"inputs/h": h, "inputs/dout": dout, "outputs/s": s, "grads/h": h.grad}
    for key, p in module.named_parameters():
        data[f"params/{key}"] = p
        data[f"grads/{key}"] = p.grad
    return write(name, data)


def gather_case():
    N, D, M = 13, 10, 17
    x = randn(N, D)
    idx = torch.randint(0, N, (M,), generator=GEN)
    idx[0] = idx[1]  # at least one repeat
    out = x[idx]
    dout = randn(M, D).detach()
    backward(out, dout)
    return write("gather.h5", {"inputs/x": x, "inputs/idx": idx, "inputs/dout": dout, "outputs/out": out,
                               "grads/x": x.grad})


def soft_target_ce(x, target, temp_t, temp_s):
    """SoftTargetCrossEntropy_v2 of the original code (mean=True)."""
    loss = torch.sum(-F.softmax(target / temp_t, dim=-1) * F.log_softmax(x / temp_s, dim=-1), dim=-1)
    return loss.mean()


def nll_surv(logits, y, c, alpha, eps=1e-7):
    """v2 NLLSurvLoss (Patch-GCN nll_loss on logits, reduction mean)."""
    y, c = y.view(-1, 1), c.view(-1, 1).double()
    hazards = torch.sigmoid(logits)
    S = torch.cumprod(1 - hazards, dim=1)
    S_padded = torch.cat([torch.ones_like(c), S], 1)
    uncensored = -(1 - c) * (torch.log(torch.gather(S_padded, 1, y).clamp(min=eps))
                             + torch.log(torch.gather(hazards, 1, y).clamp(min=eps)))
    censored = -c * torch.log(torch.gather(S_padded, 1, y + 1).clamp(min=eps))
    loss = (1 - alpha) * (censored + uncensored) + alpha * uncensored
    return loss.mean()


def loss_cases():
    files = []
    dloss = 0.75
    # cross-entropy: a bag (B=1, C=2) and a small batch
    for tag, B, C in (("ce_bag", 1, 2), ("ce_batch", 3, 4)):
        z = randn(B, C, scale=2.0)
        y = torch.randint(0, C, (B,), generator=GEN)
        loss = F.cross_entropy(z, y)
        (dloss * loss).backward()
        files.append(write(f"loss_{tag}.h5", {"inputs/logits": z, "inputs/target": y, "outputs/loss": loss,
                                              "grads/logits": z.grad}, {"dloss": dloss}))
    # consistency loss: ABMIL/TransMIL (1 x 512) and DSMIL (C=2 rows) shapes, temp_t 0.1, temp_s 1
    for tag, R, D in (("soft_bag", 1, 512), ("soft_dsmil", 2, 96)):
        s = randn(R, D)
        t = randn(R, D, scale=0.3).detach()
        loss = soft_target_ce(s, t, 0.1, 1.0)
        (dloss * loss).backward()
        files.append(write(f"loss_{tag}.h5", {"inputs/student": s, "inputs/teacher": t, "outputs/loss": loss,
                                              "grads/student": s.grad},
                           {"dloss": dloss, "temp_t": 0.1, "temp_s": 1.0}))
    # BCEWithLogits on a one-hot target (B=3, C=2)
    z = randn(3, 2, scale=2.0)
    target = F.one_hot(torch.tensor([1, 0, 1]), 2).double()
    loss = F.binary_cross_entropy_with_logits(z, target)
    (dloss * loss).backward()
    files.append(write("loss_bce.h5", {"inputs/logits": z, "inputs/target": target, "outputs/loss": loss,
                                       "grads/logits": z.grad}, {"dloss": dloss}))
    # survival NLL: 8 cases over 4 bins, censored and uncensored, alpha 0 (v2) and 0.4; one hazard saturates
    for tag, alpha in (("surv_a0", 0.0), ("surv_a04", 0.4)):
        z = randn(8, 4, scale=1.5)
        with torch.no_grad():
            z[7, 0] = 40.0  # sigmoid = 1 in float32: S = 0, the clamped terms carry no gradient
        y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
        c = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1], dtype=torch.float64)
        loss = nll_surv(z, y, c, alpha)
        (dloss * loss).backward()
        files.append(write(f"loss_{tag}.h5", {"inputs/logits": z, "inputs/y": y, "inputs/c": c,
                                              "outputs/loss": loss, "grads/logits": z.grad},
                           {"dloss": dloss, "alpha": alpha, "eps": 1e-7}))
    return files


def main():
    torch.manual_seed(20240607)  # module initialisation draws from the global generator
    torch.set_default_dtype(torch.float64)
    os.makedirs(OUT, exist_ok=True)
    files = [
        linear_case("linear.h5", 37, 24, 16, True),
        linear_case("linear_nobias_n1.h5", 1, 20, 8, False),
        act_case(),
        dropout_case(),
        layernorm_case(),
        softmax_case(),
        attnpool_case(),
        scores_case("abmil_relu.h5", DAttentionScores(32, 12, 1, nn.ReLU(), False), 23, 32, 1),
        scores_case("abmil_gelu_bias.h5", DAttentionScores(32, 12, 2, nn.GELU(), True), 9, 32, 2),
        scores_case("gated_relu.h5", GatedScores(32, 12, 1, nn.ReLU(), False), 21, 32, 1),
        scores_case("gated_tanh_bias.h5", GatedScores(32, 12, 1, nn.Tanh(), True), 1, 32, 1),
        gather_case(),
    ] + loss_cases()
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as m:
        m.write("file\tsha256\ttorch_version\tgenerator\n")
        for name in files:
            with open(os.path.join(OUT, name), "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            m.write(f"{name}\t{digest}\t{torch.__version__}\t{COMMAND}\n")
    print(f"wrote {len(files)} fixtures to {OUT}")


if __name__ == "__main__":
    main()
