#!/usr/bin/python3
"""Fits the coefficients of mhim_fast_gelu_grad (src/ops/fastmath.h) and prints them as C float literals.

GELU'(x) = Φ(x) + x·φ(x) = 1/2 + x·R(x²), with R(w) = (erf(a/√2)/2 + a·φ(a))/a (a = √w) even in x. R is fitted as
P(w)/Q(w) (degrees 7 and 6, Q(0) = 1) on |x| ≤ 6.1 for the smallest maximum of the absolute error a·(P/Q − R):
Lawson iterations on the linearised problem a·P − h·Q (h = a·R) over Chebyshev and uniform nodes, with the
polynomials in a Chebyshev basis of the scaled variable and the last Q as a divisor (Loeb's linearisation); the
best iterate is converted to monomials in w, normalised to Q(0) = 1 and rounded to float. The script prints the
maximum error in exact arithmetic and with the float coefficients (6.2e-9 and 1.4e-8); the float evaluation is
checked by tests/unit/test_fastmath.c (3e-7 in every ISA copy).

Usage: python3 tests/reference/fit_gelu_grad.py   (numpy; about a second)
Deterministic on one machine; the committed coefficients came from numpy 2.4.6 here (a different BLAS can move the
last bit of a coefficient, which the accuracy test would still judge).
"""
import math

import numpy as np

DEG_P, DEG_Q, CUT = 7, 6, 6.1


def target(a):
    """h(a) = GELU'(a) − 1/2 = erf(a/√2)/2 + a·φ(a), in double."""
    return np.array([math.erf(t / math.sqrt(2)) / 2 + t * math.exp(-t * t / 2) / math.sqrt(2 * math.pi) for t in a])


def cheb_basis(s, degree):
    return np.stack([np.polynomial.chebyshev.chebval(s, np.eye(degree + 1)[k]) for k in range(degree + 1)], 1)


def to_monomials(coef, scale):
    """Chebyshev coefficients in s = scale·w − 1 to monomial coefficients in w."""
    in_s = np.polynomial.chebyshev.cheb2poly(coef)
    out = np.zeros(len(in_s))
    for k, c in enumerate(in_s):
        term = np.polynomial.polynomial.polypow([-1.0, scale], k)
        out[: len(term)] += c * term
    return out


def fit():
    m = 4000
    nodes = CUT * (1 - np.cos(np.pi * (np.arange(m) + 0.5) / m)) / 2
    a = np.sort(np.concatenate([nodes, np.linspace(0, CUT, m)]))
    a = a[a > 1e-6]
    h = target(a)
    scale = 2 / (CUT * CUT)
    s = a * a / (CUT * CUT) * 2 - 1
    bp, bq = cheb_basis(s, DEG_P), cheb_basis(s, DEG_Q)
    q_prev, weights, best = np.ones_like(a), np.ones_like(a) / len(a), None
    for _ in range(400):
        lhs = np.hstack([a[:, None] * bp, -h[:, None] * bq[:, 1:]])
        rhs = h * bq[:, 0]
        w = np.sqrt(weights) / np.abs(q_prev)
        sol = np.linalg.lstsq(lhs * w[:, None], rhs * w, rcond=None)[0]
        p, q = sol[: DEG_P + 1], np.concatenate([[1.0], sol[DEG_P + 1 :]])
        q_val = bq @ q
        err = a * (bp @ p) / q_val - h
        worst = np.max(np.abs(err))
        if best is None or worst < best[0]:
            best = (worst, p.copy(), q.copy())
        weights = weights * np.abs(err)
        weights /= weights.sum()
        q_prev = 0.5 * q_prev + 0.5 * q_val
    _, p, q = best
    pm, qm = to_monomials(p, scale), to_monomials(q, scale)
    return pm / qm[0], qm / qm[0]


def c_float(v):
    mant, exp = float(np.float32(v)).hex().split("p")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}f"


def main():
    pm, qm = fit()
    a = np.sqrt(np.linspace(0, CUT * CUT, 200001)[1:])
    h = target(a)
    w = a * a
    exact = np.max(np.abs(a * np.polyval(pm[::-1], w) / np.polyval(qm[::-1], w) - h))
    pf, qf = (c.astype(np.float32).astype(np.float64) for c in (pm, qm))
    rounded = np.max(np.abs(a * np.polyval(pf[::-1], w) / np.polyval(qf[::-1], w) - h))
    print(f"max |error| on |x| <= {CUT}: {exact:.3g} exact, {rounded:.3g} with float coefficients; "
          f"min Q {np.min(np.polyval(qf[::-1], w)):.6f}")
    print("P:", ", ".join(c_float(v) for v in pm))
    print("Q:", ", ".join(c_float(v) for v in qm))


if __name__ == "__main__":
    main()
