"""What an analyst gets from rm-score-csv: exact money, full-precision floats, the sidecar model JSON, the
calibration/holdout table and plot, the same output with and without the Arrow reader/writer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from shared.scoring import cli
from shared.scoring.cli import OUTPUT_COLUMNS, main


def _write(path: Path, n_customers: int = 60, seed: int = 4) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "date", "amount"])
        for c in range(n_customers):
            days = np.sort(rng.choice(np.arange(0, 360), size=int(rng.integers(1, 7)), replace=False))
            for d in days:
                w.writerow(
                    [f"k{c:03d}", str(np.datetime64("2025-01-01") + int(d)), f"{rng.uniform(1, 90):.2f}"]
                )
        # Money that 6 significant digits would mangle, and a customer who spent nothing on repeat days.
        w.writerows([["big", "2025-02-01", "13000.10"], ["big", "2025-03-01", "990.83"]])
        w.writerows(
            [["free", "2025-02-01", "25.00"], ["free", "2025-05-01", "0"], ["free", "2025-06-01", "0.00"]]
        )


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {r["customer_id"]: r for r in csv.DictReader(fh)}


def test_money_is_exact_and_floats_are_full_precision(tmp_path: Path) -> None:
    src, out = tmp_path / "t.csv", tmp_path / "s.csv"
    _write(src)
    assert main([str(src), str(out), "--as-of", "2025-12-31"]) == 0
    rows = _rows(out)
    assert list(next(iter(rows.values()))) == list(OUTPUT_COLUMNS)
    assert rows["big"]["total_spent"] == "13990.93"
    assert rows["free"]["total_spent"] == "25.00"
    # Full precision: more than 6 significant digits survive, and the value reads back as written.
    clv = rows["big"]["clv"]
    assert len(clv.replace(".", "").lstrip("0")) > 6
    assert repr(float(clv)) == clv or float(repr(float(clv))) == float(clv)


def test_non_positive_repeat_spend_gets_the_population_mean(tmp_path: Path) -> None:
    src, out = tmp_path / "t.csv", tmp_path / "s.csv"
    _write(src)
    assert main([str(src), str(out), "--as-of", "2025-12-31"]) == 0
    sidecar = json.loads(out.with_suffix(".model.json").read_text())
    gg = sidecar["gamma_gamma"]
    population_mean = gg["p"] * gg["v"] / (gg["q"] - 1.0)
    rows = _rows(out)
    assert float(rows["free"]["expected_order_value"]) == pytest.approx(population_mean, rel=1e-12)
    once = [r for r in rows.values() if r["purchase_days"] == "1"]
    assert once
    assert {round(float(r["expected_order_value"]), 9) for r in once} == {round(population_mean, 9)}


def test_sidecar_describes_the_run(tmp_path: Path, data_dir: Path) -> None:
    src, out, side = data_dir / "CDNOW_sample.txt", tmp_path / "s.csv", tmp_path / "model.json"
    args = [
        str(src),
        str(out),
        "--cdnow",
        "--as-of",
        "1997-09-30",
        "--horizon-days",
        "30",
        "--sidecar",
        str(side),
    ]
    assert main([*args, "--purchase-model", "bgnbd"]) == 0
    meta = json.loads(side.read_text())
    assert meta["as_of"] == "1997-09-30"
    assert meta["horizon_days"] == 30.0
    assert meta["clv_horizon_months"] == 12
    assert meta["purchase_model"] == "bgnbd"
    assert meta["purchase_status"] == "fitted"
    assert set(meta["purchase"]) >= {"r", "alpha", "a", "b", "loglik", "std_errors"}
    assert all(v > 0 for v in meta["purchase"]["std_errors"].values())
    assert meta["purchase"]["loglik"] < 0
    assert set(meta["gamma_gamma"]["std_errors"]) == {"p", "q", "v"}
    assert meta["customers"] == 2357
    assert meta["transactions"] == 6919
    assert meta["columns"] == list(OUTPUT_COLUMNS)


def test_standard_errors_are_null_at_the_edge_of_the_parameter_space(tmp_path: Path) -> None:
    """Purchases spread uniformly at random look Poisson: the fit runs off to r, alpha -> inf, where the
    information matrix is singular; the sidecar then says so (null) instead of printing nonsense."""
    src, out = tmp_path / "t.csv", tmp_path / "s.csv"
    _write(src)
    assert main([str(src), str(out), "--as-of", "2025-12-31", "--purchase-model", "bgnbd"]) == 0
    meta = json.loads(out.with_suffix(".model.json").read_text())
    assert meta["purchase"]["r"] > 1e3
    assert meta["purchase"]["std_errors"] is None


def test_arrow_and_standard_library_paths_write_the_same_file(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    _write(src)
    fast, slow = tmp_path / "fast.csv", tmp_path / "slow.csv"
    assert main([str(src), str(fast), "--as-of", "2025-12-31"]) == 0
    assert main([str(src), str(slow), "--as-of", "2025-12-31", "--no-arrow"]) == 0
    a, b = _rows(fast), _rows(slow)
    assert list(a) == list(b)  # customers in order of first appearance
    for cid, row in a.items():
        for col in OUTPUT_COLUMNS:
            if col in (
                "p_alive",
                "churn_risk",
                "expected_purchases",
                "expected_order_value",
                "clv",
                "lead_score",
            ):
                assert (row[col] == "") == (b[cid][col] == ""), (cid, col)
                if row[col]:
                    assert float(row[col]) == float(b[cid][col]), (cid, col)
            else:
                assert row[col] == b[cid][col], (cid, col)


def test_calibration_holdout_mode_prints_the_table_and_saves_a_png(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "s.csv", tmp_path / "holdout.png"
    args = [str(data_dir / "CDNOW_sample.txt"), str(out), "--cdnow", "--as-of", "1997-09-30"]
    assert main([*args, "--holdout-end", "1998-06-30", "--plot", str(png)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["frequency", "customers", "actual", "MBG/NBD", "BG/NBD"]
    rows = [line.split() for line in table[1:9]]
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(int(r[1]) for r in rows) == 2357
    # More calibration purchases, more holdout purchases: actual and predicted rise together.
    actual = [float(r[2]) for r in rows]
    predicted = [float(r[3]) for r in rows]
    assert actual[-1] > actual[0]
    assert predicted == sorted(predicted)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads(out.with_suffix(".model.json").read_text())
    assert meta["holdout"]["weeks"] == pytest.approx(39.0)
    assert set(meta["holdout"]["accuracy"]) == {"mbgnbd", "bgnbd"}
    assert len(meta["holdout"]["by_frequency"]) == 8
    assert main([*args[:3], "--holdout-end", "1997-01-01", "--as-of", "1997-09-30"]) == 2


@pytest.mark.parametrize("no_arrow", [False, True])
def test_chunked_scoring_writes_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_arrow: bool
) -> None:
    src = tmp_path / "t.csv"
    _write(src)
    flag = ["--no-arrow"] if no_arrow else []
    whole, chunked = tmp_path / "whole.csv", tmp_path / "chunked.csv"
    assert main([str(src), str(whole), "--as-of", "2025-12-31", *flag]) == 0
    monkeypatch.setattr(cli, "SCORE_CHUNK", 7)
    assert main([str(src), str(chunked), "--as-of", "2025-12-31", *flag]) == 0
    assert chunked.read_text() == whole.read_text()
