#!/usr/bin/python3
"""Generate the PyTorch parity fixtures of the MHIM-v2 model side (tests/fixtures/v2/*.h5 + MANIFEST.tsv).

The reference re-states, in float64 and in functional form, what the original v2 code (modules/mhim.py,
modules/mhim_modules/{merge,baseline,scoring,losses}.py) computes, with its random choices given as inputs:

  merge_op.h5   Merge's recycling branch with explicit dropout masks:
                Z = Drop_out(concat_h(Drop_att(softmax(Q_h K_hᵀ / 8)) V_h) W_outᵀ + b_out),
                K, V = split(LN_m(Xm) W_kvᵀ), Q = LN_m(G) W_qᵀ; then the in-place EMA
                G.data ← merge_mm·G + (1 − merge_mm)·Z (before the backward, as the original: LN_m's weight
                gradient from the query path then sees the updated G, spec Q4). Backward of Σ Z·dZ.
  v2_<kind>.h5  the v2 student training step for kind = abmil | transmil | dsmil (dropout off everywhere, i.e. the
                random choices are the hard-kept ids `keep` and the Merge shuffle `perm`):
                teacher (eval, full bag): target z_T / B_T and the attn2score class-aware scores;
                student: h = GELU(x W_fᵀ + b_f)[keep]; Xk = h[perm[:n_keep]], Xm = h[perm[n_keep:]],
                n_keep = int(L·merge_ratio); Z = MCA(LN_m(Xm), LN_m(G)); G EMA; encoder on concat(Xk, Z);
                loss = CE(logits, y) + aux_alpha·SoftTargetCE(feat, target; temp_t 0.1) (DSMIL: logits =
                0.5·bag + 0.5·max-instance, feat = B); every parameter gradient.
                Also forward_test with --merge_test (Merge.eval, before the step): the encoder on
                concat(h, MCA(LN_m(h), LN_m(G))) over the whole bag, h = GELU(x W_fᵀ + b_f).

Parameters and bags are not stored: both sides generate them with the integer hash of gen_transmil_fixtures.py
(value i of stream = state_dict index: offset + ((hash >> 48) − 32768)·2^exp, exact in float32); the fixture stores,
per key, its index, offset, exp, shape and 64 sampled values. Outputs and gradients are stored whole up to 16384
elements, else as 1024 sampled entries plus 4 random ±1 projections (see gen_transmil_fixtures.write_digest).

Run from the repository root:  /usr/bin/python3 tests/pytorch/gen_v2_fixtures.py
"""
import hashlib
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_transmil_fixtures as T  # noqa: E402  (hash generator, digests, Nyström and PPEG references)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "v2")
GENERATOR = "/usr/bin/python3 tests/pytorch/gen_v2_fixtures.py"
torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)

DIM, HEADS_M, DH_M = 512, 8, 64  # Merge: 8 heads of 64
TEMP_T = 0.1


# ---- parameter keys in the layout order (merge.* first, then the baseline's v2 state_dict) --------------------

def merge_keys(k):
    return [("merge.global_q_mm", (1, k, DIM)), ("merge.global_q", (1, k, DIM)), ("merge.norm.weight", (DIM,)),
            ("merge.norm.bias", (DIM,)), ("merge.attn.to_kv.weight", (2 * DIM, DIM)),
            ("merge.attn.to_q.weight", (DIM, DIM)), ("merge.attn.to_out.0.weight", (DIM, DIM)),
            ("merge.attn.to_out.0.bias", (DIM,))]


def model_keys(kind, input_dim, C, heads):
    keys = [("feature.0.weight", (DIM, input_dim)), ("feature.0.bias", (DIM,))]
    e = "online_encoder."
    if kind == "abmil":
        keys += [(e + "attention.attention.0.weight", (128, DIM)), (e + "attention.attention.2.weight", (1, 128))]
    elif kind == "dsmil":
        b = e + "b_classifier."
        keys += [(e + "i_classifier.0.weight", (C, DIM)), (e + "i_classifier.0.bias", (C,)),
                 (b + "q.0.weight", (128, DIM)), (b + "q.0.bias", (128,)), (b + "q.2.weight", (128, 128)),
                 (b + "q.2.bias", (128,)), (b + "v.1.weight", (DIM, DIM)), (b + "v.1.bias", (DIM,)),
                 (b + "fcc.weight", (C, C, DIM)), (b + "fcc.bias", (C,))]
    else:
        tree = T.ModelTree(2, input_dim, C, heads)
        keys = [(key, tuple(t.shape)) for key, t in tree.state_dict().items() if not key.startswith("predictor")]
    return keys + [("predictor.weight", (C, DIM)), ("predictor.bias", (C,))]


def param_exp(key, shape, heads):
    """(offset, exp) of the generated values, near the original initialisation scale."""
    if key.startswith("merge.global_q"):
        return 0.0, -19  # ±0.0625 ~ U(±0.0685)
    if key.endswith("fcc.weight"):
        return 0.0, int(round(math.log2(1.0 / math.sqrt(shape[1] * shape[2])))) - 15
    return T.param_exp(key, shape, heads)


def make_params(keys, seed, heads):
    """Generated parameters: key i draws stream i, except the alias merge.global_q, which holds the values of
    merge.global_q_mm (stream 0: the original registers the same Parameter twice)."""
    P, gen = {}, {}
    for index, (key, shape) in enumerate(keys):
        stream = 0 if key == "merge.global_q" else index
        offset, exp = param_exp(key, shape, heads)
        vals = T.hash_values(seed, stream, int(np.prod(shape)), offset, exp)
        assert np.all(vals.astype(np.float32) == vals)
        P[key] = torch.tensor(vals).reshape(shape).requires_grad_(not key.startswith("merge.global_q"))
        gen[key] = (index, offset, exp, stream, vals, shape)
    return P, gen


# ---- reference modules (float64, functional) ------------------------------------------------------------------

def ln(t, P, pre):
    return F.layer_norm(t, (DIM,), P[pre + "weight"], P[pre + "bias"], eps=1e-5)


def mca(xm, g, P, keep_att=None, keep_out=None, p=0.1):
    """MCA(LN_m(xm), LN_m(g)) with optional explicit dropout masks (att (H, k, M), out (k, 512))."""
    kx, qg = ln(xm, P, "merge.norm."), ln(g, P, "merge.norm.")
    kv = kx @ P["merge.attn.to_kv.weight"].t()
    q = qg @ P["merge.attn.to_q.weight"].t()
    M, k = xm.shape[0], g.shape[0]
    kh = kv[:, :DIM].reshape(M, HEADS_M, DH_M).permute(1, 0, 2)
    vh = kv[:, DIM:].reshape(M, HEADS_M, DH_M).permute(1, 0, 2)
    qh = q.reshape(k, HEADS_M, DH_M).permute(1, 0, 2)
    att = torch.softmax(qh @ kh.transpose(1, 2) * DH_M ** -0.5, -1)
    if keep_att is not None:
        att = att * torch.tensor(keep_att, dtype=torch.float64) / (1 - p)
    ctx = (att @ vh).permute(1, 0, 2).reshape(k, HEADS_M * DH_M)
    z = ctx @ P["merge.attn.to_out.0.weight"].t() + P["merge.attn.to_out.0.bias"]
    if keep_out is not None:
        z = z * torch.tensor(keep_out, dtype=torch.float64) / (1 - p)
    return z


def ema_queries(P, z, mm):
    """The original's update_q_ema: in place on .data, during the forward (no autograd record)."""
    P["merge.global_q_mm"].data.mul_(mm).add_(z.detach().unsqueeze(0), alpha=1.0 - mm)
    P["merge.global_q"].data.copy_(P["merge.global_q_mm"].data)


def front(x, P):
    return F.gelu(x @ P["feature.0.weight"].t() + P["feature.0.bias"])


def encoder(kind, t, P, heads):
    """(logits (C), feat (512 | C×512), aux) of the baseline encoder + predictor on tokens t (n, 512)."""
    e = "online_encoder."
    if kind == "abmil":
        hid = torch.relu(t @ P[e + "attention.attention.0.weight"].t())
        a = torch.softmax((hid @ P[e + "attention.attention.2.weight"].t())[:, 0], 0)
        z = a @ t
        return z @ P["predictor.weight"].t() + P["predictor.bias"], z, {"attn": a}
    if kind == "dsmil":
        b = e + "b_classifier."
        inst = t @ P[e + "i_classifier.0.weight"].t() + P[e + "i_classifier.0.bias"]
        v = torch.relu(t @ P[b + "v.1.weight"].t() + P[b + "v.1.bias"])
        qn = lambda u: torch.tanh(torch.relu(u @ P[b + "q.0.weight"].t() + P[b + "q.0.bias"]) @ P[b + "q.2.weight"].t()
                                  + P[b + "q.2.bias"])
        crit = torch.argmax(inst.detach(), 0)
        qq, qmax = qn(t), qn(t[crit])
        A = torch.softmax(qq @ qmax.t() / math.sqrt(128.0), 0)
        B = A.t() @ v
        bag = (P[b + "fcc.weight"] * B.unsqueeze(0)).sum((1, 2)) + P[b + "fcc.bias"]
        ins = inst.max(0).values
        return 0.5 * bag + 0.5 * ins, B, {"inst": inst}
    tok = torch.cat([P[e + "cls_token"].reshape(1, DIM), t])
    for layer in (1, 2):
        pre = f"{e}layer{layer}."
        o, _, _ = T.nystrom(T.layer_norm(tok, P[pre + "norm.weight"], P[pre + "norm.bias"]), P, pre + "attn.", heads)
        tok = tok + o
        if layer == 1:
            tok = torch.cat([tok[:1], T.ppeg(tok[1:], P)])
    feat = T.layer_norm(tok, P[e + "norm.weight"], P[e + "norm.bias"])[0]
    return feat @ P["predictor.weight"].t() + P["predictor.bias"], feat, {}


def teacher(kind, x, P, heads):
    """forward_teacher in eval mode: (target, attn2score scores (N,))."""
    with torch.no_grad():
        if kind == "transmil":
            _, feat, outs = T.model_forward(P, x, None, 2, "gelu", heads)
            return feat, outs["scores"]
        h = front(x, P)
        _, feat, aux = encoder(kind, h, P, heads)
        if kind == "abmil":
            cam = (aux["attn"].unsqueeze(1) * h) @ P["predictor.weight"].t() + P["predictor.bias"][0]
            return feat, torch.softmax(cam, -1).max(-1).values
        return feat, aux["inst"].max(-1).values


def soft_target_ce(student, target):
    s, t = student.reshape(-1, DIM), target.reshape(-1, DIM)
    return (-torch.softmax(t / TEMP_T, -1) * torch.log_softmax(s, -1)).sum(-1).mean()


# ---- writing --------------------------------------------------------------------------------------------------

def write_params(f, keys, gen):
    gp = T.group(f, "params")
    for key, _ in keys:
        index, offset, exp, stream, vals, shape = gen[key]
        g = T.group(gp, key)
        g.attrs["index"], g.attrs["stream"], g.attrs["offset"], g.attrs["exp"] = index, stream, offset, exp
        T.dataset(g, "shape", np.array(shape))
        T.write_digest(g, stream, vals, generated=True)


def write_grads(f, keys, P):
    gg = T.group(f, "grads")
    for index, (key, shape) in enumerate(keys):
        grad = P[key].grad
        T.write_digest(T.group(gg, key), index, np.zeros(shape) if grad is None else grad.numpy())


def case_merge(name, seed, k, M, mm):
    keys = merge_keys(k)
    P, gen = make_params(keys, seed, HEADS_M)
    x_exp = -15
    xm = torch.tensor(T.hash_values(seed, T.X_STREAM, M * DIM, 0.0, x_exp)).reshape(M, DIM).requires_grad_(True)
    rng = np.random.RandomState(seed)
    keep_att = (rng.uniform(size=(HEADS_M, k, M)) >= 0.1).astype(np.uint8)
    keep_out = (rng.uniform(size=(k, DIM)) >= 0.1).astype(np.uint8)
    dz = rng.uniform(-1, 1, (k, DIM)).astype(np.float32).astype(np.float64)
    z = mca(xm, P["merge.global_q_mm"][0], P, keep_att, keep_out)
    ema_queries(P, z, mm)
    (z * torch.tensor(dz)).sum().backward()
    path = os.path.join(OUT_DIR, name + ".h5")
    with h5py.File(path, "w") as f:
        for a, v in dict(kind="merge", k=k, M=M, merge_mm=mm, seed=seed, x_exp=x_exp, n_params=len(keys),
                         torch_version=str(torch.__version__)).items():
            f.attrs[a] = v
        write_params(f, keys, gen)
        gi = T.group(f, "inputs")
        T.dataset(gi, "keep_att", keep_att)
        T.dataset(gi, "keep_out", keep_out)
        T.dataset(gi, "dz", dz)
        go = T.group(f, "outputs")
        T.write_digest(T.group(go, "z"), 2000, z.detach().numpy())
        T.write_digest(T.group(go, "g_after"), 2001, P["merge.global_q_mm"].detach().numpy())
        T.write_digest(T.group(go, "dxm"), 2002, xm.grad.numpy())
        write_grads(f, keys, P)
    print(f"{name}: k={k} M={M} |Z|={z.norm().item():.4f}")
    return path


def case_model(name, kind, seed, input_dim, C, heads, k, N, L, ratio, mm, y, aux_alpha):
    keys = merge_keys(k) + model_keys(kind, input_dim, C, heads)
    P, gen = make_params(keys, seed, heads)
    x_exp = -15
    x = torch.tensor(T.hash_values(seed, T.X_STREAM, N * input_dim, 0.0, x_exp)).reshape(N, input_dim)
    with torch.no_grad():  # forward_test with --merge_test, on the parameters before the step
        h_all = front(x, P)
        merged_logits, _, _ = encoder(kind, torch.cat([h_all, mca(h_all, P["merge.global_q_mm"][0], P)]), P, heads)
    target, scores = teacher(kind, x, P, heads)
    rng = np.random.RandomState(seed)
    keep = np.sort(rng.permutation(N)[:L])  # the hard-masked survivors, ascending (spec Q6)
    perm = rng.permutation(L)               # Merge's argsort(rand(L))
    n_keep = int(L * ratio)
    h1 = front(x, P)[torch.as_tensor(keep)]
    xk, xm = h1[torch.as_tensor(perm[:n_keep])], h1[torch.as_tensor(perm[n_keep:])]
    z = mca(xm, P["merge.global_q_mm"][0], P)
    ema_queries(P, z, mm)
    logits, feat, _ = encoder(kind, torch.cat([xk, z]), P, heads)
    main = F.cross_entropy(logits.unsqueeze(0), torch.tensor([y]))
    aux = soft_target_ce(feat, target)
    loss = main + aux_alpha * aux
    loss.backward()
    path = os.path.join(OUT_DIR, name + ".h5")
    with h5py.File(path, "w") as f:
        attrs = dict(kind=kind, input_dim=input_dim, n_classes=C, heads=heads, merge_k=k, N=N, L=L, n_keep=n_keep,
                     merge_ratio=ratio, merge_mm=mm, y=y, aux_alpha=aux_alpha, temp_t=TEMP_T, seed=seed, x_exp=x_exp,
                     n_params=len(keys), torch_version=str(torch.__version__))
        for a, v in attrs.items():
            f.attrs[a] = v
        write_params(f, keys, gen)
        gi = T.group(f, "inputs")
        T.dataset(gi, "keep", keep)
        T.dataset(gi, "perm", perm)
        go = T.group(f, "outputs")
        T.write_digest(T.group(go, "teacher_target"), 2000, target.numpy())
        T.write_digest(T.group(go, "teacher_scores"), 2001, scores.numpy())
        T.write_digest(T.group(go, "logits"), 2002, logits.detach().numpy())
        T.write_digest(T.group(go, "feat"), 2003, feat.detach().numpy())
        T.write_digest(T.group(go, "loss"), 2004, np.array([main.item(), aux.item(), loss.item()]))
        T.write_digest(T.group(go, "g_after"), 2005, P["merge.global_q_mm"].detach().numpy())
        T.write_digest(T.group(go, "merge_test_logits"), 2006, merged_logits.numpy())
        write_grads(f, keys, P)
    print(f"{name}: N={N} L={L} n_keep={n_keep} k={k} loss={loss.item():.6f} (main {main.item():.6f}, "
          f"aux {aux.item():.6f})")
    return path


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    paths = [
        case_merge("merge_op", 31, 3, 7, 0.9),
        case_model("v2_abmil", "abmil", 32, 24, 2, 8, 2, 40, 38, 0.8, 0.9, 1, 0.5),
        case_model("v2_dsmil", "dsmil", 33, 24, 3, 8, 3, 30, 29, 0.9, 0.9, 2, 0.5),
        case_model("v2_transmil", "transmil", 34, 24, 2, 8, 5, 40, 39, 0.8, 0.9, 0, 0.5),
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
