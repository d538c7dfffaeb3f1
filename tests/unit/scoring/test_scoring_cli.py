"""The offline analyst command ``rm-score-csv`` (``shared.scoring.cli.main``)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from shared.scoring.cli import OUTPUT_COLUMNS, main
from shared.scoring.rfm import SEGMENTS


def _write_transactions(
    path: Path, n_customers: int = 40, seed: int = 3
) -> dict[str, list[tuple[str, float]]]:
    rng = np.random.default_rng(seed)
    rows: dict[str, list[tuple[str, float]]] = {}
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "customer_id", "date", "amount"])
        for c in range(n_customers):
            cid = f"cust-{c:03d}"
            n = int(rng.integers(1, 8))
            days = np.sort(rng.choice(np.arange(0, 360), size=n, replace=False))
            for k, d in enumerate(days):
                day = str(np.datetime64("2025-01-01") + int(d))
                amount = round(float(rng.uniform(5, 120)), 2)
                rows.setdefault(cid, []).append((day, amount))
                w.writerow([f"o{c}-{k}", cid, day, amount])
    # Two orders of one customer on the same day count as one purchase day.
    with path.open("a", newline="") as fh:
        csv.writer(fh).writerow(["extra", "cust-000", rows["cust-000"][0][0], 10.0])
    rows["cust-000"].append((rows["cust-000"][0][0], 10.0))
    return rows


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_scores_a_transaction_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "transactions.csv"
    out = tmp_path / "scores.csv"
    truth = _write_transactions(src)
    assert main([str(src), str(out), "--as-of", "2025-12-31"]) == 0

    rows = _read(out)
    assert list(rows[0].keys()) == list(OUTPUT_COLUMNS)
    assert len(rows) == len(truth)
    by_id = {r["customer_id"]: r for r in rows}
    for cid, txs in truth.items():
        r = by_id[cid]
        days = sorted({d for d, _ in txs})
        assert r["first_purchase"] == days[0]
        assert r["last_purchase"] == days[-1]
        assert int(r["purchase_days"]) == len(days)
        assert int(r["purchase_count"]) == len(txs)
        assert float(r["total_spent"]) == pytest.approx(sum(a for _, a in txs), abs=0.006)
        for col in ("recency_score", "frequency_score", "monetary_score", "fm_score"):
            assert 1 <= int(r[col]) <= 5
        assert r["segment"] in SEGMENTS
        assert r["stage"] == "customer"
        assert 0.0 <= float(r["p_alive"]) <= 1.0
        assert float(r["clv"]) >= 0.0
    assert int(by_id["cust-000"]["purchase_count"]) == int(by_id["cust-000"]["purchase_days"]) + 1

    err = capsys.readouterr().err
    assert "BG/NBD (weeks): r=" in err
    assert "Gamma-Gamma: p=" in err
    assert "Pareto: the top 20% of customers bring" in err
    assert "Champions" in err
    assert f"wrote {len(truth)} rows" in err


def test_partitioned_run_writes_the_same_scores(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    _write_transactions(src, n_customers=60, seed=8)
    one, three = tmp_path / "one.csv", tmp_path / "three.csv"
    assert main([str(src), str(one), "--as-of", "2025-12-31"]) == 0
    assert main([str(src), str(three), "--as-of", "2025-12-31", "--partitions", "3"]) == 0
    assert one.read_text() == three.read_text()


def test_as_of_drops_later_transactions_and_defaults_to_the_last_date(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("a;03/01/2025;10\na;10/01/2025;5\nb;20/01/2025;7.5\nc;01/03/2025;4\n")
    out = tmp_path / "s.csv"
    args = [str(src), str(out), "--date-format", "%d/%m/%Y", "--delimiter", ";"]
    assert main([*args, "--as-of", "2025-01-31"]) == 0
    rows = {r["customer_id"]: r for r in _read(out)}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["purchase_days"] == "2"
    # Too few repeat customers: no BG/NBD, so its outputs are empty cells; RFM is still there.
    assert rows["a"]["p_alive"] == ""
    assert rows["a"]["recency_score"] != ""
    assert main(args) == 0
    rows = {r["customer_id"]: r for r in _read(out)}
    assert set(rows) == {"a", "b", "c"}
    assert rows["c"]["last_purchase"] == "2025-03-01"


def test_reads_the_cdnow_format(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "cdnow.txt"
    lines = (data_dir / "CDNOW_sample.txt").read_text().splitlines()[:300]
    src.write_text(" customer_id  date number_of_cds  dollar_value\n" + "\n".join(lines) + "\n")
    out = tmp_path / "scores.csv"
    assert main([str(src), str(out), "--cdnow", "--as-of", "1997-09-30"]) == 0
    rows = _read(out)
    first_ids = {line.split()[0] for line in lines}
    assert {r["customer_id"] for r in rows} <= first_ids
    cust4 = next(r for r in rows if r["customer_id"] == "00004")
    # 00004 bought on 1997-01-01, 01-18, 08-02 (and later, after the as-of date).
    assert (cust4["first_purchase"], cust4["last_purchase"], cust4["purchase_days"]) == (
        "1997-01-01",
        "1997-08-02",
        "3",
    )
    assert "customers:" in capsys.readouterr().err


def test_bad_input_exits_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("customer_id,date,amount\na,not-a-date,3\n")
    assert main([str(src), str(tmp_path / "o.csv")]) == 2
    assert "cannot parse a date" in capsys.readouterr().err
    src.write_text("customer_id,date,amount\na,2025-01-01,lots\n")
    assert main([str(src), str(tmp_path / "o.csv")]) == 2
    assert "cannot parse an amount" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.csv"), str(tmp_path / "o.csv")]) == 2
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,date,amount\n")
    assert main([str(empty), str(tmp_path / "o.csv")]) == 2
