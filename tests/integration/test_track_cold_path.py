"""The tracking function's lazy imports, from fresh interpreters as a cold start sees them: the import loads
none of what only some requests need; the first Segment call and then the first form post (with a
redirect) work in a new process against the local stack's moto; everything those requests import later
is preloaded before a SnapStart snapshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from infra.local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
# Imported by some requests only (a form post: the YAML catalogue, the address checker, a redirect's URL
# parser), never by the import; boto3: never (the function uses botocore clients).
LAZY = ("yaml", "email_validator", "ada_url")
NEVER = ("boto3", "s3transfer", "aws_xray_sdk")

# Runs the handler in a fresh isolated interpreter; prints what it saw as JSON.
PROBE = """
import json, sys, types
sys.path.insert(0, sys.argv[1])
events = json.load(open(sys.argv[2]))
hooks = []
if sys.argv[3] == "snapstart":  # the Lambda runtime's hook module, as SnapStart provides it
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_before_snapshot = lambda func, *args, **kwargs: hooks.append((func, args, kwargs))
    fake.register_after_restore = lambda func, *args, **kwargs: None
    sys.modules["snapshot_restore_py"] = fake
top = lambda: {name.split(".")[0] for name in sys.modules}
ours = lambda: {name for name in sys.modules if name.startswith(("functions.", "shared."))}
before = top()
import functions.track.handler as module
after_import = top()
for func, args, kwargs in hooks:  # the snapshot is taken after these
    func(*args, **kwargs)
after_hooks = top()
ours_before_requests = ours()
class Context:
    function_name = "track"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:track"
    aws_request_id = "cold-path"
answers = [module.handler(event, Context()) for event in events]
print(json.dumps({
    "import": sorted(after_import - before),
    "hooks": sorted(after_hooks - after_import),
    "requests": sorted(top() - after_hooks - set(sys.stdlib_module_names)),
    "ours": sorted(ours() - ours_before_requests),
    "answers": [
        {
            "status": a["statusCode"],
            "headers": {
                **{k: v[-1] for k, v in (a.get("multiValueHeaders") or {}).items()},
                **(a.get("headers") or {}),
            },
            "body": a.get("body"),
        }
        for a in answers
    ],
}))
"""


def _events(stack: LocalStack) -> list[dict[str, Any]]:
    person = uuid.uuid4().hex[:12]
    calls = [
        (
            "/v1/track",
            {"content-type": "application/json"},
            {
                "writeKey": "local-write-key",
                "type": "track",
                "userId": f"cold-{person}",
                "event": "Order Completed",
                "messageId": str(uuid.uuid4()),
                "properties": {"order_id": f"o-{person}", "revenue": 12.5, "currency": "EUR"},
            },
        ),
        (
            "/v1/forms/newsletter",
            {"content-type": "application/json", "origin": stack.api_url, "accept": "application/json"},
            {
                "email": f"cold-{person}@example.com",
                "consent_email": "on",
                "redirect": "http://127.0.0.1:8080/thanks",
            },
        ),
    ]
    events = []
    for path, headers, body in calls:
        event, _, status, message = stack.adapter.build_event(
            "POST", path, headers, json.dumps(body).encode(), "192.0.2.1", "127.0.0.1"
        )
        assert event is not None, (status, message)
        events.append(event)
    return events


def _probe(stack: LocalStack, tmp_path: Path, mode: str) -> dict[str, Any]:
    events = tmp_path / f"events-{mode}.json"
    events.write_text(json.dumps(_events(stack)))
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}  # the stack's AWS_ENDPOINT_URL and RM_*
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(ROOT), str(events), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return seen


def test_first_segment_call_then_first_form_post_in_a_new_process(stack: LocalStack, tmp_path: Path) -> None:
    seen = _probe(stack, tmp_path, "plain")
    assert not set(seen["import"]) & {*LAZY, *NEVER}
    track, form = seen["answers"]
    assert track["status"] == 200, track
    assert json.loads(track["body"])["stored"] == 1
    assert form["status"] == 303, form
    assert form["headers"]["Location"] == "http://127.0.0.1:8080/thanks"
    assert set(LAZY) <= set(seen["requests"])  # the lazy path ran
    assert not set(seen["requests"]) & set(NEVER)
    # The form post included the forms router (not imported by a Segment call).
    assert "functions.track.forms" in seen["ours"]


def test_snapstart_preloads_what_the_first_requests_import(stack: LocalStack, tmp_path: Path) -> None:
    seen = _probe(stack, tmp_path, "snapstart")
    assert set(LAZY) <= set(seen["hooks"])  # in the snapshot
    # Nothing of a layer or of ours is left for the first requests after a restore (the standard library
    # aside).
    assert seen["requests"] == []
    assert seen["ours"] == []
    assert [answer["status"] for answer in seen["answers"]] == [200, 303]
