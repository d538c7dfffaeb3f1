"""Time lifetimes' fitters on CDNOW master (run inside ``build/lifetimes-venv``); prints one JSON object.

``python benchmarks/lifetimes_ref/time_fits.py CDNOW_master.txt RUNS``: the summary (freq="D",
freq_multiplier=7: weeks) is built once; each fitter is timed ``RUNS`` times from the per-customer arrays
(BG/NBD, MBG/NBD on everyone; Gamma-Gamma on customers with repeat purchases and positive repeat spend).
The log-likelihood is re-evaluated in weeks with the fitter's own function (see ``reference.fitted``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import fitted, read_cdnow, summary


def main(path: Path, runs: int) -> None:
    s = summary(read_cdnow(path), "1998-06-30")
    repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    jobs = {
        "bgnbd": (BetaGeoFitter, ("r", "alpha", "a", "b"), (s["frequency"], s["recency"], s["T"])),
        "mbgnbd": (ModifiedBetaGeoFitter, ("r", "alpha", "a", "b"), (s["frequency"], s["recency"], s["T"])),
        "gamma_gamma": (GammaGammaFitter, ("p", "q", "v"), (repeat["frequency"], repeat["monetary_value"])),
    }
    out = {}
    for name, (cls, names, columns) in jobs.items():
        times, cpu = [], []
        for _ in range(runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            model = cls().fit(*columns)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        out[name] = {"seconds": times, "cpu_seconds": cpu, **fitted(model, names, *columns)}
    print(json.dumps(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3)
