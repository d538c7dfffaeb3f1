"""The scripted demo: drive the local stack end to end through its HTTP API and print what happened."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib import error, parse, request

from tqdm import tqdm

from infra.local.stack import LocalStack
from shared.services import campaigns

CDNOW_SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "CDNOW_sample.txt"
WRITE_KEY = "local-write-key"
SIMULATED_CAMPAIGNS = ("win-back", "loyalty-reward", "prospect-journey")
JOURNEY = "prospect-journey"


class Client:
    """A tiny HTTP client for the local API (standard library only)."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 60) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout
        self.write_auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
        private: bool = False,
    ) -> tuple[int, Any, dict[str, str]]:
        headers = {"Authorization": self.write_auth}
        data: bytes | None = None
        if form is not None:
            data = parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if private:
            headers["x-api-key"] = self.api_key
        req = request.Request(self.base_url + path, data=data, method=method, headers=headers)
        opener = request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=self.timeout) as response:
                raw = response.read()
                status, response_headers = response.status, dict(response.headers)
        except error.HTTPError as exc:
            raw, status, response_headers = exc.read(), exc.code, dict(exc.headers)
        content_type = response_headers.get("Content-Type", "")
        payload: Any = json.loads(raw) if raw and "json" in content_type else raw.decode(errors="replace")
        return status, payload, response_headers


class _NoRedirect(request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def cdnow_orders(limit_customers: int) -> list[dict[str, Any]]:
    """Order Completed calls for the first ``limit_customers`` customers of the CDNOW 1/10 sample."""
    by_customer: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for line in CDNOW_SAMPLE.read_text().splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        customer, date, amount = fields[0], fields[2], float(fields[4])
        if customer not in by_customer and len(by_customer) >= limit_customers:
            continue
        by_customer[customer].append((date, amount))
    calls: list[dict[str, Any]] = []
    for customer, orders in by_customer.items():
        for number, (date, amount) in enumerate(orders):
            when = datetime.strptime(date, "%Y%m%d").replace(hour=12, tzinfo=UTC)
            calls.append(
                {
                    "type": "track",
                    "userId": f"cdnow-{customer}",
                    "event": "Order Completed",
                    "timestamp": when.isoformat(),
                    "properties": {
                        "order_id": f"cdnow-{customer}-{number}",
                        "total": amount,
                        "currency": "USD",
                    },
                }
            )
    return calls


def _daytime_zone() -> str:
    """A fixed-offset zone where it is about noon now: quiet hours would defer a night-time demo's sends."""
    offset = 12 - datetime.now(UTC).hour
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def _confirm_links(stack: LocalStack, addresses: set[str]) -> list[str]:
    links = []
    for mail in stack.sent_emails():
        if mail["To"] in addresses and "confirm" in mail["Subject"].lower():
            found = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])
            if found:
                links.append(found.group(1))
    return links


def _progress(items: Any, description: str, unit: str = "call", total: int | None = None) -> Any:
    """A progress bar on the terminal (stderr), nothing when the output is not a terminal."""
    return tqdm(
        items, desc=f"   {description}", unit=unit, total=total, leave=False, disable=None, dynamic_ncols=True
    )


# People use a site at the same time: the demo's visitors come VISITORS at a time, each person's own calls
# in order (their sign-up before their form post, the page before the button), as the API meets them.
VISITORS = 4
T = TypeVar("T")
R = TypeVar("R")


def _each(items: Sequence[T], visit: Callable[[T], R], description: str, unit: str) -> list[R]:
    """``visit`` for every item, :data:`VISITORS` at a time; the results in the items' order."""
    with ThreadPoolExecutor(VISITORS) as pool:
        return list(_progress(pool.map(visit, items), description, unit, total=len(items)))


def _workers_cpu_seconds() -> float:
    """CPU time of this process's children but moto's (the API and delivery worker processes), read from
    ``/proc`` (0.0 where there is no ``/proc``)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    children: list[str] = []
    try:
        # Each thread's children: the pool's workers are started by the threads that first needed them.
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                children += (task / "children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        try:
            if b"moto_process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def _drain(stack: LocalStack, description: str) -> int:
    """Deliver everything pending, with a progress bar of what the dispatcher handed to the functions."""
    assert stack.dispatcher is not None
    with tqdm(desc=f"   {description}", unit="record", leave=False, disable=None) as bar:
        return stack.dispatcher.drain(progress=bar.update)


def run_demo(
    stack: LocalStack, customers: int = 200, as_of: str = "1998-06-30", base_url: str | None = None
) -> int:
    """Drive the whole product through its API; returns a process exit status. ``base_url``: the API to
    call (by default the stack's public one)."""
    client = Client(base_url or stack.api_url, stack.api_key)
    started, cpu_started = time.perf_counter(), time.process_time()
    moto_cpu_started = stack.moto.cpu_seconds() if stack.moto else 0.0
    workers_cpu_started = _workers_cpu_seconds()
    rng = random.Random(7)
    print(f"Local stack: API {stack.api_url} (x-api-key: {stack.api_key}), moto {stack.moto_url}")

    status, _, headers = client.call(
        "POST",
        "/v1/forms/newsletter",
        form={"email": "Ann.Example@Example.com", "first_name": "Ann", "redirect": f"{stack.api_url}/thanks"},
    )
    print(f"1. HTML newsletter form (form-encoded) -> {status}, redirect to {headers.get('Location')}")

    calls = cdnow_orders(customers)
    users = sorted({c["userId"] for c in calls})
    subscribers = {u for u in users if rng.random() < 0.6}
    # Prospects: sign-ups without any order, the people the prospect journey nurtures (the CDNOW
    # subscribers have bought already, so the journey's audience leaves them out at its first send).
    prospects = {f"prospect-{i:03d}" for i in range(max(10, customers // 4))}
    subscribers |= prospects

    def sign_up(user: str) -> None:
        client.call(
            "POST",
            "/v1/identify",
            {
                "userId": user,
                "traits": {
                    "email": f"{user}@example.com",
                    "firstName": user.title(),
                    "timezone": _daytime_zone(),
                },
            },
        )
        client.call("POST", "/v1/forms/newsletter", form={"email": f"{user}@example.com"})

    def confirm(link: str) -> bool:
        client.call("GET", link)  # the link shows a page with one button (a link scanner changes nothing)
        return client.call("POST", link)[0] == 200  # the person presses it

    _each(sorted(subscribers), sign_up, "sign-ups", "person")
    _drain(stack, "confirmation emails")
    links = _confirm_links(stack, {f"{u}@example.com" for u in subscribers} | {"ann.example@example.com"})
    confirmed = sum(_each(links, confirm, "confirmations", "link"))
    print(
        f"2. {len(subscribers) + 1} newsletter sign-ups (double opt-in; {len(prospects)} prospects without "
        f"any order): {confirmed} confirmations (link opened, button pressed)"
    )

    def post_batch(start: int) -> tuple[int, Any]:
        status, body, _ = client.call("POST", "/v1/batch", {"batch": calls[start : start + 100]})
        return status, body

    stored = 0
    for status, body in _each(range(0, len(calls), 100), post_batch, "replay", "batch"):
        if status != 200:
            print(f"   batch refused: {status} {body}")
            return 1
        stored += body["stored"]
    print(
        f"3. replayed {len(calls)} CDNOW orders of {len(users)} customers through /v1/batch: {stored} stored"
    )
    again = calls[:100]
    status, body, _ = client.call("POST", "/v1/batch", {"batch": again})
    print(
        f"   the first {len(again)} again: {body['stored']} stored, {body['duplicates']} duplicates "
        "(exactly once)"
    )
    status, body, _ = client.call(
        "POST",
        "/v1/track",
        {"userId": "u1", "event": "Order Completed", "properties": {"order_id": "x", "total": -5}},
    )
    print(f"   a negative order total -> {status}: {body['message']}")
    delivered = _drain(stack, "aggregates and campaigns")
    # The background dispatcher delivers as records arrive, so this last drain may find little left: say
    # what is true (nothing pending) and what the handlers recorded.
    print(
        f"   dispatcher: nothing left pending ({delivered} delivered by this last drain, the rest by the "
        f"background dispatcher as they arrived); the campaigns function recorded {_decisions()} decisions"
    )

    print(f"4. scoring run as of {as_of} (the CDNOW data ends in June 1998):")
    status, run, _ = client.call("POST", "/v1/scoring/runs", {"as_of": as_of}, private=True)
    if status != 202 or run.get("status") != "succeeded":
        print(f"   scoring failed: {status} {run}")
        return 1
    summary = run["summary"]
    bgnbd = summary["purchase"] or {}
    print(
        f"   {summary['customers_scored']} customers scored in {summary['duration_seconds']} s; "
        f"top 20% bring {summary['pareto_top20_revenue_share']:.0%} of revenue"
    )
    print(
        f"   {summary['purchase_model']} r={bgnbd.get('r', float('nan')):.3f} "
        f"alpha={bgnbd.get('alpha', float('nan')):.3f} "
        f"a={bgnbd.get('a', float('nan')):.3f} b={bgnbd.get('b', float('nan')):.3f}"
    )
    for segment, count in sorted(summary["segment_counts"].items(), key=lambda item: -item[1]):
        print(f"   {segment:<20} {count:>5}")
    status, segments, _ = client.call("GET", "/v1/segments", private=True)
    links = [s for s in segments.get("segments", []) if (s.get("latest_export") or {}).get("download_url")]
    print(f"   CSV exports written to S3 for {len(links)} segments (presigned links in GET /v1/segments)")
    _drain(stack, "campaigns")

    print("5. campaigns fired by the sign-ups, orders and segment changes (consent, caps, hold-out applied):")
    _print_reports(_campaign_reports(client))
    later = datetime.now(UTC) + timedelta(days=3, minutes=5)
    due = campaigns.sweep_due(later)
    _drain(stack, "due sends")
    print(
        "   three days later, the due sweep (every 5 minutes in the cloud) judged the waiting sends again: "
        + (", ".join(f"{k} {v}" for k, v in sorted(due.items())) or "nothing was due")
    )
    reports = _campaign_reports(client)
    _print_reports(reports)
    _print_journey(reports.get(JOURNEY))
    emails = stack.sent_emails()
    print(
        f"   SES accepted {len(emails)} emails (confirmations, welcome, campaigns), "
        "campaign emails with List-Unsubscribe headers"
    )

    converted = _simulate_conversions(client, rng)
    _drain(stack, "conversions")
    print(f"6. simulated purchases after the campaigns ({converted} orders); lift versus the hold-out group:")
    after_purchases = _campaign_reports(client)
    for campaign_id, report in after_purchases.items():
        if campaign_id in SIMULATED_CAMPAIGNS and report["sent"] and report["held_out"]:
            low, high = report["lift_ci_low"], report["lift_ci_high"]
            print(
                f"   {campaign_id:<28} treatment {report['treatment']['conversion_rate']:.0%} vs control "
                f"{report['control']['conversion_rate']:.0%}: lift {report['absolute_lift']:+.0%} "
                f"(95% CI {low:+.0%} .. {high:+.0%})"
            )
    print("   after the purchases (a conversion ends the journey wherever the person is):")
    _print_journey(after_purchases.get(JOURNEY))  # nothing changed since those reports were fetched
    _ses_feedback(stack, client, sorted(subscribers))
    print(
        f"Console (while `make local` serves): {stack.api_url}/dashboard/ — sign in as marketing@example.com "
        "or admin@example.com (password: Local-console-1, or RM_LOCAL_CONSOLE_PASSWORD)"
    )
    print(f"Sent emails: {stack.api_url}/dashboard/outbox.html, or `python -m infra.local.outbox`")
    print(
        f"Demo finished in {time.perf_counter() - started:.1f} s "
        f"({time.process_time() - cpu_started:.1f} s of CPU in the stack's process"
        + (
            ", functions included; "
            if not stack.workers
            else f", {_workers_cpu_seconds() - workers_cpu_started:.1f} s in its {stack.workers} worker "
            "processes, where the functions ran; "
        )
        + f"{(stack.moto.cpu_seconds() if stack.moto else 0.0) - moto_cpu_started:.1f} s in moto's)"
    )
    return 0


def _print_reports(reports: dict[str, dict[str, Any]]) -> None:
    for campaign_id, report in reports.items():
        if report["decisions"]:
            skipped = ", ".join(f"{k} {v}" for k, v in sorted(report["skipped"].items())) or "none"
            print(
                f"   {campaign_id:<28} sent {report['sent']:>3}  held out {report['held_out']:>3}  "
                f"waiting {report['deferred']:>3}  skipped: {skipped}"
            )


def _decisions() -> int:
    from shared.dal.models import DecisionModel

    return DecisionModel.count()


def _print_journey(report: dict[str, Any] | None) -> None:
    """The journey's funnel: entered, treated/held out, each step, converted and exited."""
    funnel = (report or {}).get("funnel")
    if not funnel:
        return
    exited = ", ".join(f"{k} {v}" for k, v in funnel["exited"].items()) or "none"
    print(
        f"   journey {funnel['journey_id']}: {funnel['entered']} entered ({funnel['treated']} treated, "
        f"{funnel['held_out']} held out at entry); {funnel['active']} on their way, converted "
        f"{funnel['converted']} treated / {funnel['held_out_converted']} held out, exited: {exited}"
    )
    for step in funnel["steps"]:
        skipped = ", ".join(f"{k} {v}" for k, v in step["skipped"].items())
        sends = (
            f"  sent {step['sent'] + step['queued']:>3}  held out {step['held_out']:>3}"
            if step["type"] == "send"
            else ""
        )
        where = (
            f"     {step['type']:<6} {step['id']:<20} reached {step['reached']:>4}  at now {step['at']:>4}"
        )
        print(where + sends + (f"  skipped: {skipped}" if skipped else ""))


def _campaign_reports(client: Client) -> dict[str, dict[str, Any]]:
    _, listing, _ = client.call("GET", "/v1/campaigns", private=True)
    reports: dict[str, dict[str, Any]] = {}
    for campaign in listing["campaigns"]:
        _, report, _ = client.call("GET", f"/v1/campaigns/{campaign['id']}/report", private=True)
        reports[campaign["id"]] = report
    return reports


def _campaign_report(client: Client, campaign_id: str) -> dict[str, Any]:
    """One campaign's report ({} when there is no such campaign)."""
    status, report, _ = client.call("GET", f"/v1/campaigns/{campaign_id}/report", private=True)
    return report if status == 200 and isinstance(report, dict) else {}


def _simulate_conversions(client: Client, rng: random.Random) -> int:
    """Purchases after the campaigns: contacted customers buy more often than held-out ones (30% vs 12%)."""
    from shared.dal.models import CustomerModel, DecisionModel

    decisions = [
        decision
        for decision in DecisionModel.scan(DecisionModel.outcome.is_in("sent", "held_out"))
        if decision.campaign_id in SIMULATED_CAMPAIGNS
    ]
    # The buyers' user ids, read in batches of 100 rather than one GetItem per order (the driver's
    # own reads, not the product's work); the draws below are the same as one read per order made.
    wanted = list(dict.fromkeys(decision.customer_id for decision in decisions))
    user_ids = {customer.customer_id: customer.user_id for customer in CustomerModel.batch_get(wanted)}
    orders = 0
    for decision in decisions:
        if rng.random() < (0.30 if decision.outcome == "sent" else 0.12):
            orders += _order_for(client, decision.customer_id, user_ids.get(decision.customer_id), rng)
    return orders


def _order_for(client: Client, customer_id: str, user_id: str | None, rng: random.Random) -> int:
    if not user_id:
        return 0
    status, _, _ = client.call(
        "POST",
        "/v1/track",
        {
            "userId": user_id,
            "event": "Order Completed",
            "properties": {"order_id": f"after-{customer_id}", "total": round(rng.uniform(10, 80), 2)},
        },
    )
    return int(status == 200)


def _ses_feedback(stack: LocalStack, client: Client, subscribers: list[str]) -> None:
    """SES events in AWS's format for two subscribers' emails (moto publishes none): a click, a bounce."""
    if len(subscribers) < 2:
        return
    clicker, bouncer = (f"{user}@example.com" for user in subscribers[:2])
    stack.channels.inject_ses_event("click", to=clicker, link="https://shop.example.com/")
    stack.channels.inject_ses_event("bounce", to=bouncer)
    _drain(stack, "SES feedback")
    status, profile, _ = client.call("GET", f"/v1/customers?email={bouncer}", private=True)
    reason = (profile.get("profile") or {}).get("email_suppressed_reason") if status == 200 else None
    welcome = _campaign_report(client, "welcome")  # the only report this step prints from
    crm = len(stack.channels.receiver.accepted)
    print(
        f"7. SES feedback (python -m infra.local.ses_feedback): a click on {clicker}'s email "
        f"(welcome conversions now {welcome.get('treatment', {}).get('conversions', 0)}); a permanent "
        f"bounce suppresses {bouncer} ({reason}); {crm} sales hand-overs reached the local CRM receiver"
    )
