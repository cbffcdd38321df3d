#!/usr/bin/env python3
"""Helpers of bench_train_original.sh and accuracy_original.sh (run with the reference Python: torch, h5py).

  to_pt COHORT OUT     the `mhim synth` cohort COHORT (h5_files/, label.csv) in the original v1 C16 layout:
                       OUT/pt/<slide>.pt (torch.save of the float32 (N, D) tensor) and OUT/label.csv
  flops COHORT SPLITS FOLD BASELINE MODEL KEPT
                       GEMM FLOPs of one training epoch of fold FOLD: per training bag one student forward +
                       backward on KEPT x N instances (KEPT = kept share, 1 for pure) plus, for MODEL=mhim, one teacher
                       forward on all N; per validation bag one forward of each model validated (the student; for
                       MODEL=mhim also the teacher, as both programs validate it every epoch). SPLITS = `mhim splits
                       --format csv` output. The per-step count is the one of bench/bench_models.c (forward +
                       backward = 3x forward, the first layer 2x: it has no input gradient); a forward alone counts
                       the first layer once and the rest once.
  mil_to_pt SET OUT    a MIL benchmark folder SET (h5_files/, labels.csv with header ID,label) z-scored with the
                       mean/std over all its instances, in the original's C16 layout: OUT/pt/<id>.pt and
                       OUT/label.csv without header (the original reads every line as a case); prints the width D
  mil_to_pt_v2 SET OUT the same z-scored bags in the original v2 layout: OUT/pt_files/<id>.pt and OUT/label.csv
                       with the header ID,Label (v2 reads the CSV with pandas: a headerless file would lose its first
                       case); prints the width D
  v2_splits ORIG CSV SEED CV_FOLD VAL_RATIO
                       the folds the original v2 main.py (checkout ORIG) builds from the label CSV, computed with its
                       own get_patient_label / DataFrame.sample / get_kfold calls: `fold,set,case_id` lines (set =
                       train, val or test; val = test when VAL_RATIO is 0), sorted, as `mhim splits --format csv`
                       prints them after `cut -d, -f1-3 | sort`
  original_v2_test JSONL
                       the mean over folds of the original v2 test metrics that its --wandb logging recorded (the wandb
                       stub of original_v2_stubs.sh writes one JSON line per log call): "acc auc teacher_acc
                       teacher_auc" (the teacher pair `nan` for a run without teacher)
  val_auc_curve FILE EPOCHS
                       the mean over folds of the validation AUC of epochs 0..EPOCHS-1, space-separated: FILE is an
                       original v2 --wandb record (as original_v2_test) or an mhim metrics.jsonl
  consistency_curve FILE ALPHA EPOCH...
                       the mean over folds of the stage-2 consistency (aux) loss of each EPOCH, space-separated: FILE is
                       an original v2 --wandb record (its epoch row logs aux_alpha times the epoch mean: divided by
                       ALPHA here) or an mhim metrics.jsonl (cl_loss)
  h5_to_pt H5 PT       the /model group of an mhim checkpoint saved as a torch state dict (what the original's
                       --teacher_init reads)
  accuracy_table ROWS [ACC]
                       the Markdown table of accuracy_original.sh / accuracy_original_v2.sh from its rows (model, seed,
                       original accuracy and AUC, mhim accuracy and AUC), with the mean over seeds and its standard
                       error; ACC names the accuracy column (default "accuracy")
"""
import csv
import math
import os
import sys

import h5py

D_IN_DEFAULT, DIM, C = 1024, 512.0, 2.0


def to_pt(cohort, out):
    import torch
    os.makedirs(os.path.join(out, "pt"), exist_ok=True)
    src = os.path.join(cohort, "h5_files")
    for name in sorted(os.listdir(src)):
        if name.endswith(".h5"):
            with h5py.File(os.path.join(src, name), "r") as f:
                torch.save(torch.from_numpy(f["features"][:]), os.path.join(out, "pt", name[:-3] + ".pt"))
    with open(os.path.join(cohort, "label.csv")) as fi, open(os.path.join(out, "label.csv"), "w") as fo:
        fo.write(fi.read())


def gemm_flops(baseline, n, d_in, backward, heads=8):
    """GEMM FLOPs of one forward on n instances, plus its backward when `backward` (bench_models.c gemm_flops, with
    D_in = d_in): the first layer's backward is the weight gradient only (1x its forward), the rest 2x. TransMIL's
    Nyström output as mhim associates it, a1 · (pinv · (a3 · v)): the original's (a1 · pinv) · (a3 · v) needs
    2·npad·m·m instead of 2·m·m·64 per head and layer; and as mhim computes it, the second layer's q, a1, output
    and to_out for its cls row only, its landmark queries projected from the segment means of its input (every
    forward of mhim: training, teacher, evaluation)."""
    embed = 2 * n * d_in * DIM
    if baseline == "attn":
        rest = 2 * n * DIM * 128 + 2 * n * 128 + 2 * n * DIM + 2 * DIM * C
    elif baseline == "dsmil":
        rest = (2 * n * DIM * C + 2 * n * DIM * 128 + 2 * n * 128 * 128 + 2 * n * DIM * DIM +
                2 * n * 128 * C + 2 * n * C * DIM + 2 * C * C * DIM)
    else:
        m, inner = 256.0, 64.0 * heads
        npad = m * math.ceil((n + 1) / m)

        def layer(r):  # r: the query rows whose q, a1, output and to_out are computed
            qkv = 3 * npad if r == npad else 2 * npad + r + m  # else: k, v of every row, q of r rows + landmarks
            f = 2 * qkv * DIM * inner + 2 * r * inner * DIM
            f += heads * (2 * r * m * 64 + 2 * m * m * 64 + 2 * m * npad * 64)
            return f + heads * (6 * 8 * m * m * m + 2 * m * m * 64 + 2 * m * npad * 64 + 2 * r * m * 64)
        rest = layer(npad) + layer(1) + 2 * DIM * C
    return 2 * embed + 3 * rest if backward else embed + rest


def flops(cohort, splits, fold, baseline, model, kept):
    sizes, d_in = {}, D_IN_DEFAULT
    src = os.path.join(cohort, "h5_files")
    for name in os.listdir(src):
        with h5py.File(os.path.join(src, name), "r") as f:
            sizes[name[:-3]] = f["features"].shape[0]
            d_in = f["features"].shape[1]
    train, val = [], []
    with open(splits) as f:
        for row in csv.DictReader(f):
            if int(row["fold"]) != fold:
                continue
            if row["set"] == "train":
                train.append(row["case_id"])
            elif row["set"] in ("val", "test"):
                val.append(row["case_id"])
    models_validated = 2 if model == "mhim" else 1
    total = 0.0
    for case in train:
        n = sizes[case]
        total += gemm_flops(baseline, max(1, round(kept * n)), d_in, backward=True)
        if model == "mhim":
            total += gemm_flops(baseline, n, d_in, backward=False)
    for case in set(val):
        total += models_validated * gemm_flops(baseline, sizes[case], d_in, backward=False)
    print(f"{total:.6e}")


def mil_to_pt(set_dir, out, feature_dir="pt", header=""):
    import numpy
    import torch
    with open(os.path.join(set_dir, "labels.csv")) as f:
        rows = [(r["ID"], r["label"]) for r in csv.DictReader(f)]
    feats = {}
    for case, _ in rows:
        with h5py.File(os.path.join(set_dir, "h5_files", case + ".h5"), "r") as f:
            feats[case] = f["features"][:].astype(numpy.float64)
    allx = numpy.concatenate(list(feats.values()))
    mean, std = allx.mean(axis=0), allx.std(axis=0)
    std[std == 0] = 1.0
    os.makedirs(os.path.join(out, feature_dir), exist_ok=True)
    for case, x in feats.items():
        z = torch.from_numpy(((x - mean) / std).astype(numpy.float32))
        torch.save(z, os.path.join(out, feature_dir, case + ".pt"))
    with open(os.path.join(out, "label.csv"), "w") as f:
        f.write(header)
        f.writelines(f"{case},{label}\n" for case, label in rows)
    print(allx.shape[1])


def v2_splits(orig, csv_path, seed, cv_fold, val_ratio):
    import types
    sys.path.insert(0, orig)
    from datasets.data_utils import get_kfold, get_patient_label
    args = types.SimpleNamespace(seed=seed, val2test=False, rank=0, val_ratio=val_ratio)
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            df = get_patient_label(args, csv_path).sample(frac=1, random_state=seed).reset_index(drop=True)
            train, test, val = get_kfold(args, cv_fold, df, val_ratio=val_ratio)
        finally:
            sys.stdout = stdout
    lines = []
    for k in range(cv_fold):
        for name, part in (("train", train[k]), ("val", val[k] if val_ratio != 0 else test[k]), ("test", test[k])):
            lines += [f"{k},{name},{case}" for case in part["ID"]]
    print("\n".join(sorted(lines)))


def original_v2_test(jsonl):
    import json
    rows = [json.loads(line) for line in open(jsonl) if line.strip()]
    tests = [r for r in rows if "test_acc" in r]
    if not tests:
        sys.exit(f"{jsonl}: no test metrics recorded (did the original run finish, with --wandb?)")

    def mean(key):
        values = [float(r.get(key, "nan")) for r in tests]
        return sum(values) / len(values)
    print(" ".join(f"{mean(k):.6f}" for k in ("test_acc", "test_auc", "test_ema_acc", "test_ema_auc")))


def val_auc_curve(path, epochs):
    import json
    by_epoch = {}
    for line in open(path):
        row = json.loads(line) if line.strip() else {}
        if "fold" in row and "val_auc" in row:  # mhim metrics.jsonl: one line per (fold, epoch)
            by_epoch.setdefault(int(row["epoch"]), []).append(float(row["val_auc"]))
            continue
        keys = [k for k in row if k.endswith("-fold/val_auc")]  # the original: "<fold>-fold/val_*" per epoch
        if keys:
            prefix = keys[0][: -len("val_auc")]
            by_epoch.setdefault(int(row[prefix + "val_epoch"]), []).append(float(row[keys[0]]))
    means = [sum(by_epoch[e]) / len(by_epoch[e]) if by_epoch.get(e) else float("nan") for e in range(epochs)]
    print(" ".join(f"{m:.3f}" for m in means))


def consistency_curve(path, alpha, epochs):
    import json
    by_epoch, last = {}, {}
    for line in open(path):
        row = json.loads(line) if line.strip() else {}
        if "fold" in row and "cl_loss" in row and "val_auc" in row:  # mhim metrics.jsonl: one line per (fold, epoch)
            by_epoch.setdefault(int(row["epoch"]), []).append(float(row["cl_loss"]))
            continue
        for key, value in row.items():  # the original: a train row "<fold>-fold/aux_loss", then "<fold>-fold/val_*"
            fold = key.split("-fold/")[0]
            if key.endswith("-fold/aux_loss"):
                last[fold] = float(value) / alpha
            elif key.endswith("-fold/val_epoch") and fold in last:
                by_epoch.setdefault(int(value), []).append(last[fold])
    means = [sum(by_epoch[e]) / len(by_epoch[e]) if by_epoch.get(e) else float("nan") for e in epochs]
    print(" ".join(f"{m:.3f}" for m in means))


def h5_to_pt(h5_path, pt_path):
    import numpy
    import torch
    with h5py.File(h5_path, "r") as f:
        state = {key: torch.tensor(numpy.array(value)) for key, value in f["model"].items()}
    torch.save(state, pt_path)


def accuracy_table(rows_path, acc_name="accuracy"):
    rows = [line.rstrip("\n").split("\t") for line in open(rows_path) if line.strip()]
    print(f"| model | seed | original {acc_name} | mhim {acc_name} | original AUC | mhim AUC |")
    print("|---|---|---|---|---|---|")
    for m, seed, oa, ou, ma, mu in rows:
        print(f"| {m} | {seed} | {float(oa):.3f} | {float(ma):.3f} | {float(ou):.3f} | {float(mu):.3f} |")
    for model in sorted({r[0] for r in rows}, reverse=True):
        cols = [[float(r[i]) for r in rows if r[0] == model] for i in (2, 4, 3, 5)]
        k = len(cols[0])

        def ms(v):
            mean = sum(v) / k
            if k < 2:
                return f"{mean:.3f}"
            return f"{mean:.3f} ± {math.sqrt(sum((x - mean) ** 2 for x in v) / (k - 1) / k):.3f}"
        print(f"| {model} | mean ± se over {k} seeds | {ms(cols[0])} | {ms(cols[1])} | {ms(cols[2])} | {ms(cols[3])} |")


def main(argv):
    if len(argv) == 3 and argv[0] == "mil_to_pt":
        return mil_to_pt(argv[1], argv[2])
    if len(argv) == 3 and argv[0] == "mil_to_pt_v2":
        return mil_to_pt(argv[1], argv[2], feature_dir="pt_files", header="ID,Label\n")
    if len(argv) == 6 and argv[0] == "v2_splits":
        return v2_splits(argv[1], argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    if len(argv) == 2 and argv[0] == "original_v2_test":
        return original_v2_test(argv[1])
    if len(argv) == 3 and argv[0] == "val_auc_curve":
        return val_auc_curve(argv[1], int(argv[2]))
    if len(argv) >= 4 and argv[0] == "consistency_curve":
        return consistency_curve(argv[1], float(argv[2]), [int(e) for e in argv[3:]])
    if len(argv) == 3 and argv[0] == "h5_to_pt":
        return h5_to_pt(argv[1], argv[2])
    if len(argv) in (2, 3) and argv[0] == "accuracy_table":
        return accuracy_table(*argv[1:])
    if len(argv) == 3 and argv[0] == "to_pt":
        return to_pt(argv[1], argv[2])
    if len(argv) == 7 and argv[0] == "flops":
        return flops(argv[1], argv[2], int(argv[3]), argv[4], argv[5], float(argv[6]))
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
