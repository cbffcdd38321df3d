#!/usr/bin/python3
"""Write the optimiser / schedule parity fixtures of tests/unit/test_optim.c and test_schedule.c.

Run from the repository root with the Debian interpreter (torch 1.13, numpy, h5py):
    /usr/bin/python3 tests/pytorch/gen_optim_fixtures.py
Outputs tests/fixtures/optim/*.h5 and tests/fixtures/optim/MANIFEST.tsv.

The optimisers run in float32 (that is the arithmetic the C code mirrors element by element);
schedules are float64 Python/numpy values. Layout of each file is described next to its writer.
"""
import hashlib
import math
import os
import sys

import h5py
import numpy as np
import torch

OUT = os.path.join("tests", "fixtures", "optim")
COMMAND = "/usr/bin/python3 tests/pytorch/gen_optim_fixtures.py"

# Small parameter set with state_dict-style names; "unused.weight" never receives a gradient
# (PyTorch skips it: its .grad stays None), which the C side mirrors with per-range updates.
SHAPES = [("patch_to_emb.0.weight", (7, 5)), ("patch_to_emb.0.bias", (7,)),
          ("cls_token", (1, 1, 4)), ("unused.weight", (3, 2)), ("classifier.weight", (2, 7))]
STEPS = 5
LRS = [2e-4, 2e-4, 1.5e-4, 1e-3, 5e-2]  # one lr per step (changes between steps, as a schedule does)


def create_file(path):
    """A new HDF5 file whose objects carry no timestamps, so regenerating gives identical bytes."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl))


def group(parent, name):
    """parent[name] as a group, created (without timestamps, intermediate groups included) if missing."""
    for part in name.split("/"):
        if part not in parent:
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            h5py.h5g.create(parent.id, part.encode(), gcpl=gcpl)
        parent = parent[part]
    return parent


def put(f, name, value):
    """Dataset at path `name` (groups created as needed), without timestamps."""
    head, _, leaf = name.rpartition("/")
    parent = group(f, head) if head else f
    parent.create_dataset(leaf, data=value, track_times=False)


def write(path, datasets, attrs):
    with create_file(path) as f:
        for name, value in datasets.items():
            put(f, name, value)
        for name, value in attrs.items():
            f.attrs[name] = value
        f.attrs["torch_version"] = str(torch.__version__)


def random_grads(gen):
    """Per-step gradients: normal values, some exact zeros and some tiny ones (eps path)."""
    grads = []
    for _ in range(STEPS):
        step = {}
        for name, shape in SHAPES:
            if name == "unused.weight":
                continue
            g = torch.randn(shape, generator=gen, dtype=torch.float32)
            flat = g.view(-1)
            flat[0] = 0.0
            if flat.numel() > 2:
                flat[1] = 1e-9
            step[name] = g
        grads.append(step)
    return grads


def adam_case(path, kind, weight_decay, seed):
    """params0/<n>, grads/<k>/<n>, params/<k>/<n> (after step k+1), exp_avg/<n>, exp_avg_sq/<n> (after
    the last step), lr (STEPS,) float64; attrs kind, weight_decay, betas, eps."""
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float32)) for _, s in SHAPES]
    names = [n for n, _ in SHAPES]
    data = {f"params0/{n}": p.detach().numpy().copy() for n, p in zip(names, params)}
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    opt = cls(params, lr=LRS[0], weight_decay=weight_decay)
    grads = random_grads(gen)
    for k in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = LRS[k]
        opt.zero_grad(set_to_none=True)
        for n, p in zip(names, params):
            if n in grads[k]:
                p.grad = grads[k][n].clone()
                data[f"grads/{k}/{n}"] = grads[k][n].numpy().copy()
        opt.step()
        for n, p in zip(names, params):
            data[f"params/{k}/{n}"] = p.detach().numpy().copy()
    for n, p in zip(names, params):
        if p in opt.state:
            data[f"exp_avg/{n}"] = opt.state[p]["exp_avg"].numpy().copy()
            data[f"exp_avg_sq/{n}"] = opt.state[p]["exp_avg_sq"].numpy().copy()
    data["lr"] = np.array(LRS, dtype=np.float64)
    write(path, data, {"kind": kind, "weight_decay": weight_decay, "steps": STEPS,
                       "beta1": 0.9, "beta2": 0.999, "eps": 1e-8})


def clip_case(path, seed):
    """grads/<n> (input), then for each case c: max_norm_c (attr), total_norm_c (float32 scalar),
    clipped_c/<n>. Case 0 clips, case 1 does not (coef >= 1)."""
    gen = torch.Generator().manual_seed(seed)
    names = [n for n, _ in SHAPES]
    grads = [torch.randn(s, generator=gen, dtype=torch.float32) * 0.7 for _, s in SHAPES]
    data = {f"grads/{n}": g.numpy().copy() for n, g in zip(names, grads)}
    attrs = {}
    for c, max_norm in enumerate([1.0, 100.0]):
        params = [torch.nn.Parameter(torch.zeros(s)) for _, s in SHAPES]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        attrs[f"max_norm_{c}"] = max_norm
        data[f"total_norm_{c}"] = np.array([total.item()], dtype=np.float32)
        for n, p in zip(names, params):
            data[f"clipped_{c}/{n}"] = p.grad.numpy().copy()
    write(path, data, attrs)


def ema_case(path, seed):
    """teacher0, student (float32 vectors), momentum_c (attrs) -> teacher1_c = teacher0.mul_(m).add_(student, alpha=1-m)."""
    gen = torch.Generator().manual_seed(seed)
    teacher = torch.randn(257, generator=gen, dtype=torch.float32)
    student = torch.randn(257, generator=gen, dtype=torch.float32)
    # "length" (int32) and "teacher0_f64" (float64) exercise the reader's integer and float64 conversions.
    data = {"teacher0": teacher.numpy().copy(), "student": student.numpy().copy(),
            "length": np.array([257], dtype=np.int32), "teacher0_f64": teacher.numpy().astype(np.float64)}
    attrs = {}
    for c, m in enumerate([0.9999, 0.9997, 0.5]):
        t = teacher.clone()
        t.mul_(m).add_(student, alpha=1 - m)
        attrs[f"momentum_{c}"] = m
        data[f"teacher1_{c}"] = t.numpy().copy()
    write(path, data, attrs)


def torch_lrs(make_sched, steps, base_lr):
    """lr used at scheduler step t = 0..steps-1 (param_groups[0]['lr'] after t calls to step())."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_sched(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out, dtype=np.float64)


def timm_cosine_lrs(base_lr, lr_min, t_initial, steps):
    """timm.scheduler.CosineLRScheduler(t_initial, lr_min, warmup_t=0, cycle_limit=1)._get_lr(t), written out
    (timm is not a Debian package); its arithmetic order is kept."""
    out = []
    for t in range(steps):
        i = t // t_initial
        t_i = t_initial
        t_curr = t - t_initial * i
        if i < 1:
            out.append(lr_min + 0.5 * (base_lr - lr_min) * (1 + math.cos(math.pi * t_curr / t_i)))
        else:
            out.append(lr_min)
    return np.array(out, dtype=np.float64)


def cosine_scheduler(base_value, final_value, epochs, niter_per_ep, warmup_epochs=0, start_warmup_value=0):
    """utils.cosine_scheduler of the original code (verbatim arithmetic)."""
    warmup_schedule = np.array([])
    warmup_iters = warmup_epochs * niter_per_ep
    if warmup_epochs > 0:
        warmup_schedule = np.linspace(start_warmup_value, base_value, warmup_iters)
    iters = np.arange(epochs * niter_per_ep - warmup_iters)
    schedule = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * iters / len(iters)))
    schedule = np.concatenate((warmup_schedule, schedule))
    assert len(schedule) == epochs * niter_per_ep
    return schedule


def schedules_case(path):
    """Each group <name>/ holds `values` (float64) and attrs describing the schedule."""
    cases = {
        "cosine_v1": ("cosine", 2e-4, 0.0, 200, 0.0, 450),      # past T_max: exercises the special branch
        "cosine_min": ("cosine", 1e-3, 1e-6, 7, 0.0, 40),
        "cosine_iter": ("cosine", 2e-4, 0.0, 50 * 37, 0.0, 50 * 37 + 5),
        "step_v1": ("step", 2e-4, 0.0, 100, 0.2, 250),
        "step_small": ("step", 0.1, 0.0, 3, 0.5, 20),
        "timm_v2": ("timm", 2e-4, 1e-7, 200, 0.0, 230),
    }
    with create_file(path) as f:
        for name, (kind, base, lo, period, gamma, steps) in cases.items():
            if kind == "cosine":
                v = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=period, eta_min=lo),
                              steps, base)
            elif kind == "step":
                v = torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=period, gamma=gamma), steps, base)
            else:
                v = timm_cosine_lrs(base, lo, period, steps)
            g = group(f, name)
            put(g, "values", v)
            g.attrs.update({"kind": kind, "base_lr": base, "min_lr": lo, "period": period, "gamma": gamma})
        cs = {
            "mrh": (0.01, 0.0, 200, 17, 0, 0.0),
            "mm": (0.9999, 1.0, 100, 17, 0, 0.0),
            "mm_v2": (0.9997, 1.0, 3, 1, 0, 0.0),
            "warmup": (5e-4, 1e-6, 10, 13, 2, 1e-6),
            "warmup_one_iter": (5e-4, 0.0, 3, 1, 1, 1e-6),
            "all_warmup": (1.0, 0.0, 2, 3, 2, 0.25),
        }
        for name, (base, final, epochs, niter, warm, start) in cs.items():
            g = group(f, f"cosine_scheduler/{name}")
            put(g, "values", cosine_scheduler(base, final, epochs, niter, warm, start))
            g.attrs.update({"base": base, "final": final, "epochs": epochs, "niter_per_ep": niter,
                            "warmup_epochs": warm, "start_warmup": start})
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["numpy_version"] = str(np.__version__)


def main():
    if not os.path.isdir(OUT):
        sys.exit(f"run from the repository root ({OUT} not found)")
    torch.manual_seed(0)
    files = {
        "adam_wd1e-5.h5": lambda p: adam_case(p, "adam", 1e-5, 1),
        "adam_wd0.05.h5": lambda p: adam_case(p, "adam", 0.05, 2),
        "adamw_wd0.05.h5": lambda p: adam_case(p, "adamw", 0.05, 3),
        "clip.h5": lambda p: clip_case(p, 4),
        "ema.h5": lambda p: ema_case(p, 5),
        "schedules.h5": schedules_case,
    }
    rows = ["file\tsha256\ttorch_version\tgenerator"]
    for name, writer in files.items():
        path = os.path.join(OUT, name)
        writer(path)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        rows.append(f"{name}\t{digest}\t{torch.__version__}\t{COMMAND}")
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
