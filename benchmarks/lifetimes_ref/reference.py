"""Reference figures of lifetimes 0.11.3 for the tests: ``tests/data/lifetimes_reference.json``.

Run (from the repository root)::

    make lifetimes-venv
    build/lifetimes-venv/bin/python benchmarks/lifetimes_ref/reference.py tests/data

Time unit: weeks, as the engine (``summary_data_from_transaction_data(..., freq="D", freq_multiplier=7)``:
frequency = repeat purchase *days*, recency and T = days / 7); monetary value = the mean of the repeat
purchase days' spend (same-day orders summed, the first day excluded), lifetimes' convention. CLV with
``freq="W"`` so a month is 4.345 weeks, as the engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter
from lifetimes.utils import summary_data_from_transaction_data

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
MASTER = Path("/work/shared/data/CDNOW_master.txt")


def read_cdnow(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    raw = raw[raw[raw.columns[-3]].str.fullmatch(r"\d{8}")]  # drop the header line
    return pd.DataFrame(
        {
            "customer_id": raw[0],
            "date": pd.to_datetime(raw[raw.columns[-3]], format="%Y%m%d"),
            "amount": raw[raw.columns[-1]].astype(float),
        }
    )


def summary(tx: pd.DataFrame, end: str) -> pd.DataFrame:
    return summary_data_from_transaction_data(
        tx,
        "customer_id",
        "date",
        monetary_value_col="amount",
        observation_period_end=end,
        freq="D",
        freq_multiplier=7,
    )


def fitted(fitter: object, names: tuple[str, ...], *columns: object) -> dict[str, object]:
    """Parameters, standard errors and the total log-likelihood in weeks.

    lifetimes fits BG/NBD and MBG/NBD on a rescaled time axis, so its stored ``_negative_log_likelihood_``
    is not in weeks: the log-likelihood is re-evaluated with the fitter's own ``_negative_log_likelihood``
    at the (unscaled) parameters on the data in weeks.
    """
    params = {n: float(fitter.params_[n]) for n in names}  # type: ignore[attr-defined]
    weights = np.ones(len(columns[0]))  # type: ignore[arg-type]
    log_params = np.log([params[n] for n in names])
    mean_nll = fitter._negative_log_likelihood(log_params, *columns, weights, 0.0)  # type: ignore[attr-defined]
    return {
        **params,
        "loglik": -float(mean_nll) * float(weights.sum()),
        "std_errors": {n: float(fitter.standard_errors_[n]) for n in names},  # type: ignore[attr-defined]
    }


def main(out_dir: Path) -> None:
    out: dict[str, object] = {
        "produced_by": "benchmarks/lifetimes_ref/reference.py with lifetimes 0.11.3 "
        f"(numpy {np.__version__}, pandas {pd.__version__})",
    }
    # Full CDNOW master file, as of the end of the data.
    if MASTER.exists():
        s = summary(read_cdnow(MASTER), "1998-06-30")
        bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        mbg = ModifiedBetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        out["master_1998_06_30"] = {
            "customers": len(s),
            "bgnbd": fitted(bg, ("r", "alpha", "a", "b"), s["frequency"], s["recency"], s["T"]),
            "mbgnbd": fitted(mbg, ("r", "alpha", "a", "b"), s["frequency"], s["recency"], s["T"]),
        }
    # The 1/10 sample, calibration to 1997-09-30: per-customer reference outputs.
    tx = read_cdnow(DATA / "CDNOW_sample.txt")
    s = summary(tx, "1997-09-30")
    repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    mbg = ModifiedBetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    eov = gg.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
    per_customer = pd.DataFrame(
        {
            "customer_id": s.index,
            "frequency": s["frequency"].to_numpy(),
            "monetary_value": s["monetary_value"].to_numpy(),
            "expected_order_value": eov.to_numpy(),
        }
    )
    for name, model in (("bgnbd", bg), ("mbgnbd", mbg)):
        per_customer[f"p_alive_{name}"] = model.conditional_probability_alive(
            s["frequency"], s["recency"], s["T"]
        )
        per_customer[f"clv_{name}"] = gg.customer_lifetime_value(
            model,
            s["frequency"],
            s["recency"],
            s["T"],
            s["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="W",
        ).to_numpy()
    out["sample_1997_09_30"] = {
        "customers": len(s),
        "gamma_gamma": fitted(gg, ("p", "q", "v"), repeat["frequency"], repeat["monetary_value"]),
        "bgnbd": fitted(bg, ("r", "alpha", "a", "b"), s["frequency"], s["recency"], s["T"]),
        "mbgnbd": fitted(mbg, ("r", "alpha", "a", "b"), s["frequency"], s["recency"], s["T"]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "lifetimes_reference.json").write_text(json.dumps(out, indent=2) + "\n")
    per_customer.to_csv(out_dir / "lifetimes_sample_scores.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
