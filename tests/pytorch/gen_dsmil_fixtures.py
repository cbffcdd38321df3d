#!/usr/bin/python3
"""Generate the PyTorch parity fixtures of the DSMIL model as MHIM wraps it (tests/fixtures/dsmil/*.h5 + MANIFEST.tsv).

The reference re-states, in this file's own words, the network the original MHIM-MIL code builds for
baseline='dsmil': the front end (v1 patch_to_emb / v2 feature: Linear(D_in, 512) + ReLU|GELU, dp off), the instance
classifier Linear(512, C), the BClassifier (q = Tanh(Linear(128,128)(ReLU(Linear(512,128)))), v = ReLU(Linear(512,
512)), critical instance per class = argmax of the instance logits, attention = softmax over the instances of
q·q_critᵀ/sqrt(128), B = Aᵀv, bag logits = Conv1d(C, C, kernel 512)(B)), the max-instance logits, the teacher
scores (max over classes of the instance logits, or of the attention), and both loss combinations: v1
0.5·CE(bag) + 0.5·CE(max) and v2 CE(0.5·bag + 0.5·max), with the evaluation probabilities of each version.
Float64 math from float16-exact inputs and parameters; results stored as float32. The predictor (unused by DSMIL) is
stored with the parameters and has zero gradient.

File layout (helpers shared with gen_abmil_fixtures.py): /inputs/x_codes (N, D_in) uint8 with x = x_codes · x_scale;
/params/<state_dict key>; per variant ("full", "masked"): <variant>/inputs/{keep_idx (masked only), d_bag_logit (C),
d_max_logit (C), d_B (C, 512), label}; <variant>/outputs/{bag_logit, max_logit, B, inst (n, C), attn (n, C), crit
(C), loss_v1, loss_v2, d_bag_logit_v1, d_max_logit_v1, d_bag_logit_v2, d_max_logit_v2, probs_v1, probs_v2} and in
"full" teacher_score_inst, teacher_score_attn (N); <variant>/grads/<state_dict key> of
Σ bag_logit·d_bag_logit + Σ max_logit·d_max_logit + Σ B·d_B (large gradients: leading rows, plus the whole
tensor's norm in <variant>/grad_norms/<key>).

Run from the repository root:  /usr/bin/python3 tests/pytorch/gen_dsmil_fixtures.py
"""
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_abmil_fixtures import (ACT_IDS, X_SCALE, FrontEnd, bag_codes, init_params, trim_grads,  # noqa: E402
                                write, write_manifest)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "dsmil")
GENERATOR = "/usr/bin/python3 tests/pytorch/gen_dsmil_fixtures.py"
MIN_ARGMAX_GAP = 1e-3  # critical instances must not be near-ties (float32 vs float64 would pick differently)


class MhimDsmil(nn.Module):
    def __init__(self, version, input_dim, classes, act):
        super().__init__()
        self.version = version
        self.front = FrontEnd(input_dim, act)
        self.inst = nn.Linear(512, classes)
        self.q1 = nn.Linear(512, 128)
        self.q2 = nn.Linear(128, 128)
        self.v = nn.Linear(512, 512)
        self.fcc = nn.Conv1d(classes, classes, kernel_size=512)
        self.predictor = nn.Linear(512, classes)

    def query(self, h):
        return torch.tanh(self.q2(torch.relu(self.q1(h))))

    def forward(self, x, keep_idx=None):
        h = self.front(x)
        if keep_idx is not None:
            h = h[keep_idx]
        inst = self.inst(h)
        crit = inst.argmax(dim=0)
        q = self.query(h)
        q_crit = self.query(h[crit])  # recomputed on the critical rows, as the original does
        attn = torch.softmax(q @ q_crit.t() / math.sqrt(128.0), dim=0)
        B = attn.t() @ torch.relu(self.v(h))
        bag_logit = self.fcc(B[None])[0, :, 0]
        max_logit = inst.max(dim=0).values
        return bag_logit, max_logit, B, inst, attn, crit

    def state_keys(self):
        front = "patch_to_emb.0" if self.version == 1 else "feature.0"
        enc = "online_encoder."
        names = {"front.proj": front, "inst": enc + "i_classifier.0", "q1": enc + "b_classifier.q.0",
                 "q2": enc + "b_classifier.q.2", "v": enc + "b_classifier.v.1", "fcc": enc + "b_classifier.fcc",
                 "predictor": "predictor"}
        return {f"{m}.{t}": f"{k}.{t}" for m, k in names.items() for t in ("weight", "bias")}


def losses(bag_logit, max_logit, label):
    """Loss, logit gradients and evaluation probabilities of both versions (float64)."""
    out = {}
    for version in (1, 2):
        b = bag_logit.detach().clone().requires_grad_(True)
        m = max_logit.detach().clone().requires_grad_(True)
        y = torch.tensor([label])
        if version == 1:
            loss = 0.5 * nn.functional.cross_entropy(b[None], y) + 0.5 * nn.functional.cross_entropy(m[None], y)
            probs = 0.5 * torch.softmax(m, 0) + 0.5 * torch.softmax(b, 0)
        else:
            loss = nn.functional.cross_entropy((0.5 * b + 0.5 * m)[None], y)
            probs = torch.softmax(0.5 * b + 0.5 * m, 0)
        loss.backward()
        out.update({f"loss_v{version}": loss.detach(), f"d_bag_logit_v{version}": b.grad,
                    f"d_max_logit_v{version}": m.grad, f"probs_v{version}": probs.detach()})
    return out


def case(name, seed, version, N, D, classes, act="relu", keep=None):
    torch.manual_seed(seed)
    model = MhimDsmil(version, D, classes, act)
    init_params(model, seed)
    codes = bag_codes(N, D, seed + 1)
    x = codes.to(torch.float64) * X_SCALE
    g = torch.Generator().manual_seed(seed + 2)
    keys = model.state_keys()
    attrs = dict(version=version, act=act, act_id=ACT_IDS[act], N=N, input_dim=D, classes=classes, seed=seed,
                 x_scale=X_SCALE)
    tree = {"inputs": {"x_codes": codes}, "params": {keys[k]: p for k, p in model.named_parameters()}}
    for variant in ["full"] + (["masked"] if keep is not None else []):
        keep_idx = torch.randperm(N, generator=g)[:keep] if variant == "masked" else None
        model.zero_grad()
        bag_logit, max_logit, B, inst, attn, crit = model(x, keep_idx)
        top2 = inst.topk(2, dim=0).values
        gap = float((top2[0] - top2[1]).min())
        assert gap > MIN_ARGMAX_GAP, f"{name}/{variant}: critical instances nearly tied (gap {gap})"
        rnd = lambda *shape: (torch.rand(shape, generator=g) * 2 - 1).to(torch.float32).to(torch.float64)
        d_bag_logit, d_max_logit, d_B = rnd(classes), rnd(classes), rnd(classes, 512)
        ((bag_logit * d_bag_logit).sum() + (max_logit * d_max_logit).sum() + (B * d_B).sum()).backward()
        grads = {keys[k]: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                 for k, p in model.named_parameters()}
        norms = trim_grads(grads)
        label = int(torch.randint(classes, (1,), generator=g))
        inputs = {"d_bag_logit": d_bag_logit, "d_max_logit": d_max_logit, "d_B": d_B, "label": label}
        if keep_idx is not None:
            inputs["keep_idx"] = keep_idx
        outputs = {"bag_logit": bag_logit, "max_logit": max_logit, "B": B, "inst": inst, "attn": attn, "crit": crit}
        outputs.update(losses(bag_logit, max_logit, label))
        if keep_idx is None:
            outputs["teacher_score_inst"] = inst.max(dim=1).values
            outputs["teacher_score_attn"] = attn.max(dim=1).values
        tree[variant] = {"inputs": inputs, "outputs": outputs, "grads": grads, "grad_norms": norms}
        attrs[f"{variant}_n"] = len(inst)
        print(f"{name}/{variant}: N={N} n={len(inst)} D_in={D} C={classes} v{version} act={act} "
              f"argmax gap {gap:.3g}")
    return write(OUT_DIR, name, attrs, tree)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    paths = [
        case("dsmil_v1_n13", 21, 1, 13, 24, 2, keep=8),
        case("dsmil_v2_gelu_c3", 22, 2, 10, 20, 3, act="gelu", keep=6),
        case("dsmil_v1_n3000_d1024", 23, 1, 3000, 1024, 2, keep=1480),
    ]
    write_manifest(OUT_DIR, GENERATOR, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
