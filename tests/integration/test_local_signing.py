"""The local stack's unchecked SigV4 signer: the headers moto reads are botocore's own, only the signature
differs, and moto files the request under the credential's region and account."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore import auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infra.local import local_signing
from infra.local.local_signing import UNCHECKED_SIGNATURE, UncheckedSigV4Auth

CREDENTIALS = Credentials("AKIDLOCAL", "secret", token="session-token")
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<scope>[^,]+), SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})"
)


def _signed(signer_class: type[auth.SigV4Auth]) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:5000/",
        data=b'{"TableName": "t"}',
        headers={"X-Amz-Target": "DynamoDB_20120810.GetItem", "Authorization": "left from a first try"},
    )
    signer_class(CREDENTIALS, "dynamodb", "eu-west-1").add_auth(request)
    return request


def test_the_headers_a_server_reads_are_botocores_and_only_the_signature_differs() -> None:
    real, unchecked = _signed(auth.SigV4Auth), _signed(UncheckedSigV4Auth)
    real_auth = AUTHORIZATION.fullmatch(real.headers["Authorization"])
    unchecked_auth = AUTHORIZATION.fullmatch(unchecked.headers["Authorization"])
    assert real_auth is not None
    assert unchecked_auth is not None
    assert unchecked_auth["scope"] == real_auth["scope"]
    assert unchecked_auth["scope"].startswith("AKIDLOCAL/")
    assert unchecked_auth["scope"].endswith("/eu-west-1/dynamodb/aws4_request")
    assert unchecked_auth["sig"] == UNCHECKED_SIGNATURE != real_auth["sig"]
    for name in ("X-Amz-Date", "X-Amz-Security-Token"):
        assert unchecked.headers[name][:8] == real.headers[name][:8]  # the same day, the same token
    assert unchecked.headers["X-Amz-Security-Token"] == "session-token"
    # the first try's header replaced, not kept beside the new one
    assert unchecked.headers.get_all("Authorization") == [unchecked.headers["Authorization"]]


def test_only_the_v4_header_signer_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(auth.AUTH_TYPE_MAPS, "v4", auth.SigV4Auth)
    s3_signers = {name: auth.AUTH_TYPE_MAPS[name] for name in ("s3v4", "s3v4-query", "v4-query")}
    local_signing.install()
    assert auth.AUTH_TYPE_MAPS["v4"] is UncheckedSigV4Auth
    assert {name: auth.AUTH_TYPE_MAPS[name] for name in s3_signers} == s3_signers


def test_moto_files_an_unchecked_request_under_the_credentials_region(stack: object) -> None:
    """The local stack installs the signer: a queue made through it is found by an SDK client of that
    region, and not by one of another region."""
    assert auth.AUTH_TYPE_MAPS["v4"] is UncheckedSigV4Auth
    here = boto3.client("sqs", region_name="eu-west-1")
    url = here.create_queue(QueueName="unchecked-signing")["QueueUrl"]
    try:
        assert url in here.list_queues(QueueNamePrefix="unchecked-signing").get("QueueUrls", [])
        elsewhere = boto3.client("sqs", region_name="us-west-2")
        assert url not in elsewhere.list_queues(QueueNamePrefix="unchecked-signing").get("QueueUrls", [])
    finally:
        here.delete_queue(QueueUrl=url)
