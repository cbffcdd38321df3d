#!/usr/bin/python3
"""Writes the expected metric values used by tests/unit/test_metrics_*.c to
tests/fixtures/metrics/reference.json, computed with scikit-learn and numpy (never by our C code).

Usage: /usr/bin/python3 tests/reference/gen_metrics_reference.py

What each section holds (all random cases come from a fixed numpy seed, so reruns are identical):
  v1         five_scores of the v1 program (utils.five_scores): sklearn roc_curve (drop_intermediate=True),
             roc_auc_score, the first argmin of (fpr - tpr) - 0 * tpr / (fpr + tpr + 1) as threshold,
             predictions by the two-step assignment of five_scores, precision_recall_fscore_support
             (average='binary', default zero_division) and accuracy_score; and the same at threshold 0.5.
  aggregate  np.mean and np.std (ddof=0) of float64 arrays, incl. values that expose the summation order.
  cls        v2 torchmetrics semantics (torchmetrics is not installed here, so the same definitions are
             evaluated with sklearn): macro recall (= torchmetrics macro "Acc"), macro precision/recall/F1
             over the classes present in labels or predictions (= torchmetrics' exclusion of classes with
             tp + fp + fn = 0), cohen_kappa_score, accuracy_score, and the mean over classes of the
             one-vs-rest roc_auc_score (0 for a class without positives or negatives, as torchmetrics).
             Softmax (binary mode: sigmoid) only when some value lies outside [0, 1].
  cindex     Harrell's concordance index by the O(n^2) definition that sksurv's
             concordance_index_censored documents (sksurv is not packaged for Debian).
  bootstrap  the metrics above on resamples drawn by a Python transcription of the C Philox streams
             (include/mhim/rng.h) keyed like mhim_bootstrap_indices; mean = np.mean, std = np.std(ddof=1).
"""
import json
import math
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, cohen_kappa_score, f1_score, precision_recall_fscore_support,
                             precision_score, recall_score, roc_auc_score, roc_curve)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "fixtures", "metrics", "reference.json")
warnings.filterwarnings("ignore")
rng = np.random.default_rng(20240605)


def num(x):
    """float for JSON; NaN becomes null (JSON has no NaN)."""
    x = float(x)
    return None if math.isnan(x) else x


# ---- v1: utils.five_scores -------------------------------------------------------------------
def five_scores(labels, scores, threshold=None):
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if threshold is None:
        fpr, tpr, thr = roc_curve(y, s, pos_label=1)
        p = 0
        threshold = thr[np.argmin((fpr - tpr) - p * tpr / (fpr + tpr + 1), axis=0)]
    auc = roc_auc_score(y, s)
    pred = s.copy()
    pred[pred >= threshold] = 1
    pred[pred < threshold] = 0
    precision, recall, fscore, _ = precision_recall_fscore_support(y, pred, average="binary")
    accuracy = accuracy_score(y, pred)
    return {"accuracy": num(accuracy), "auc": num(auc), "precision": num(precision), "recall": num(recall),
            "fscore": num(fscore), "threshold": num(threshold), "tp": int(np.sum((pred == 1) & (y == 1))),
            "fp": int(np.sum((pred == 1) & (y == 0)))}


def v1_case(name, labels, scores):
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    fpr, tpr, thr = roc_curve(y, s, pos_label=1)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    return {"name": name, "labels": y.tolist(), "scores": s.tolist(),
            "roc_fps": [int(round(v * n_neg)) for v in fpr], "roc_tps": [int(round(v * n_pos)) for v in tpr],
            "roc_thresholds": [float(v) for v in thr],
            "youden": five_scores(y, s), "half": five_scores(y, s, 0.5)}


def v1_scores(style, n):
    if style == "continuous":
        return np.round(rng.random(n), 6)
    if style == "float32":
        return rng.random(n).astype(np.float32).astype(np.float64)
    if style == "coarse":
        return np.round(rng.random(n), 1)
    if style == "few":
        return rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=n)
    if style == "extremes":
        return rng.choice([0.0, 1.0, 0.5, 0.999999, 1e-7], size=n)
    raise ValueError(style)


def v1_cases():
    cases = [
        v1_case("two_points", [0, 1], [0.2, 0.8]),
        v1_case("two_points_inverted", [1, 0], [0.2, 0.8]),
        v1_case("all_scores_equal", [0, 1, 1, 0, 1], [0.5] * 5),
        v1_case("perfect", [0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]),
        v1_case("inverted", [1, 1, 1, 0, 0, 0], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]),
        v1_case("youden_tie_highest_wins", [1, 0, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]),
        v1_case("threshold_half_boundary", [0, 1, 1, 0], [0.5, 0.5, 0.49999999, 0.50000001]),
        v1_case("one_positive", [0] * 9 + [1], list(np.round(np.linspace(0.05, 0.95, 10), 2))),
        v1_case("zero_and_one", [0, 0, 1, 1, 0, 1], [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]),
    ]
    styles = ["continuous", "float32", "coarse", "few", "extremes"]
    for k in range(150):
        style = styles[k % len(styles)]
        n = int(rng.integers(2, 81))
        p = rng.uniform(0.1, 0.9)
        y = (rng.random(n) < p).astype(np.int64)
        y[0], y[-1] = 0, 1  # both classes
        y = rng.permutation(y)
        s = v1_scores(style, n)
        if k % 7 == 3:  # informative scores: shift positives up
            s = np.clip(np.round(s + 0.3 * y, 6), 0.0, 1.0)
        cases.append(v1_case("random_%03d_%s" % (k, style), y, s))
    return cases


# ---- aggregation: np.mean / np.std -------------------------------------------------------------
def aggregate_cases():
    out = []
    sizes = [1, 2, 3, 5, 7, 8, 9, 10, 15, 16, 17, 31, 100, 127, 128, 129, 130, 200, 257, 300]
    for k, n in enumerate(sizes * 2):
        if k < len(sizes):
            x = rng.random(n)
        else:  # mixed magnitudes: the summation order shows in the last bits
            x = rng.choice([1e16, -1e16, 1.0, 3.0, 0.1, 1e-3], size=n) * rng.random(n)
        out.append({"values": x.tolist(), "mean": float(np.mean(x)), "std": float(np.std(x))})
    return out


# ---- v2: engines/metrics.py (torchmetrics semantics) --------------------------------------------
def softmax_rows(z):
    out = np.empty_like(z)
    for i, row in enumerate(z):
        m = max(row)
        e = [math.exp(v - m) for v in row]
        total = 0.0
        for v in e:
            total += v
        out[i] = [v / total for v in e]
    return out


def ovr_auc(y, p, c):
    yc = (y == c).astype(np.int64)
    if yc.sum() == 0 or yc.sum() == len(yc):
        return 0.0
    return roc_auc_score(yc, p[:, c])


def cls_metrics(labels, logits, mode):
    y = np.asarray(labels, dtype=np.int64)
    z = np.asarray(logits, dtype=np.float64)
    if mode == "binary":
        col = z[:, 1]
        p = np.array([1.0 / (1.0 + math.exp(-v)) for v in col]) if np.any((col < 0) | (col > 1)) else col.copy()
        pred = (p > 0.5).astype(np.int64)
        auc = 0.0 if y.sum() in (0, len(y)) else roc_auc_score(y, p)
        acc = accuracy_score(y, pred)
        return {"acc": num(acc), "auc": num(auc), "precision": num(precision_score(y, pred, zero_division=0)),
                "recall": num(recall_score(y, pred, zero_division=0)), "f1": num(f1_score(y, pred, zero_division=0)),
                "ck": num(cohen_kappa_score(y, pred)), "acc_micro": num(acc)}
    probs = softmax_rows(z) if np.any((z < 0) | (z > 1)) else z
    pred = np.argmax(z, axis=1)
    auc = float(np.mean([ovr_auc(y, probs, c) for c in range(z.shape[1])]))
    rec = recall_score(y, pred, average="macro", zero_division=0)
    return {"acc": num(rec), "auc": num(auc),
            "precision": num(precision_score(y, pred, average="macro", zero_division=0)), "recall": num(rec),
            "f1": num(f1_score(y, pred, average="macro", zero_division=0)), "ck": num(cohen_kappa_score(y, pred)),
            "acc_micro": num(accuracy_score(y, pred))}


def cls_case(name, labels, logits, n_classes):
    z = np.asarray(logits, dtype=np.float64)
    case = {"name": name, "n_classes": n_classes, "labels": [int(v) for v in labels],
            "logits": z.reshape(-1).tolist(), "macro": cls_metrics(labels, z, "macro")}
    if n_classes == 2:
        case["binary"] = cls_metrics(labels, z, "binary")
    return case


def cls_cases():
    cases = [
        cls_case("perfect_probs", [0, 1, 0, 1], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], 2),
        cls_case("absent_class", [0, 1, 0, 1, 1], [[2.0, 1.0, 0.5], [0.1, 3.0, 0.2], [0.3, 0.1, 2.5],
                                                 [1.0, 1.0, 1.0], [0.0, 0.5, 4.0]], 3),
        cls_case("one_class_only", [1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], 2),
        cls_case("argmax_ties_first", [0, 1, 2, 1], [[1.0, 1.0, 0.0], [0.5, 0.5, 0.5], [0.0, 2.0, 2.0],
                                                     [3.0, 3.0, 3.0]], 3),
    ]
    for k in range(60):
        c = [2, 2, 3, 4][k % 4]
        n = int(rng.integers(3, 60))
        y = rng.integers(0, c, size=n)
        if k % 3 == 0:
            z = np.round(rng.normal(size=(n, c)) + 1.5 * np.eye(c)[y], 4)  # logits
        elif k % 3 == 1:
            z = np.round(rng.dirichlet(np.ones(c), size=n), 4)  # probabilities (no softmax)
        else:
            z = np.round(rng.normal(size=(n, c)), 1)  # coarse logits: ties
        cases.append(cls_case("random_%03d_c%d" % (k, c), y, z, c))
    return cases


# ---- v2: concordance index (sksurv concordance_index_censored, by definition) -------------------
def cindex_reference(event, time, estimate, tied_tol=1e-8):
    n = len(time)
    if not any(event):
        return None
    conc = disc = tied_risk = tied_time = 0
    for i in range(n):
        if not event[i]:
            continue
        for j in range(n):
            if j == i:
                continue
            comparable = time[j] > time[i] or (time[j] == time[i] and not event[j])
            if not comparable:
                continue
            if time[j] == time[i]:
                tied_time += 1
            if abs(estimate[i] - estimate[j]) <= tied_tol:
                tied_risk += 1
            elif estimate[i] > estimate[j]:
                conc += 1
            else:
                disc += 1
    if conc + disc + tied_risk == 0:
        return None
    return {"cindex": (conc + 0.5 * tied_risk) / (conc + disc + tied_risk), "concordant": conc,
            "discordant": disc, "tied_risk": tied_risk, "tied_time": tied_time}


def cindex_case(name, event, time, estimate):
    ref = cindex_reference(event, time, estimate)
    assert ref is not None, name
    return dict({"name": name, "event": [int(v) for v in event], "time": [float(v) for v in time],
                 "estimate": [float(v) for v in estimate]}, **ref)


def cindex_cases():
    cases = [
        cindex_case("textbook", [1, 0, 1, 1, 0], [1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 3.0, 2.0, 1.0]),
        cindex_case("tied_times_event_vs_censored", [1, 0, 1, 1], [2.0, 2.0, 2.0, 3.0], [0.3, 0.2, 0.1, 0.0]),
        cindex_case("tied_risk_within_tol", [1, 1, 0], [1.0, 2.0, 3.0], [1.0, 1.0 + 5e-9, 1.0 + 2e-8]),
        cindex_case("tied_risk_exactly_tol", [1, 1, 0], [1.0, 2.0, 3.0], [0.0, 1e-8, 0.5]),
        cindex_case("all_events_same_time", [1, 1, 1, 0], [4.0, 4.0, 4.0, 4.0], [0.1, 0.2, 0.3, 0.4]),
    ]
    for k in range(60):
        n = int(rng.integers(2, 70))
        event = (rng.random(n) < rng.uniform(0.2, 0.9)).astype(np.int64)
        event[0] = 1
        event = rng.permutation(event)
        if k % 2 == 0:
            time = np.round(rng.exponential(20.0, size=n), 1)
        else:
            time = rng.integers(1, 8, size=n).astype(np.float64)  # many tied times
        if k % 3 == 0:
            est = rng.choice([-4.0, -3.0, -2.5, -1.0, 0.0], size=n)  # tied risks
        else:
            est = np.round(-rng.random(n) * 4.0, 5)
        if cindex_reference(event, time, est) is None:
            continue
        cases.append(cindex_case("random_%03d" % k, event, time, est))
    return cases


# ---- bootstrap: Philox4x32-10 streams (include/mhim/rng.h), transcribed ---------------------------
M32 = 0xFFFFFFFF
BOOTSTRAP_SEED_BASE = 7784414403328510413
RNG_PURPOSE_BOOTSTRAP = 9


def philox4x32(ctr, key, rounds=10):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(rounds):
        if r > 0:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
    return [c0, c1, c2, c3]


class Stream:
    def __init__(self, seed, epoch, bag, purpose, sub):
        self.key = [seed & M32, (seed >> 32) & M32]
        self.hi = (sub << 16) | (purpose << 24)
        self.bag, self.epoch, self.next = bag, epoch, 0

    def u32(self):
        i = self.next
        self.next += 1
        block = i >> 2
        return philox4x32([block & M32, ((block >> 32) | self.hi) & M32, self.bag, self.epoch], self.key)[i & 3]

    def below(self, n):
        threshold = ((1 << 32) - n) % n
        while True:
            x = self.u32()
            if x >= threshold:
                return x % n


def bootstrap_indices(fold, b, n):
    s = Stream((BOOTSTRAP_SEED_BASE + fold) & ((1 << 64) - 1), 0, b, RNG_PURPOSE_BOOTSTRAP, 0)
    return [s.below(n) for _ in range(n)]


def bootstrap_summary(values):
    v = np.asarray(values, dtype=np.float64)
    return {"mean": num(np.mean(v)), "std": num(np.std(v, ddof=1)) if len(v) > 1 else 0.0}


def bootstrap_cases():
    out = {"indices": [], "cls": [], "cindex": []}
    for fold, b, n in [(0, 0, 10), (0, 1, 10), (3, 7, 25), (4, 999, 1)]:
        out["indices"].append({"fold": fold, "b": b, "n": n, "idx": bootstrap_indices(fold, b, n)})
    mixed = [[0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.9, 0.1], [0.5, 0.5], [1.5, -0.5]]
    specs = [("small_mixed_range", [0, 1, 0, 1, 1, 0], mixed, 2, 1, 60)]
    for k, c in enumerate([2, 3]):
        n = 30
        y = rng.integers(0, c, size=n)
        z = np.round(rng.normal(size=(n, c)) + 1.0 * np.eye(c)[y], 3)
        specs.append(("random_c%d" % c, y, z, c, k + 2, 100))
    for name, y, z, c, fold, n_boot in specs:
        y = np.asarray(y, dtype=np.int64)
        z = np.asarray(z, dtype=np.float64)
        case = {"name": name, "n_classes": c, "fold": fold, "n_boot": n_boot, "labels": y.tolist(),
                "logits": z.reshape(-1).tolist()}
        for mode in (["macro", "binary"] if c == 2 else ["macro"]):
            per = [cls_metrics(y[idx], z[idx], mode)
                   for idx in (bootstrap_indices(fold, b, len(y)) for b in range(n_boot))]
            case[mode] = {k: bootstrap_summary([m[k] if m[k] is not None else math.nan for m in per])
                          for k in per[0]}
        out["cls"].append(case)
    n = 40
    event = (rng.random(n) < 0.6).astype(np.int64)
    time = np.round(rng.exponential(20.0, size=n), 1)
    est = np.round(-rng.random(n) * 4.0, 4)
    fold, n_boot = 1, 100
    vals = []
    for b in range(n_boot):
        idx = bootstrap_indices(fold, b, n)
        vals.append(cindex_reference(event[idx], time[idx], est[idx])["cindex"])
    out["cindex"].append(dict({"name": "random_40", "fold": fold, "n_boot": n_boot, "event": event.tolist(),
                               "time": time.tolist(), "estimate": est.tolist()}, **bootstrap_summary(vals)))
    return out


def main():
    ref = {"generator": "tests/reference/gen_metrics_reference.py", "sklearn": sklearn.__version__,
           "numpy": np.__version__, "v1": v1_cases(), "aggregate": aggregate_cases(), "cls": cls_cases(),
           "cindex": cindex_cases(), "bootstrap": bootstrap_cases()}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(ref, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote %s (%d v1, %d aggregate, %d cls, %d cindex cases)" % (
        OUT, len(ref["v1"]), len(ref["aggregate"]), len(ref["cls"]), len(ref["cindex"])))


if __name__ == "__main__":
    main()
