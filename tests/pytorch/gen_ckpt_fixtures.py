#!/usr/bin/python3
"""Checkpoint fixtures (tests/fixtures/ckpt/): PyTorch -> mhim and mhim -> PyTorch.

1. torch.save files in the layouts the original code writes, read by mhim (tests/unit/test_checkpoint.c,
   tests/unit/test_registry.c):
     abmil_v1_bare.pt    bare state_dict (like the shipped v1 ABMIL init checkpoints), float32
     dsmil_v1_model.pt   {'model': state_dict, 'teacher': None} (like the shipped v1 DSMIL ones), float16 tensors
     abmil_v2_nested.pt  {'model': sd + merge.* keys, 'teacher': sd, 'epoch': 3} (v2 fold_{k}_model_best.pt),
                         every key with a DataParallel "module." prefix
   expected.h5 holds the bag x, per file and key a checksum of the tensor (sum, sum of squares, first values) and the
   eval-mode outputs of the re-stated original modules (float64 math on the stored float32 / float16 values).
2. mhim -> PyTorch: tests/fixtures/ckpt/mhim_written.h5 is written by `test_checkpoint --write-fixture PATH`
   (build first). This script loads it into a re-stated v1 MHIM/ABMIL module with the 5-line h5py snippet of
   docs/checkpoints.md (load_state_dict strict), runs it on x and writes its verdict to torch_read.h5: strict_ok,
   missing/unexpected key counts, the metadata it read, per-key checksums and the logits/attention.

The model dimensions are the original ones (512 embedding, 128 attention width) with a small input_dim (16).
The modules are re-stated from the specification (../shared/spec/mhim_v1.md §3.2, §3.4), not imported.

Run from the repository root:
    cmake --build build && build/tests/test_checkpoint --write-fixture tests/fixtures/ckpt/mhim_written.h5
    /usr/bin/python3 tests/pytorch/gen_ckpt_fixtures.py
"""
import collections
import hashlib
import os

import h5py
import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ckpt")
D_IN, N_BAG, C = 16, 37, 2
PURPOSE = {}


# ---- re-stated module trees (original names, registration order) -------------------------------------------------

def front(version):
    """MHIM's instance embedding: v1 patch_to_emb, v2 feature = Sequential(Linear(D_in, 512), ReLU)."""
    return ("patch_to_emb" if version == 1 else "feature"), nn.Sequential(nn.Linear(D_IN, 512), nn.ReLU())


class AbmilTree(nn.Module):
    """MHIM with baseline='attn': DAttention(512) = Attention with Sequential(Linear(512,128,no bias), ReLU,
    Linear(128,1,no bias)), then predictor Linear(512, C)."""

    def __init__(self, version):
        super().__init__()
        name, mod = front(version)
        setattr(self, name, mod)
        self.online_encoder = nn.Module()
        self.online_encoder.attention = nn.Module()
        self.online_encoder.attention.attention = nn.Sequential(
            nn.Linear(512, 128, bias=False), nn.ReLU(), nn.Linear(128, 1, bias=False))
        self.predictor = nn.Linear(512, C)
        self.version = version

    def forward(self, x):
        h = (self.patch_to_emb if self.version == 1 else self.feature)(x)
        s = self.online_encoder.attention.attention(h)[:, 0]
        a = torch.softmax(s, 0)
        z = a @ h
        return self.predictor(z), a, z


class DsmilTree(nn.Module):
    """MHIM with baseline='dsmil' (v1 datten.DSMIL): instance classifier, q/v branches, Conv1d(C, C, 512)."""

    def __init__(self):
        super().__init__()
        self.patch_to_emb = nn.Sequential(nn.Linear(D_IN, 512), nn.ReLU())
        enc = nn.Module()
        enc.i_classifier = nn.Sequential(nn.Linear(512, C))
        enc.b_classifier = nn.Module()
        enc.b_classifier.q = nn.Sequential(nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 128), nn.Tanh())
        enc.b_classifier.v = nn.Sequential(nn.Dropout(0.0), nn.Linear(512, 512), nn.ReLU())
        enc.b_classifier.fcc = nn.Conv1d(C, C, kernel_size=512)
        self.online_encoder = enc
        self.predictor = nn.Linear(512, C)

    def forward(self, x):
        f = self.patch_to_emb(x)
        e = self.online_encoder
        inst = e.i_classifier(f)                         # (n, C)
        v = e.b_classifier.v(f)                          # (n, 512)
        q = e.b_classifier.q(f)                          # (n, 128)
        crit = torch.argmax(inst, 0)                     # critical instance per class
        qm = q[crit]                                     # (C, 128)
        a = torch.softmax(q @ qm.t() / np.sqrt(128.0), 0)  # (n, C)
        b = a.t() @ v                                    # (C, 512)
        bag = e.b_classifier.fcc(b.unsqueeze(0))[0, :, 0]
        return bag, inst.max(0).values, inst, b


# ---- values -----------------------------------------------------------------------------------------------------

def randomise(model, gen):
    """Xavier-scale random weights and small random biases (non-zero, so that every key matters)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_out, fan_in = p.shape[0], int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) * np.sqrt(2.0 / (fan_in + fan_out)))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def as_dtype(sd, dtype):
    return collections.OrderedDict((k, v.detach().to(dtype).clone()) for k, v in sd.items())


def checksums(group, sd):
    """Per key: [sum, sum of squares, v0, v1, v2, v3] in float64 of the stored values."""
    for k, v in sd.items():
        flat = v.detach().double().reshape(-1)
        first = flat[:4].tolist() + [0.0] * (4 - min(4, flat.numel()))
        group.create_dataset(k, data=np.array([flat.sum().item(), (flat * flat).sum().item()] + first))


def run64(model, sd, x):
    """Eval-mode outputs of `model` with the state_dict values sd, computed in float64."""
    m64 = model.double().eval()
    m64.load_state_dict({k: v.double() for k, v in sd.items()}, strict=True)
    with torch.no_grad():
        return [t.numpy() for t in m64(torch.as_tensor(x, dtype=torch.float64))]


def save(name, obj, purpose):
    torch.save(obj, os.path.join(OUT, name))
    PURPOSE[name] = purpose


def torch_to_mhim(ex, gen, x):
    abmil = AbmilTree(1)
    randomise(abmil, gen)
    sd = as_dtype(abmil.state_dict(), torch.float32)
    save("abmil_v1_bare.pt", sd, "bare v1 ABMIL state_dict, float32")
    logits, attn, z = run64(AbmilTree(1), sd, x)
    g = ex.create_group("abmil_v1_bare")
    checksums(g.create_group("checksum"), sd)
    g["logits"], g["attn"], g["z"] = logits, attn, z

    dsmil = DsmilTree()
    randomise(dsmil, gen)
    sd = as_dtype(dsmil.state_dict(), torch.float16)
    save("dsmil_v1_model.pt", {"model": sd, "teacher": None}, "v1 DSMIL {'model', 'teacher': None}, float16")
    bag, ins, inst, b = run64(DsmilTree(), sd, x)
    g = ex.create_group("dsmil_v1_model")
    checksums(g.create_group("checksum"), sd)
    g["bag_logits"], g["ins_logits"], g["inst_logits"], g["bag_feature"] = bag, ins, inst, b

    student, teacher = AbmilTree(2), AbmilTree(2)
    randomise(student, gen)
    randomise(teacher, gen)
    sd_s = as_dtype(student.state_dict(), torch.float32)
    sd_t = as_dtype(teacher.state_dict(), torch.float32)
    merge = collections.OrderedDict([("merge.norm.weight", torch.ones(512)), ("merge.norm.bias", torch.zeros(512)),
                                     ("merge.global_q", torch.randn(1, 1, 512, generator=gen))])
    full = collections.OrderedDict(list(sd_s.items()) + list(merge.items()))
    prefixed = lambda d: collections.OrderedDict(("module." + k, v) for k, v in d.items())
    save("abmil_v2_nested.pt", {"model": prefixed(full), "teacher": prefixed(sd_t), "epoch": 3},
         "v2 {'model' (+merge.*), 'teacher', 'epoch'} with module. prefixes, float32")
    g = ex.create_group("abmil_v2_nested")
    checksums(g.create_group("checksum_model"), sd_s)
    checksums(g.create_group("checksum_teacher"), sd_t)
    g["logits_model"] = run64(AbmilTree(2), sd_s, x)[0]
    g["logits_teacher"] = run64(AbmilTree(2), sd_t, x)[0]


def mhim_to_torch(x):
    path = os.path.join(OUT, "mhim_written.h5")
    if not os.path.exists(path):
        raise SystemExit(f"{path} missing: run `test_checkpoint --write-fixture {path}` first (see the docstring)")
    model = AbmilTree(1)
    # --- the snippet of docs/checkpoints.md ---
    with h5py.File(path, "r") as f:
        sd = {k: torch.as_tensor(f["model"][k][()]) for k in f["model"]}
        meta = dict(f.attrs)
        metrics = dict(f["metrics"].attrs)
    result = model.load_state_dict(sd, strict=False)
    with h5py.File(os.path.join(OUT, "torch_read.h5"), "w") as out:
        out.attrs["strict_ok"] = int(not result.missing_keys and not result.unexpected_keys)
        out.attrs["n_missing"] = len(result.missing_keys)
        out.attrs["n_unexpected"] = len(result.unexpected_keys)
        out.attrs["n_keys"] = len(sd)
        for k in ("model", "model_config", "fold", "epoch", "format_version"):
            out.attrs["meta_" + k] = meta[k]
        for k, v in metrics.items():
            out.attrs["metric_" + k] = v
        checksums(out.create_group("checksum"), sd)
        logits, attn, _ = run64(AbmilTree(1), sd, x)
        out["logits"], out["attn"] = logits, attn
    PURPOSE["torch_read.h5"] = "PyTorch's verdict on mhim_written.h5 (strict load, metadata, checksums, logits)"
    PURPOSE["mhim_written.h5"] = "written by test_checkpoint --write-fixture (v1 ABMIL, input_dim 16)"


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(2021)
    x = (torch.randn(N_BAG, D_IN, generator=gen)).float().numpy()
    with h5py.File(os.path.join(OUT, "expected.h5"), "w") as ex:
        ex["x"] = x
        torch_to_mhim(ex, gen, x)
    PURPOSE["expected.h5"] = "bag x, checksums and re-stated module outputs for the .pt files"
    mhim_to_torch(x)
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as m:
        m.write(f"# generated by tests/pytorch/gen_ckpt_fixtures.py with torch {torch.__version__}\n")
        m.write("file\tbytes\tsha256\tpurpose\n")
        for name in sorted(PURPOSE):
            data = open(os.path.join(OUT, name), "rb").read()
            m.write(f"{name}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{PURPOSE[name]}\n")


if __name__ == "__main__":
    main()
