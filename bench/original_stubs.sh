# Sourced by the scripts that run the original MHIM-MIL v1 main.py (bench_train_original.sh, accuracy_original.sh):
# write_original_stubs DIR writes stub modules for the imports that `--model pure|mhim` never uses (wandb, timm,
# torchvision, future) and a sitecustomize.py; put DIR on PYTHONPATH when running the original. Never copy any of
# the original's code here.
#
# sitecustomize.py restores numpy.Inf (removed in NumPy 2, used by the original's EarlyStopping), writes the peak GPU
# memory to $MHIM_BENCH_GPU_MEM at exit when that is set, and with MHIM_ORIG_INPUT_DIM=D builds every
# nn.Linear(1024, k) as nn.Linear(D, k): the original hard-codes 1024-wide features in its first layer, so this is
# how it trains on other feature widths (e.g. MUSK1's 166). With MHIM_ORIG_CAT_0DIM=1, torch.cat accepts a 0-d tensor
# next to 1-d ones as one element: the original's mask union crashes when exactly one id is masked (a `.squeeze()`
# leaves a 0-d tensor; v1 spec §4.4), which happens on bags of a few instances; this does what was intended.
# With MHIM_BENCH_EPOCH_TIMES=FILE, every torch.save of the original's end-of-epoch `ckp.pt` appends the time
# (time.monotonic(), seconds) to FILE: successive differences are its whole epochs (training loop, validation of
# the student and the teacher, best-model and checkpoint saves), which its own log does not time.
write_original_stubs() {
    local dir=$1
    mkdir -p "$dir/timm" "$dir/torchvision" "$dir/future"
    cat >"$dir/wandb.py" <<'EOF'
"""Stub: the original imports wandb at the top; the benchmark never passes --wandb."""
EOF
    cat >"$dir/timm/__init__.py" <<'EOF'
EOF
    cat >"$dir/timm/utils.py" <<'EOF'
"""Stub of the two timm.utils names the original imports."""


class AverageMeter:
    def __init__(self):
        self.val = self.avg = self.sum = self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count


def dispatch_clip_grad(parameters, value, mode="norm", norm_type=2.0):
    import torch
    torch.nn.utils.clip_grad_norm_(parameters, value, norm_type=norm_type)
EOF
    cat >"$dir/timm/models.py" <<'EOF'
def model_parameters(model, exclude_head=False):
    return model.parameters()
EOF
    cat >"$dir/torchvision/__init__.py" <<'EOF'
"""Stub: modules/attmil.py imports torchvision.models (unused by --model pure|mhim)."""
from . import models  # noqa: F401
EOF
    : >"$dir/torchvision/models.py"
    : >"$dir/future/__init__.py"
    cat >"$dir/sitecustomize.py" <<'EOF'
"""Loaded at interpreter start: the NumPy 1.x alias the original uses (utils.EarlyStopping: np.Inf); with
MHIM_BENCH_GPU_MEM set, the peak GPU memory torch allocated written to that file at exit; with MHIM_ORIG_INPUT_DIM=D,
nn.Linear(1024, k) built as nn.Linear(D, k) (the original hard-codes 1024-wide features); with MHIM_ORIG_CAT_0DIM set,
torch.cat takes a 0-d tensor next to 1-d ones as one element (the original's one-masked-id crash); with
MHIM_BENCH_EPOCH_TIMES set, the time of every end-of-epoch ckp.pt save appended to that file."""
import atexit
import os
import sys

import numpy

if not hasattr(numpy, "Inf"):
    numpy.Inf = numpy.inf


def _write_gpu_peak():
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        with open(os.environ["MHIM_BENCH_GPU_MEM"], "w") as f:
            f.write("%.1f\n" % (torch.cuda.max_memory_allocated() / 2**20))


if os.environ.get("MHIM_BENCH_GPU_MEM"):
    atexit.register(_write_gpu_peak)

if os.environ.get("MHIM_ORIG_INPUT_DIM"):
    import torch.nn

    _input_dim = int(os.environ["MHIM_ORIG_INPUT_DIM"])
    _linear_init = torch.nn.Linear.__init__

    def _linear_with_input_dim(self, in_features, out_features, *args, **kwargs):
        if in_features == 1024:
            in_features = _input_dim
        _linear_init(self, in_features, out_features, *args, **kwargs)

    torch.nn.Linear.__init__ = _linear_with_input_dim

if os.environ.get("MHIM_ORIG_CAT_0DIM"):
    import torch

    _cat = torch.cat

    def _cat_promoting_0dim(tensors, *args, **kwargs):
        tensors = list(tensors)
        if any(t.dim() == 0 for t in tensors) and any(t.dim() > 0 for t in tensors):
            tensors = [t.reshape(1) if t.dim() == 0 else t for t in tensors]
        return _cat(tensors, *args, **kwargs)

    torch.cat = _cat_promoting_0dim

if os.environ.get("MHIM_BENCH_EPOCH_TIMES"):
    import time

    import torch

    _save = torch.save

    def _save_timed(obj, f, *args, **kwargs):
        _save(obj, f, *args, **kwargs)
        if isinstance(f, (str, os.PathLike)) and os.path.basename(os.fspath(f)) == "ckp.pt":
            with open(os.environ["MHIM_BENCH_EPOCH_TIMES"], "a") as out:
                out.write("%.6f\n" % time.monotonic())

    torch.save = _save_timed
EOF
    cat >"$dir/future/builtins.py" <<'EOF'
"""Stub of the Python 2 compatibility package imported by modules/topk (CLAM's loss, unused here)."""
range = range
EOF
}
