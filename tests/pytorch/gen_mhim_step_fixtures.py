#!/usr/bin/python3
"""Generate the PyTorch fixtures of one full MHIM v1 training step (tests/fixtures/mhim_step/*.h5 + MANIFEST.tsv).

Re-states, in this file's own words, one iteration of the original v1 `--model=mhim` loop (spec mhim_v1.md §4.2)
for ABMIL and DSMIL, with the masks given as inputs:
  1. teacher forward on the whole bag without gradients (train mode with dropout 0 = eval mode): bag feature f_T
     (ABMIL z (512); DSMIL B (C, 512));
  2. the student on the given kept instances only (rows keep_idx of the embedded bag, in that order);
  3. loss = CE(logits, y) (DSMIL: 0.5·CE(bag) + 0.5·CE(max)) + cl_alpha · SoftTargetCE(z_S, f_T) with
     SoftTargetCE = mean over rows of Σ_d −softmax(f_T/temp_t)_d · log_softmax(z_S/1)_d;
  4. backward, torch.optim.Adam step (L2-coupled weight decay; tensors without a gradient, DSMIL's predictor, are
     skipped as torch does);
  5. EMA of the teacher over every parameter: θ_T ← mm·θ_T + (1 − mm)·θ_S.
The network references (MhimAbmil, MhimDsmil) are those of gen_abmil_fixtures.py / gen_dsmil_fixtures.py.
Float64 math from float16-exact inputs and parameters; results stored as float32. lr, weight decay and mm are chosen
so that the update and the EMA move every parameter visibly at float32 precision.

File layout: /inputs/x_codes (N, D_in) uint8 (x = x_codes · x_scale), /inputs/keep_idx (n); /params/<state_dict key>
(student, float16-exact) and /teacher_params/<key> (teacher before the step); /step/outputs/{loss, cls_loss, cl_loss,
logits (C; DSMIL: bag logits), teacher_feat, student_feat}; /step/grads/<key> (a tensor over KEEP elements is stored as
its leading rows, with its Frobenius norm in /step/grad_norms/<key>); /updated/student/<key> and /updated/teacher/<key>
(after Adam and EMA; leading rows as for the gradients). Root attributes: baseline, N, n, input_dim, classes, label,
lr, weight_decay, mm, cl_alpha, temp_t, x_scale, seed, torch_version.

Run from the repository root:  /usr/bin/python3 tests/pytorch/gen_mhim_step_fixtures.py
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_abmil_fixtures import MhimAbmil, X_SCALE, bag_codes, init_params, write, write_manifest  # noqa: E402
from gen_dsmil_fixtures import MIN_ARGMAX_GAP, MhimDsmil  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "mhim_step")
GENERATOR = "/usr/bin/python3 tests/pytorch/gen_mhim_step_fixtures.py"
KEEP = 8192  # at most this many elements of each stored gradient / updated tensor (whole leading rows)
LR, WEIGHT_DECAY, MM, CL_ALPHA, TEMP_T = 1e-3, 1e-4, 0.9, 0.1, 0.1


def soft_target_ce(z_s, f_t):
    """Mean over rows of Σ_d −softmax(f_t/TEMP_T)_d · log_softmax(z_s)_d (the target is detached)."""
    target = torch.softmax(f_t.detach() / TEMP_T, dim=-1)
    return (-target * torch.log_softmax(z_s, dim=-1)).sum(dim=-1).mean()


def forward(model, baseline, x, keep_idx, label):
    """(logits, bag feature, classification loss) of the model on rows keep_idx (None = all)."""
    y = torch.tensor([label])
    if baseline == "attn":
        logits, z, _, _, _ = model(x, keep_idx)
        return logits, z, F.cross_entropy(logits[None], y)
    bag_logit, max_logit, B, inst, _, _ = model(x, keep_idx)
    top2 = inst.topk(2, dim=0).values
    assert float((top2[0] - top2[1]).min()) > MIN_ARGMAX_GAP, "critical instances nearly tied"
    return bag_logit, B, 0.5 * F.cross_entropy(bag_logit[None], y) + 0.5 * F.cross_entropy(max_logit[None], y)


def leading(t):
    """Whole leading rows of t, at most KEEP elements."""
    if t.numel() <= KEEP:
        return t
    return t[:max(1, KEEP // (t.numel() // t.shape[0]))]


def case(name, baseline, seed, N, D, n_keep, label):
    torch.manual_seed(seed)
    make = (lambda: MhimAbmil(1, D, 2, "relu", "relu", False)) if baseline == "attn" else \
        (lambda: MhimDsmil(1, D, 2, "relu"))
    student, teacher = make(), make()
    init_params(student, seed)
    init_params(teacher, seed + 10)
    keys = student.state_keys()
    codes = bag_codes(N, D, seed + 1)
    x = codes.to(torch.float64) * X_SCALE
    g = torch.Generator().manual_seed(seed + 2)
    keep_idx = torch.randperm(N, generator=g)[:n_keep]
    params0 = {keys[k]: p.detach().clone() for k, p in student.named_parameters()}
    teacher0 = {keys[k]: p.detach().clone() for k, p in teacher.named_parameters()}

    with torch.no_grad():
        _, f_t, _ = forward(teacher, baseline, x, None, label)
    logits, z_s, cls_loss = forward(student, baseline, x, keep_idx, label)
    cl_loss = soft_target_ce(z_s, f_t)
    loss = cls_loss + CL_ALPHA * cl_loss
    opt = torch.optim.Adam(student.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    opt.zero_grad()
    loss.backward()
    grads = {keys[k]: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
             for k, p in student.named_parameters()}
    opt.step()
    with torch.no_grad():
        for ps, pt in zip(student.parameters(), teacher.parameters()):
            pt.mul_(MM).add_((1 - MM) * ps)

    norms = {k: v.norm() for k, v in grads.items() if v.numel() > KEEP}
    tree = {
        "inputs": {"x_codes": codes, "keep_idx": keep_idx},
        "params": params0,
        "teacher_params": teacher0,
        "step": {"outputs": {"loss": loss.detach(), "cls_loss": cls_loss.detach(), "cl_loss": cl_loss.detach(),
                             "logits": logits.detach(), "teacher_feat": f_t, "student_feat": z_s.detach()},
                 "grads": {k: leading(v) for k, v in grads.items()}, "grad_norms": norms},
        "updated": {"student": {keys[k]: leading(p.detach()) for k, p in student.named_parameters()},
                    "teacher": {keys[k]: leading(p.detach()) for k, p in teacher.named_parameters()}},
    }
    attrs = dict(baseline=baseline, N=N, n=n_keep, input_dim=D, classes=2, label=label, lr=LR,
                 weight_decay=WEIGHT_DECAY, mm=MM, cl_alpha=CL_ALPHA, temp_t=TEMP_T, x_scale=X_SCALE, seed=seed)
    print(f"{name}: N={N} kept={n_keep} D_in={D} label={label} loss {float(loss):.6f} = cls {float(cls_loss):.6f} "
          f"+ {CL_ALPHA} x cl {float(cl_loss):.6f}")
    return write(OUT_DIR, name, attrs, tree)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    paths = [case("abmil_step_n17", "attn", 31, 17, 24, 9, 1),
             case("dsmil_step_n15", "dsmil", 41, 15, 24, 8, 0)]
    write_manifest(OUT_DIR, GENERATOR, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
