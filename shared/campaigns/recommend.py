"""Simple "customers who bought this also bought" recommendations.

:func:`co_purchase_counts` counts, for every pair of distinct products, how many customers bought both
(a customer counts once per pair however often they bought). :func:`recommend_products` scores every
product the customer has not bought by the sum of its co-purchase counts with the products they did
buy, and returns the top ``top_n``; ties go to the more popular product, then to the smaller product
id, so the result is deterministic. When too few products co-occur, the list is topped up with the most
popular products not yet bought (if ``popularity`` is given).

Cost: counting is ``O(sum of k^2)`` over customers with ``k`` distinct products; it runs in the
scheduled job, and the counts (a sparse map) are what the campaign function needs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import permutations

CoPurchase = Mapping[str, Mapping[str, int]]


def co_purchase_counts(histories: Mapping[str, Iterable[str]]) -> dict[str, dict[str, int]]:
    """``{product: {other product: customers who bought both}}`` from ``{customer: products bought}``."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for products in histories.values():
        for a, b in permutations(sorted(set(products)), 2):
            counts[a][b] += 1
    return {product: dict(others) for product, others in counts.items()}


def product_popularity(histories: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """``{product: customers who bought it}``."""
    popularity: Counter[str] = Counter()
    for products in histories.values():
        popularity.update(set(products))
    return dict(popularity)


def recommend_products(
    purchased: Iterable[str],
    co_purchase: CoPurchase,
    top_n: int = 3,
    *,
    popularity: Mapping[str, int] | None = None,
    exclude: Iterable[str] = (),
) -> list[str]:
    """Up to ``top_n`` products for a customer who bought ``purchased`` (never one already bought)."""
    if top_n <= 0:
        return []
    owned = set(purchased)
    banned = owned | set(exclude)
    popular = popularity or {}
    scores: Counter[str] = Counter()
    for product in owned:
        for other, count in co_purchase.get(product, {}).items():
            if other not in banned and count > 0:
                scores[other] += count
    ranked = sorted(scores, key=lambda p: (-scores[p], -popular.get(p, 0), p))[:top_n]
    if len(ranked) < top_n and popular:
        chosen = set(ranked)
        fillers = sorted(
            (p for p in popular if p not in banned and p not in chosen and popular[p] > 0),
            key=lambda p: (-popular[p], p),
        )
        ranked.extend(fillers[: top_n - len(ranked)])
    return ranked
