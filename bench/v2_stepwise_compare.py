"""Replays one fold of an `mhim train` MHIM-v2 stage-2 run step by step with the original v2 modules (imported at
run time from ORIGINAL_V2_CHECKOUT; nothing of it is copied here) and prints both programs' per-step losses.

    python v2_stepwise_compare.py ORIGINAL_V2_CHECKOUT TRACE STUDENT_INIT.h5 TEACHER.h5 EPOCHS [options]

TRACE is the stderr of `mhim train` built with bench/v2_step_trace.patch (`git apply bench/v2_step_trace.patch`
in a scratch checkout, never committed) and run with MHIM_V2_STEP_TRACE=1: per training step it prints the bag file
("DBG B epoch path"), the hard-kept instance ids ("DBG K n ids..."), the Merge shuffle ("DBG P perm...") and the
losses ("DBG L ce aux"); MHIM_V2_TRACE_NO_MERGE_DROPOUT=1 also turns the Merge attention's dropout off (with
--dropout=0 the whole step is then dropout-free). STUDENT_INIT is the run's initial student (a 1-epoch run with
--lr=1e-30, see bench/original_v2_same_init.sh), TEACHER the fold's stage-1 teacher (.h5 of mhim or .pt of the
original; the Merge tensors missing from it come from the student, as in both programs).
The replay feeds the original's MHIM module the same bag order, kept ids and Merge shuffle, and follows the
original's training loop (engines/base_engine.py: teacher forward_teacher in train mode, student forward,
CE + aux_alpha * aux, Adam over the parameters that require a gradient, the timm cosine LR per epoch, then the
teacher EMA over zip(student.parameters(), teacher.parameters())). One fold of the trace is replayed (--fold).
The model options are the stage-2 switches of accuracy_original_v2.sh (ABMIL, GELU, --attn2score --merge_k=5
--merge_ratio=0.8 --merge_mm=0.9999 --mask_ratio_h=0.03 --aux_alpha=0.5, temp_t 0.1, Adam 2e-4, weight decay 1e-5).
Options: --dropout P (front-end dropout of both models, default 0), --merge_dropout P (the Merge attention's dropout,
the original's 0.1; default 0), --mm (teacher EMA decay, 0.9997), --no_ema, --lr, --every N (print every N-th step).
"""
import argparse
import copy
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def load_weights(model, path):
    """Non-strict load of an mhim checkpoint (.h5, /model group) or an original state dict (.pt)."""
    if path.endswith(".pt"):
        state = torch.load(path, map_location="cpu")
        state = state.get("model", state)
    else:
        with h5py.File(path, "r") as f:
            state = {k: torch.tensor(np.array(v)) for k, v in f["model"].items()}
    return model.load_state_dict(state, strict=False)


def read_trace(path, fold):
    steps, cur = [], None
    for line in open(path):
        if not line.startswith("DBG "):
            continue
        tag, rest = line[4], line[6:].split()
        if tag == "B":
            cur = {"epoch": int(rest[0]), "file": rest[1]}
        elif tag == "K":
            cur["keep"] = [int(v) for v in rest[1:]]
        elif tag == "P":
            cur["perm"] = [int(v) for v in rest]
        elif tag == "L":
            cur["ce"], cur["aux"] = float(rest[0]), float(rest[1])
            steps.append(cur)
    folds = [[]]
    for s in steps:  # a fold ends where the epoch counter goes back
        if folds[-1] and s["epoch"] < folds[-1][-1]["epoch"]:
            folds.append([])
        folds[-1].append(s)
    return folds[fold]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("orig")
    ap.add_argument("trace")
    ap.add_argument("student_init")
    ap.add_argument("teacher")
    ap.add_argument("epochs", type=int)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--merge_dropout", type=float, default=0.0)
    ap.add_argument("--mm", type=float, default=0.9997)
    ap.add_argument("--no_ema", action="store_true")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--fold", type=int, default=0, help="which fold of the trace to replay")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--labels", required=True, help="the label CSV (ID,Label) of the data set")
    ap.add_argument("--torch_seed", type=int, default=0, help="seeds the replay's dropout draws")
    a = ap.parse_args()
    sys.path.insert(0, a.orig)
    from modules.mhim import MHIM
    import modules.mhim_modules.merge as merge_mod
    from timm.scheduler import create_scheduler_v2

    labels = {}
    for line in open(a.labels).read().split("\n")[1:]:
        if line:
            case, y = line.split(",")
            labels[case] = int(y)
    steps = read_trace(a.trace, a.fold)
    input_dim = torch.load(steps[0]["file"]).shape[1]

    torch.manual_seed(a.torch_seed)
    student = MHIM(input_dim=input_dim, mlp_dim=512, n_classes=max(labels.values()) + 1, temp_t=0.1,
                   dropout=a.dropout, act="gelu",
                   mask_ratio_h=0.03, mask_ratio_hr=1.0, da_act="relu", baseline="attn", head=8, attn2score=True,
                   merge_enable=True, merge_k=5, merge_mm=0.9999, merge_ratio=0.8)
    student.merge.attn.dropout.p = a.merge_dropout
    student.merge.attn.to_out[1].p = a.merge_dropout
    print("student init:", load_weights(student, a.student_init))
    teacher = copy.deepcopy(student)
    print("teacher init:", load_weights(teacher, a.teacher))
    teacher.merge_test = False

    current = {}

    def get_mask(ps, i, attn, mrh=None):
        keep = current["keep"]
        rest = [j for j in range(ps) if j not in set(keep)]
        return len(keep), torch.tensor([keep + rest])

    student.get_mask = get_mask

    class TorchWithNoise:  # Merge.masking's torch: rand() gives noise whose argsort is the traced shuffle
        def __getattr__(self, name):
            return getattr(torch, name)

        def rand(self, n, device=None):
            noise = torch.empty(n)
            for j, p in enumerate(current["perm"]):
                noise[p] = float(j)
            return noise

    merge_mod.torch = TorchWithNoise()

    params = [{"params": filter(lambda p: p.requires_grad, student.parameters()), "lr": a.lr, "weight_decay": 1e-5}]
    opt = torch.optim.Adam(params)
    sched, _ = create_scheduler_v2(opt, sched="cosine", num_epochs=a.epochs, warmup_lr=1e-6, warmup_epochs=0,
                                   min_lr=1e-7)
    student.train()
    teacher.train()
    epoch = 0
    sums = {}
    print("step epoch | mhim ce aux | replay ce aux | aux diff")
    for t, s in enumerate(steps):
        if s["epoch"] >= a.epochs:
            break
        if s["epoch"] != epoch:
            sched.step(s["epoch"])
            epoch = s["epoch"]
        current.update(s)
        x = torch.load(s["file"]).float().unsqueeze(0)
        case = s["file"].rsplit("/", 1)[1].rsplit(".", 1)[0]
        y = torch.tensor([labels[case]])
        cls_tea, attn = teacher.forward_teacher(x)
        logits, aux, _, _ = student(x, attn, cls_tea, i=t)
        ce = F.cross_entropy(logits.view(1, -1), y)
        loss = ce + 0.5 * aux
        loss.backward()
        opt.step()
        opt.zero_grad()
        if not a.no_ema:
            with torch.no_grad():
                for q, k in zip(student.parameters(), teacher.parameters()):
                    k.data.mul_(a.mm).add_(q.data, alpha=1.0 - a.mm)
        m = sums.setdefault(epoch, [0, 0.0, 0.0])
        m[0] += 1
        m[1] += s["aux"]
        m[2] += float(aux)
        if t % a.every == 0:
            print(f"{t:4d} {epoch:3d} | {s['ce']:.6f} {s['aux']:.6f} | {float(ce):.6f} {float(aux):.6f} | "
                  f"{float(aux) - s['aux']:+.2e}")
    for e, (n, ma, ra) in sorted(sums.items()):
        print(f"epoch {e}: mean aux mhim {ma / n:.4f} replay {ra / n:.4f} over {n} steps")


if __name__ == "__main__":
    main()
