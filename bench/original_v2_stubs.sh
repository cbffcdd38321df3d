# Sourced by accuracy_original_v2.sh, which runs the original MHIM-MIL v2 main.py (branch master):
# write_original_v2_stubs DIR writes stub modules for the imports that `--model mhim_pure|mhim` on a classification
# set never uses, and a sitecustomize.py with the run-time fixes the released code needs on that path; put DIR on
# PYTHONPATH when running the original. Never copy any of the original's code here.
#
# Stubs: wandb (records what the original logs, see below), git (the --wandb auto-commit sees a clean tree),
# torch_geometric (graph models only), sksurv (C-index of the survival sets only).
# With MHIM_ORIG_WANDB_LOG=FILE, every wandb.log() call appends one JSON line to FILE (tensors as floats): with
# --wandb, the original then writes its per-fold test metrics (`test_acc`, `test_auc`, `test_ema_*`), which it
# otherwise never prints.
#
# sitecustomize.py (loaded at interpreter start) does, and only does:
# * B1 (spec mhim_v2.md §0): build_mil reads the unset args.attn_layer and passes it to MHIM, which has no such
#   argument: args.attn_layer is set to 0 and the keyword is dropped (MHIM hard-codes layer 0).
# * B2: build_mil passes select_mask=False to MHIM for --model=mhim_pure: the keyword is dropped.
# * datasets/data_utils.py uses `suppress` without importing it on the CPU path of its prefetch loader:
#   contextlib.suppress is provided (what the name refers to).
# * torch < 2.3 has no torch.amp.GradScaler: an fp32 stand-in that steps the optimiser on the unscaled loss.
#   Without AMP the real scaler multiplies the loss by a power of two and divides the gradients by it again
#   (exact), and skips a step only on non-finite gradients.
# Two experiment switches (environment variables read by sitecustomize.py; unset = no effect), used by
# bench/original_v2_same_init.sh to separate the student's random initialisation from everything else:
# * MHIM_ORIG_INIT_SEED=S: every MHIM module is initialised from torch.manual_seed(S); the global random stream is
#   restored afterwards, so dropout, bag order and shuffles draw exactly what they draw without the switch.
# * MHIM_ORIG_STUDENT_INIT=FILE.h5: every MHIM module built (the students; the teacher is a copy) then loads the
#   /model group of an mhim checkpoint, non-strictly, and prints the load report.
write_original_v2_stubs() {
    local dir=$1
    mkdir -p "$dir/git" "$dir/torch_geometric" "$dir/sksurv"
    cat >"$dir/wandb.py" <<'EOF'
"""Stub of wandb: nothing is sent; with MHIM_ORIG_WANDB_LOG set, log() appends its dict as one JSON line."""
import json
import os


def _plain(value):
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
        return float(value.item())
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


def log(row, *args, **kwargs):
    path = os.environ.get("MHIM_ORIG_WANDB_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")


def init(*args, **kwargs):
    return None


def save(*args, **kwargs):
    return None


def watch(*args, **kwargs):
    return None


def finish(*args, **kwargs):
    return None
EOF
    cat >"$dir/git/__init__.py" <<'EOF'
"""Stub of GitPython's Repo for the original's --wandb auto-commit: the tree is reported clean."""


class Repo:
    def __init__(self, *args, **kwargs):
        self.untracked_files = []

    def is_dirty(self):
        return False
EOF
    cat >"$dir/torch_geometric/__init__.py" <<'EOF'
"""Stub: imported by the original's data code for graph models, which the benchmark never builds."""
from . import data  # noqa: F401
EOF
    cat >"$dir/torch_geometric/data.py" <<'EOF'
class Data:
    pass


class Batch:
    pass
EOF
    : >"$dir/sksurv/__init__.py"
    cat >"$dir/sksurv/metrics.py" <<'EOF'
def concordance_index_censored(*args, **kwargs):
    raise NotImplementedError("survival sets are not run by this benchmark (sksurv is a stub)")
EOF
    cat >"$dir/sitecustomize.py" <<'EOF'
"""Run-time fixes of the original v2 code on the `--model mhim_pure|mhim` classification path (see
bench/original_v2_stubs.sh): B1, B2, the missing `suppress` import, and torch.amp.GradScaler on torch < 2.3; the
experiment switches MHIM_ORIG_INIT_SEED and MHIM_ORIG_STUDENT_INIT.
Each fix is applied right after the original's module is executed (an import hook), without editing its files."""
import contextlib
import importlib.abc
import importlib.util
import os
import sys

import torch
import torch.amp

if not hasattr(torch.amp, "GradScaler"):
    class _Fp32GradScaler:
        """torch.amp.GradScaler without AMP: the loss unscaled, one optimiser step per update."""

        def __init__(self, device="cuda", enabled=True, **kwargs):
            self.enabled = enabled

        def scale(self, loss):
            return loss

        def step(self, optimizer):
            optimizer.step()

        def update(self):
            pass

        def state_dict(self):
            return {}

    torch.amp.GradScaler = _Fp32GradScaler


def _fix_options(module):
    original = module.more_about_config

    def more_about_config(args):
        if not hasattr(args, "attn_layer"):
            args.attn_layer = 0
        return original(args)

    module.more_about_config = more_about_config


def _load_student_init(model, path):
    import h5py
    import numpy

    with h5py.File(path, "r") as f:
        state = {key: torch.tensor(numpy.array(value)) for key, value in f["model"].items()}
    print("MHIM_ORIG_STUDENT_INIT:", path, model.load_state_dict(state, strict=False))


def _fix_mhim(module):
    original = module.MHIM.__init__
    init_seed = os.environ.get("MHIM_ORIG_INIT_SEED")
    student_init = os.environ.get("MHIM_ORIG_STUDENT_INIT")

    def __init__(self, *args, **kwargs):
        kwargs.pop("select_mask", None)
        kwargs.pop("attn_layer", None)
        if init_seed is None:
            original(self, *args, **kwargs)
        else:
            state = torch.random.get_rng_state()
            torch.manual_seed(int(init_seed))
            original(self, *args, **kwargs)
            torch.random.set_rng_state(state)
        if student_init:
            _load_student_init(self, student_init)

    module.MHIM.__init__ = __init__


def _fix_data_utils(module):
    module.suppress = contextlib.suppress


_FIXES = {"options": _fix_options, "modules.mhim": _fix_mhim, "datasets.data_utils": _fix_data_utils}


class _FixAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _FIXES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_fix(module):
            exec_module(module)
            _FIXES[name](module)

        spec.loader.exec_module = exec_and_fix
        return spec


sys.meta_path.insert(0, _FixAfterImport())
EOF
}
