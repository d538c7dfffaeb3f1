"""Co-purchase recommendations."""

from __future__ import annotations

from shared.campaigns.recommend import co_purchase_counts, product_popularity, recommend_products

HISTORIES = {
    "ann": ["tent", "stove", "mat"],
    "bob": ["tent", "stove", "tent"],  # bought the tent twice: counts once
    "cid": ["tent", "lamp"],
    "dan": ["stove", "pot"],
    "eve": ["boots"],
    "fay": ["boots", "socks"],
    "gus": ["boots"],
}


def test_co_purchase_counts_customers_once_per_pair() -> None:
    counts = co_purchase_counts(HISTORIES)
    assert counts["tent"] == {"stove": 2, "mat": 1, "lamp": 1}
    assert counts["stove"]["tent"] == 2
    assert counts["stove"]["pot"] == 1
    assert "tent" not in counts["boots"]
    assert product_popularity(HISTORIES) == {
        "tent": 3,
        "stove": 3,
        "mat": 1,
        "lamp": 1,
        "pot": 1,
        "boots": 3,
        "socks": 1,
    }


def test_recommend_ranks_by_co_purchase_and_excludes_owned() -> None:
    counts = co_purchase_counts(HISTORIES)
    popularity = product_popularity(HISTORIES)
    # Owns a tent: stove (2) first, then lamp and mat (1 each, tie broken by id).
    assert recommend_products(["tent"], counts, top_n=3) == ["stove", "lamp", "mat"]
    # Owns tent and stove: scores mat 2 (tent+stove), lamp 1, pot 1; never tent or stove.
    assert recommend_products(["tent", "stove"], counts, top_n=2) == ["mat", "lamp"]
    assert recommend_products(["tent"], counts, top_n=3, exclude=["lamp"]) == ["stove", "mat"]
    # Nothing co-purchased with socks except boots; top up with the most popular not owned.
    assert recommend_products(["socks"], counts, top_n=3, popularity=popularity) == ["boots", "stove", "tent"]
    # No history at all: popular products only, or nothing without popularity.
    assert recommend_products([], counts, top_n=2, popularity=popularity) == ["boots", "stove"]
    assert recommend_products([], counts, top_n=2) == []
    assert recommend_products(["tent"], counts, top_n=0) == []


def test_popularity_breaks_ties() -> None:
    counts = {"a": {"x": 1, "y": 1}}
    assert recommend_products(["a"], counts, top_n=1, popularity={"y": 5, "x": 1}) == ["y"]
    assert recommend_products(["a"], counts, top_n=1) == ["x"]
