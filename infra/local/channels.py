"""The channels of the local stack, built like the cloud's (``infra/constructs/channels.py``):

- the SES configuration set every send names, and :data:`shared.events.SES_FEEDBACK_RULE` on moto's
  default bus -> ``SesEventsQueue`` -> the ``ses_events`` function (SES events are injected with
  :mod:`infra.local.ses_feedback`: ``POST /local/ses-events`` or ``python -m infra.local.ses_feedback``);
- :data:`shared.events.WEBHOOK_RULE` on the engine's bus -> ``WebhookQueue`` -> the API destination
  stand-in -> a real local HTTP receiver (the CRM), see :mod:`infra.local.webhooks`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra.local import ses_feedback
from infra.local.dispatcher import Dispatcher
from infra.local.http_adapter import ApiAdapter
from infra.local.resources import LocalResources
from infra.local.webhooks import LocalApiDestination, WebhookReceiver
from shared.events import SES_FEEDBACK_RULE, WEBHOOK_RULE
from shared.settings import Settings

WEBHOOK_QUEUE = "WebhookQueue"


def _queue(sqs: Any, name: str) -> tuple[str, str, str]:
    dead_letter = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, dead_letter, arn


def create_channel_resources(resources: LocalResources, settings: Settings) -> None:
    sqs = boto3.client("sqs", region_name=settings.region)
    events = boto3.client("events", region_name=settings.region)
    boto3.client("ses", region_name=settings.region).create_configuration_set(
        ConfigurationSet={"Name": settings.ses_configuration_set}
    )
    pattern, queue_name = SES_FEEDBACK_RULE
    url, dead_letter, arn = _queue(sqs, queue_name)
    resources.queue_urls[queue_name], resources.dead_letter_urls[queue_name] = url, dead_letter
    events.put_rule(Name="SesFeedback", EventBusName="default", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="SesFeedback", EventBusName="default", Targets=[{"Id": queue_name, "Arn": arn}])
    url, dead_letter, arn = _queue(sqs, WEBHOOK_QUEUE)
    # Not a function's queue (the dispatcher does not deliver it): the API destination stand-in drains it.
    resources.dead_letter_urls[WEBHOOK_QUEUE] = dead_letter
    events.put_rule(
        Name="WebhookCampaigns", EventBusName=settings.event_bus_name, EventPattern=json.dumps(WEBHOOK_RULE)
    )
    events.put_targets(
        Rule="WebhookCampaigns",
        EventBusName=settings.event_bus_name,
        Targets=[{"Id": WEBHOOK_QUEUE, "Arn": arn}],
    )
    resources.webhook_queue_url = url


@dataclass
class LocalChannels:
    receiver: WebhookReceiver
    destination: LocalApiDestination
    region: str
    injected: list[dict[str, Any]] = field(default_factory=list)

    # Told after each injection (the local stack: the dispatcher's wake-up).
    on_inject: Callable[[], object] | None = None

    def inject_ses_event(self, kind: ses_feedback.Kind, **kwargs: Any) -> dict[str, Any]:
        """Publish an SES event for an email the stack sent (see :func:`infra.local.ses_feedback.inject`)."""
        event = ses_feedback.inject(kind, self.region, **kwargs)
        self.injected.append(event)
        if self.on_inject is not None:
            self.on_inject()
        return event

    def stop(self) -> None:
        self.receiver.stop()


def attach(
    resources: LocalResources,
    dispatcher: Dispatcher,
    adapter: ApiAdapter,
    host: str,
    api_key: str,
    settings: Settings,
) -> LocalChannels:
    """Start the CRM receiver and the API destination stand-in, and the injection endpoint."""
    receiver = WebhookReceiver(host=host).start()
    destination = LocalApiDestination(
        resources.webhook_queue_url,
        resources.dead_letter_urls[WEBHOOK_QUEUE],
        settings.region,
        receiver.url,
        receiver.api_key,
    )
    dispatcher.extra_pumps.append(destination.pump)
    channels = LocalChannels(receiver, destination, settings.region, on_inject=dispatcher.wake)

    def inject_endpoint(headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if not hmac.compare_digest(headers.get("x-api-key", "").encode(), api_key.encode()):
            return 403, {"Content-Type": "application/json"}, b'{"message": "needs the x-api-key header"}'
        try:
            args = json.loads(body)
            event = channels.inject_ses_event(
                args["kind"],
                to=args.get("to"),
                number=args.get("number"),
                transient=bool(args.get("transient")),
                link=str(args.get("link") or "https://www.example.com/"),
            )
        except ses_feedback.NoSuchEmailError as exc:
            return 404, {"Content-Type": "application/json"}, json.dumps({"message": str(exc)}).encode()
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"Content-Type": "application/json"}, json.dumps({"message": repr(exc)}).encode()
        return 200, {"Content-Type": "application/json"}, json.dumps(event).encode()

    adapter.extra_posts[ses_feedback.PATH] = inject_endpoint
    return channels
