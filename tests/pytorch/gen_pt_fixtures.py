#!/usr/bin/python3
"""Write the small torch.save fixtures of tests/fixtures/pt/ and their expected values.

Run from the repository root with the Debian interpreter (torch 1.13):
    /usr/bin/python3 tests/pytorch/gen_pt_fixtures.py
Outputs (all a few KB): the .pt files, expected.tsv (every entry's dtype, shape and exact values, read by
tests/unit/test_pt_reader.c) and MANIFEST.tsv (sha256, size, torch version, purpose of each file).
The C tests never run Python; re-run this script only to change the fixtures, and commit its outputs.
"""
import collections
import hashlib
import io
import os
import pickle
import zipfile

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pt")
PURPOSE = {}
EXPECTED = []


def save(name, obj, purpose, **kwargs):
    torch.save(obj, os.path.join(OUT, name), **kwargs)
    PURPOSE[name] = purpose


def write_zip(name, records, purpose, compression=zipfile.ZIP_STORED):
    """A torch.save-shaped zip (records under '<stem>/') with arbitrary record contents."""
    stem = name[:-3]
    with zipfile.ZipFile(os.path.join(OUT, name), "w", compression) as z:
        for record, data in records:
            info = zipfile.ZipInfo(f"{stem}/{record}", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data, compress_type=compression)
    PURPOSE[name] = purpose


def fmt_float(v):
    return repr(float(v))


def expect(file, entry, value):
    """Record the expected entry: a tensor (dtype, shape, values) or a Python scalar."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        dtype = str(t.dtype).replace("torch.", "")
        shape = ",".join(str(s) for s in t.shape) if t.dim() else "-"
        flat = t.reshape(-1)
        if t.is_floating_point():
            vals = " ".join(fmt_float(v) for v in flat.float().tolist())
        else:
            vals = " ".join(str(int(v)) for v in flat.tolist())
        EXPECTED.append((file, entry, dtype, shape, vals))
    elif isinstance(value, bool):
        EXPECTED.append((file, entry, "bool", "-", str(int(value))))
    elif isinstance(value, int):
        EXPECTED.append((file, entry, "int", "-", str(value)))
    elif isinstance(value, float):
        EXPECTED.append((file, entry, "float", "-", fmt_float(value)))
    elif isinstance(value, str):
        EXPECTED.append((file, entry, "str", "-", value))
    elif value is None:
        EXPECTED.append((file, entry, "none", "-", "-"))
    else:
        raise TypeError(type(value))


def expect_tree(file, prefix, obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            expect_tree(file, f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj):
            expect_tree(file, f"{prefix}.{k}" if prefix else str(k), v)
    else:
        expect(file, prefix, obj)


def tiny_model(seed):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    m(torch.randn(5, 4))  # training-mode forward: running stats and num_batches_tracked change
    return m


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    f32 = torch.arange(15, dtype=torch.float32).reshape(5, 3) * 0.25 - 1.5
    save("f32.pt", f32, "float32 (5,3) bag, plain tensor")
    expect("f32.pt", "", f32)

    f16 = torch.tensor([[0.0, 0.25, -1.5], [65504.0, 2.0**-24, -(2.0**-14)],
                        [1.0 / 3.0, -0.0, 1000.5], [3.140625, -2.0, 0.099975586]], dtype=torch.float16)
    save("f16.pt", f16, "float16 (4,3) bag incl. subnormal, max and -0")
    expect("f16.pt", "", f16)

    bf16 = torch.tensor([[1.0, -2.5, 3.0e10], [1.0e-20, 0.1, -7.0]], dtype=torch.bfloat16)
    save("bf16.pt", bf16, "bfloat16 (2,3) bag")
    expect("bf16.pt", "", bf16)

    nonfinite = torch.tensor([[1.0, float("nan"), 2.0], [float("inf"), -float("inf"), float("nan")]])
    save("nonfinite.pt", nonfinite, "float32 (2,3) with 2 NaN, 2 Inf")
    expect("nonfinite.pt", "", nonfinite)

    base = torch.arange(24, dtype=torch.float32).reshape(8, 3)
    view = base[2:5]
    save("view_offset.pt", view, "slice view x[2:5]: whole 24-element storage saved, storage offset 6")
    expect("view_offset.pt", "", view)

    save("transposed.pt", torch.arange(6, dtype=torch.float32).reshape(2, 3).t(),
         "non-contiguous (transposed) view: must be rejected")

    save("empty.pt", torch.zeros(0, 4), "empty bag (0,4)")
    expect("empty.pt", "", torch.zeros(0, 4))

    vec = torch.arange(4, dtype=torch.float32)
    save("vector.pt", vec, "1-D tensor (not a bag)")
    expect("vector.pt", "", vec)

    torch.manual_seed(1)
    param = torch.nn.Parameter(torch.randn(2, 2))
    save("parameter.pt", param, "nn.Parameter (_rebuild_parameter)")
    expect("parameter.pt", "", param)

    sd = tiny_model(0).state_dict()
    save("state_dict.pt", sd, "OrderedDict state_dict of Linear(4,3)+BatchNorm1d(3) incl. int64 scalar")
    expect_tree("state_dict.pt", "", sd)

    ckpt = {"model": tiny_model(0).state_dict(), "teacher": tiny_model(1).state_dict(), "epoch": 3,
            "lr": 0.001, "arch": "abmil", "best": None, "flags": [True, 2]}
    save("checkpoint.pt", ckpt, "nested checkpoint {'model','teacher': state_dict, scalars, list}")
    expect_tree("checkpoint.pt", "", ckpt)

    save("numpy.pt", np.arange(6, dtype=np.float32).reshape(2, 3), "numpy array saved with torch.save: rejected")
    save("legacy.pt", f32, "legacy pre-1.6 pickle-stream format: rejected", _use_new_zipfile_serialization=False)

    evil = b"\x80\x02cos\nsystem\nq\x00X\x15\x00\x00\x00touch /tmp/mhim_pwnedq\x01\x85q\x02Rq\x03."
    write_zip("malicious.pt", [("data.pkl", evil), ("version", b"3\n")],
              "GLOBAL os.system + REDUCE in a valid zip layout: rejected, never executed")
    inst = b"\x80\x02(X\x02\x00\x00\x00idios\nsystem\n."
    write_zip("bad_opcode.pt", [("data.pkl", inst), ("version", b"3\n")], "INST opcode: rejected")

    with zipfile.ZipFile(os.path.join(OUT, "f32.pt")) as z:
        records = [(i.filename.split("/", 1)[1], z.read(i)) for i in z.infolist()]
    records = [(r, d[:20] if r == "data/0" else d) for r, d in records]
    write_zip("short_storage.pt", records, "f32.pt with storage record cut to 20 of 60 bytes: rejected")
    with zipfile.ZipFile(os.path.join(OUT, "view_offset.pt")) as z:
        records = [(i.filename.split("/", 1)[1], z.read(i)) for i in z.infolist()]
    write_zip("deflated.pt", records, "view_offset.pt re-zipped with deflate (read through libzip)",
              zipfile.ZIP_DEFLATED)
    expect("deflated.pt", "", view)
    write_zip("no_pickle.pt", [("version", b"3\n")], "zip without data.pkl: rejected")

    with open(os.path.join(OUT, "expected.tsv"), "w") as f:
        f.write("# file\tentry\tdtype\tshape\tvalues (written by tests/pytorch/gen_pt_fixtures.py)\n")
        for row in EXPECTED:
            f.write("\t".join(row) + "\n")

    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
        f.write(f"# torch.save fixtures written by tests/pytorch/gen_pt_fixtures.py with torch {torch.__version__}, "
                f"numpy {np.__version__}\n")
        f.write("# regenerate: /usr/bin/python3 tests/pytorch/gen_pt_fixtures.py (from the repository root)\n")
        f.write("# every file is byte-identical on regeneration except legacy.pt (the legacy format embeds object ids)\n")
        f.write("file\tbytes\tsha256\tpurpose\n")
        for name in sorted(PURPOSE):
            data = open(os.path.join(OUT, name), "rb").read()
            f.write(f"{name}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{PURPOSE[name]}\n")


if __name__ == "__main__":
    main()
