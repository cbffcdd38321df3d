#!/usr/bin/env python3
"""Expected values of the v2 engine's survival C-index: scikit-survival's concordance_index_censored (the
function the original v2 engine calls, tied_tol=1e-8) on random cases with tied times, tied risks and
censoring, plus the risk = -sum(cumprod(1 - sigmoid(z))) of the v2 engine for given logits (float32, as torch).

Needs scikit-survival (a virtual environment of your own). Writes tests/fixtures/metrics/cindex_sksurv.json,
which test_v2_engine_metrics reads; CI never runs this script.
Usage: python gen_v2_engine_cindex.py [OUT_JSON]
"""
import json
import os
import sys

import numpy as np
from sksurv.metrics import concordance_index_censored


def case(rng, name, n, time_levels, risk_levels, censor_p):
    time = rng.integers(1, time_levels + 1, n).astype(np.float64) * 2.5
    event = rng.random(n) >= censor_p
    event[0] = True  # at least one event
    # risks from a few levels (exact ties) plus sub-tolerance jitter on some (ties within 1e-8)
    risk = rng.integers(0, risk_levels, n).astype(np.float64) * 0.25
    jitter = rng.random(n) < 0.2
    risk[jitter] += 4e-9
    c, conc, disc, tied_risk, tied_time = concordance_index_censored(event, time, risk, tied_tol=1e-8)
    return {"name": name, "event": event.astype(int).tolist(), "time": time.tolist(), "risk": risk.tolist(),
            "cindex": float(c), "concordant": int(conc), "discordant": int(disc), "tied_risk": int(tied_risk),
            "tied_time": int(tied_time)}


def risk_case(rng, n, bins=4):
    z = rng.normal(0, 1.5, (n, bins)).astype(np.float32)
    h = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
    s = np.cumprod(1.0 - h, axis=1, dtype=np.float32)
    return {"logits": z.astype(float).ravel().tolist(), "bins": bins,
            "risk": (-np.sum(s, axis=1, dtype=np.float32)).astype(float).tolist()}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "fixtures", "metrics", "cindex_sksurv.json")
    rng = np.random.default_rng(20250811)
    cases = [case(rng, "small ties", 12, 4, 3, 0.4), case(rng, "medium", 60, 15, 8, 0.5),
             case(rng, "heavy censoring", 80, 10, 5, 0.8), case(rng, "few levels", 40, 3, 2, 0.3),
             case(rng, "continuous-ish", 120, 200, 400, 0.45)]
    with open(out, "w") as f:
        json.dump({"generator": "tests/reference/gen_v2_engine_cindex.py (scikit-survival "
                   + __import__("sksurv").__version__ + ")", "cindex": cases, "risk": risk_case(rng, 10)}, f,
                  indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
