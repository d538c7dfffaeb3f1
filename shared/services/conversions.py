"""The conversions a campaign or journey report counts: each contacted person's interactions that convert
(purchases, or clicks in the campaign's emails), read only for the people who could have converted."""

from __future__ import annotations

from datetime import datetime

from shared.campaigns.report import Purchase
from shared.dal import campaigns as store
from shared.dal import customers


def since(contacted: dict[str, datetime], campaign_id: str, conversion: str) -> list[Purchase]:
    """The converting interactions of the people in ``contacted`` (person -> first contact: the first
    decision sent or held out, or the entry into a journey).

    The interactions table is read per person (one query each), so only the people seen again since
    their first contact are read: a conversion happens after a contact, and the profile's last-seen time
    is the latest interaction counted. The others are ruled out by batch reads of their profiles (100 a
    request), so a report costs a query per person who came back, not per person contacted. The last-seen
    time is the aggregates' (the stream consumer's, seconds behind in the cloud): a report counts an
    interaction once it is aggregated.
    """
    seen = customers.last_seen(contacted)
    found: list[Purchase] = []
    for customer_id in sorted(contacted):
        if customer_id in seen and seen[customer_id] >= contacted[customer_id]:
            found += store.conversions_of(customer_id, campaign_id, conversion)
    return found
