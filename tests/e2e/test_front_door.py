"""The front door, through the real SDK: one endpoint for every AWS client. Services Hako does not
serve yet answer in their own protocol's error shape, which botocore parses into the code and
message sent (JSON 1.0/1.1, REST-JSON, query, REST-XML; see crates/front-door). The framework's
own errors carry the shape too, and the listener's timeouts close slow and idle connections."""

from __future__ import annotations

import json
import socket
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from conftest import CREDENTIALS, REGION

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                    read_timeout=30)


def client(hako, service: str):
    return boto3.session.Session().client(service, endpoint_url=hako.endpoint, region_name=REGION,
                                          config=NO_RETRIES, **CREDENTIALS)


# (service, call, kwargs, HTTP status, code, message): the protocol of each is botocore's model's
# (sts and iam: query, s3: rest-xml). SQS, Kinesis, Scheduler, CloudWatch Logs, STS and IAM are served
# (test_sqs.py, test_kinesis.py, test_scheduler.py, test_logs.py); no REST-JSON service is left
# unserved among the known ones, so that protocol's shape is tested in
# crates/front-door/tests/routing.rs.
FOREIGN = [
    # STS is served (GetCallerIdentity, test_auth.py); its other actions are STS's InvalidAction.
    # Sent unsigned (botocore: `authtype: none`): only its Action names STS.
    ("sts", "assume_role_with_web_identity",
     {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "session", "WebIdentityToken": "token"},
     400, "InvalidAction", "Could not find operation AssumeRoleWithWebIdentity for version 2011-06-15"),
    # IAM is served (test_iam.py); an action it does not have is IAM's own InvalidAction.
    ("iam", "list_users", {}, 400, "InvalidAction",
     "The action ListUsers is not valid for this web service."),
    ("s3", "list_buckets", {}, 501, "NotImplemented", "Hako does not serve S3 yet (GET /)"),
]


@pytest.mark.parametrize("service,call,kwargs,status,code,message", FOREIGN,
                         ids=[f"{f[0]}-{f[1]}" for f in FOREIGN])
def test_a_service_hako_does_not_serve_answers_in_its_protocol(hako, service, call, kwargs, status,
                                                               code, message):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(client(hako, service), call)(**kwargs)
    err = e.value.response
    assert err["Error"]["Code"] == code, err
    assert err["Error"]["Message"] == message, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status, err
    assert err["ResponseMetadata"].get("RequestId"), err


def test_lambda_still_answers_through_the_same_door(hako, lambda_client):
    assert "Functions" in lambda_client.list_functions()


def raw(hako, request: bytes, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Sends raw bytes, reads one response (the server closes or sends Content-Length)."""
    with socket.create_connection(("127.0.0.1", hako.port), timeout=timeout) as s:
        s.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body


def test_the_frameworks_own_errors_carry_the_lambda_shape(hako):
    # A wrong method on a Lambda path: Lambda's unknown operation.
    status, h, body = raw(hako, b"PATCH /2015-03-31/functions/f HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    assert status == 404
    assert h["x-amzn-errortype"] == "UnknownOperationException"
    # botocore reads `message` or `Message` (Lambda's shape of this exception names the latter).
    doc = json.loads(body)
    assert doc.get("message") or doc.get("Message"), doc
    # A path parameter that is not UTF-8 once decoded.
    status, h, body = raw(hako, b"GET /2015-03-31/functions/%ff/configuration HTTP/1.1\r\n"
                                b"Host: x\r\nConnection: close\r\n\r\n")
    assert status == 400
    assert h["x-amzn-errortype"] == "ValidationException"
    assert "Invalid URL" in json.loads(body)["message"]


def test_a_malformed_chunk_size_is_invalid_content_not_too_large(hako):
    status, h, body = raw(hako, b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                                b"Connection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
    assert status == 400, body
    assert h["x-amzn-errortype"] == "InvalidRequestContentException"
    assert json.loads(body)["message"].startswith("Could not read the request body: ")


def test_slow_heads_and_idle_connections_are_closed(hako_factory):
    server = hako_factory(extra_args=["--http-header-timeout-seconds", "1"])
    # 50 slowloris connections: a head that never ends.
    socks = []
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    # And one idle keep-alive connection after a request.
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    idle.sendall(b"GET /_hako/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(65536).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    for s in [*socks, idle]:
        # recv returns b"" once the server closed (or raises on a reset); bounded by the timeout.
        try:
            assert s.recv(65536) == b""
        except ConnectionResetError:
            pass
        s.close()
    assert time.monotonic() - started < 5
