#!/usr/bin/python3
"""Writes the expected outputs of MHIM hard-instance masking to tests/fixtures/mask/, from real CPython sets,
numpy float64 arithmetic and torch.topk (restating the original select() of spec v1 §4.3 in torch calls).

Usage: /usr/bin/python3 tests/reference/gen_mask_reference.py

Inputs are regenerated bit for bit by tests/unit/test_kept_order.c and test_mask_reference.c from a splitmix64
stream (below, mirrored in tests/unit/test_mask_fixture.h), so the fixtures hold only seeds and results:
  kept_order.txt  `kind n m seed len_keep fnv1a64 n_listed ids...`: list(set(range(n)) - set(M)) in CPython's order
                  for masked sets M of kind random (first m of a shuffle), prefix, suffix, stride; ids = the whole
                  list when len_keep <= 300, else its first 50 (fnv1a64 of the uint32 little-endian values always).
  sizes.txt       `n ratio ratio_l ratio_h ratio_hr n_random n_low n_high_candidates n_high`: part sizes with the
                  original's float64 ceil arithmetic (ratios printed with repr, i.e. exactly).
  select.txt      `name n heads levels seed ratio_l ratio_h fusion len_keep n_low n_high_candidates n_high
                  n_masked | masked ids ascending | kept ids in CPython order` for deterministic cases (no random
                  part, rho = 1). Scores: head h = a splitmix64 permutation p of range(n) (seed 1000·seed + h) mapped
                  to float32((p+1)/(n+1)), or with `levels` > 0 to float32(floor(p·levels/n)/levels) (ties).
                  Expected sets use the documented tie rule (lower index first). Each part is checked here against
                  torch.topk: the same set when no tie sits at the k-th rank, else the same size and every member
                  ranked above the tie.
"""
import math
import os
import random

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "fixtures", "mask")
M64 = (1 << 64) - 1


# ---- shared input generator (mirrored in C) ---------------------------------------------------------------------
class SplitMix64:
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def shuffled(n, seed):
    """Fisher–Yates from the top: j = next() % (i + 1)."""
    g = SplitMix64(seed)
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = g.next() % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def masked_set(kind, n, m, seed):
    if kind == "random":
        return shuffled(n, seed)[:m]
    if kind == "prefix":
        return list(range(m))
    if kind == "suffix":
        return list(range(n - m, n))
    if kind == "stride":  # every seed-th instance starting at 0 (m = its count)
        return list(range(0, n, seed))
    raise ValueError(kind)


def scores(n, heads, levels, seed):
    rows = []
    for h in range(heads):
        p = shuffled(n, 1000 * seed + h)
        if levels > 0:
            rows.append([np.float32(math.floor(v * levels / n) / levels) for v in p])
        else:
            rows.append([np.float32((v + 1) / (n + 1)) for v in p])
    return np.array(rows, dtype=np.float32)


def fnv1a64(values):
    h = 0xCBF29CE484222325
    for v in values:
        for b in int(v).to_bytes(4, "little"):
            h = ((h ^ b) * 0x100000001B3) & M64
    return h


# ---- the original's arithmetic ----------------------------------------------------------------------------------
def part_sizes(n, ratio, rr):
    """(ranked candidates, chosen) of one select() call (mean fusion aside)."""
    r = ratio / rr
    if r > 1:
        rr, r = ratio, 1.0
    k = int(np.ceil(n * r))
    return k, (int(np.ceil(k * rr)) if rr < 1.0 else k)


def torch_select(att, largest, ratio, fusion):
    """One part of select() with rr = 1 restated with torch calls: att is (1, n) or (1, H, n); the union of parts
    is a plain set union (torch.cat(...).unique() in the original)."""
    n = att.shape[-1]
    k = int(np.ceil(n * ratio))
    if att.dim() == 3:
        if fusion == "mean":
            idx = torch.unique(torch.topk(att, int(np.ceil(n * ratio) // att.shape[1]), largest=largest)[1].flatten())
        else:
            marks = torch.zeros_like(att).scatter_(2, torch.topk(att, k, largest=largest, sorted=False)[1], 1)
            idx = torch.topk(marks.sum(dim=1), k, sorted=False)[1][0]
    else:
        idx = torch.topk(att, k, largest=largest)[1][0]
    return idx


def ranked(row, largest):
    """Indices by score (largest or smallest first), ties lower index first."""
    key = -row.astype(np.float64) if largest else row.astype(np.float64)
    return np.argsort(key, kind="stable")


def rule_select(att, largest, ratio, fusion):
    """The same select() with the documented deterministic tie rule. Returns (set, tied, sure): tied = the k-th
    and (k+1)-th ranks tie (torch may pick other members), sure = the members that rank strictly above that tie."""
    heads, n = att.shape
    k = int(np.ceil(n * ratio))
    if heads > 1 and fusion == "mean":
        kh = k // heads
        chosen = set(int(i) for h in range(heads) for i in ranked(att[h], largest)[:kh])
        return chosen, False, chosen
    if heads == 1:
        order = ranked(att[0], largest)
        key = att[0]
        head_tied = False
    else:
        votes = np.zeros(n, dtype=np.int64)
        head_tied = False
        for h in range(heads):
            order = ranked(att[h], largest)
            head_tied |= bool(k < n and att[h][order[k - 1]] == att[h][order[k]])
            votes[order[:k]] += 1
        order = np.argsort(-votes, kind="stable")
        key = votes
    chosen = set(int(i) for i in order[:k])
    if k == n or (key[order[k - 1]] != key[order[k]] and not head_tied):
        return chosen, False, chosen
    if head_tied:
        return chosen, True, set()
    sure = set(int(i) for i in order[:k] if key[i] != key[order[k - 1]])
    return chosen, True, sure


def select_case(name, n, heads, levels, seed, ratio_l, ratio_h, fusion):
    att = scores(n, heads, levels, seed)
    t_att = torch.from_numpy(att).unsqueeze(0) if heads > 1 else torch.from_numpy(att)
    masked, n_low, n_high = set(), 0, 0
    for ratio, largest in ((ratio_l, False), (ratio_h, True)):
        if ratio <= 0:
            continue
        part, tied, sure = rule_select(att, largest, ratio, fusion)
        t_part = set(torch_select(t_att, largest, ratio, fusion).tolist())
        if tied:  # torch's tie order is unspecified: same size, and it holds every member above the tie
            assert len(t_part) == len(part) and sure <= t_part, name
        else:
            assert t_part == part, f"{name}: torch {sorted(t_part)} vs {sorted(part)}"
        print(f"{name} {'high' if largest else 'low'}: {len(part)} ids, " +
              (f"tie at the k-th rank, {len(sure)} above it match torch" if tied else "same set as torch.topk"))
        if largest:
            n_high = len(part)
        else:
            n_low = len(part)
        masked |= part
    assert len(masked) < n, f"{name}: the guard case is tested by hand"
    kept = list(set(range(n)) - set(masked))  # the original's order
    head = (f"{name} {n} {heads} {levels} {seed} {ratio_l!r} {ratio_h!r} {fusion} {n - len(masked)} {n_low} "
            f"{n_high} {n_high} {len(masked)}")
    return head + " | " + " ".join(map(str, sorted(masked))) + " | " + " ".join(map(str, kept))


def kept_order_line(kind, n, m, seed):
    masked = masked_set(kind, n, m, seed)
    kept = list(set(range(n)) - set(masked))
    listed = kept if len(kept) <= 300 else kept[:50]
    return f"{kind} {n} {len(masked)} {seed} {len(kept)} {fnv1a64(kept):016x} {len(listed)} " + " ".join(
        map(str, listed))


def main():
    os.makedirs(OUT, exist_ok=True)
    rnd = random.Random(20240605)

    lines = []
    for n in (1, 2, 3, 4, 5, 7, 8, 9, 10, 16, 17, 31, 64, 100, 257, 1000):
        for m in sorted({0, 1, n // 4, n // 4 + 1, n // 2, n - 1, n} - {-1}):
            if 0 <= m <= n:
                lines.append(kept_order_line("random", n, m, n * 31 + m))
    for n, frac in ((15702, 0.83), (15702, 0.5), (8193, 0.75), (8192, 0.3), (9000, 0.5), (20000, 0.9),
                    (40000, 0.6), (100000, 0.5), (100000, 0.2), (70000, 0.3), (16384, 0.26), (12000, 0.99),
                    (1000000, 0.88)):  # > 50000 kept: the table grows by 2x, not 4x
        lines.append(kept_order_line("random", n, int(n * frac), n + int(frac * 1000)))
    for _ in range(60):
        n = rnd.choice((rnd.randint(1, 300), rnd.randint(300, 5000), rnd.randint(8193, 60000)))
        lines.append(kept_order_line("random", n, rnd.randint(0, n), rnd.randint(1, 1 << 40)))
    for n in (10, 100, 5000, 15702, 60000):
        for kind in ("prefix", "suffix"):
            for m in (n // 4, n // 2, n - 3):
                lines.append(kept_order_line(kind, n, m, 0))
        for stride in (2, 3, 4):
            lines.append(kept_order_line("stride", n, len(range(0, n, stride)), stride))
    with open(os.path.join(OUT, "kept_order.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    lines = []
    size_cases = [(100, 0.0, 0.0, 0.07, 1.0), (100, 0.7, 0.2, 0.02, 1.0), (15702, 0.5, 0.0, 0.01, 0.5),
                  (15702, 0.0, 0.8, 0.03, 0.5), (10, 0.0005, 0.0, 0.3, 0.3), (10, 0.001, 0.0, 0.29, 0.7),
                  (1, 0.5, 0.5, 0.5, 0.5), (17, 0.1, 0.3, 0.05, 0.01), (3, 1.0, 1.0, 1.0, 1.0)]
    for _ in range(200):
        size_cases.append((rnd.randint(1, 100000), rnd.choice((0.0, rnd.random(), round(rnd.random(), 2))),
                           rnd.choice((0.0, round(rnd.random(), 2))), rnd.choice((0.0, round(rnd.random(), 3))),
                           rnd.choice((1.0, 0.5, round(rnd.random(), 2) or 0.01))))
    for n, r, rl, rh, rho in size_cases:
        n_random = part_sizes(n, r, 0.001)[1] if r > 0 else 0
        n_low = part_sizes(n, rl, 1.0)[1] if rl > 0 else 0
        n_cand, n_high = part_sizes(n, rh, rho) if rh > 0 else (0, 0)
        lines.append(f"{n} {r!r} {rl!r} {rh!r} {rho!r} {n_random} {n_low} {n_cand} {n_high}")
    with open(os.path.join(OUT, "sizes.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    cases = [("abmil_low_high", 100, 1, 0, 1, 0.2, 0.07, "vote"),
             ("abmil_high", 257, 1, 0, 2, 0.0, 0.03, "vote"),
             ("abmil_ties", 100, 1, 7, 3, 0.25, 0.1, "vote"),
             ("abmil_heavy", 500, 1, 0, 4, 0.8, 0.03, "vote"),
             ("trans_vote", 100, 8, 0, 5, 0.3, 0.05, "vote"),
             ("trans_vote_heavy", 400, 8, 0, 6, 0.8, 0.03, "vote"),
             ("trans_vote_h2", 97, 2, 0, 7, 0.2, 0.1, "vote"),
             ("trans_vote_ties", 60, 4, 3, 8, 0.3, 0.1, "vote"),
             ("trans_mean", 100, 8, 0, 9, 0.3, 0.2, "mean"),
             ("trans_mean_small_k", 40, 8, 0, 10, 0.1, 0.05, "mean"),
             ("dsmil_large", 3000, 1, 0, 11, 0.5, 0.02, "vote"),
             ("single_low", 10, 1, 0, 12, 0.1, 0.0, "vote")]
    lines = [select_case(*c) for c in cases]
    with open(os.path.join(OUT, "select.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
