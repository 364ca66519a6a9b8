"""Event source mappings on queues and streams outside Hako (issue 12 part 4): moto's server
stands for the other AWS-compatible endpoint, named with its credentials in the file
`--external-sources` points at (README, "Event sources outside Hako"). moto runs with IAM
authentication on (INITIAL_NO_AUTH_ACTION_COUNT: the first three requests make the IAM user
whose access key everything else is signed with), so a wrong secret is refused as AWS would
(SignatureDoesNotMatch), and as account 111111111111, so its ARNs are not Hako's own.

The functions are the ones of test_esm_sqs (Powertools' SQS data classes on the official
awslambdaric) and test_esm_kinesis (lambda_runtime + aws_lambda_events, strict shapes). The
semantics are AWS's developer guide's, as for Hako's own queues and streams; the visibility
timeout and redrive policy are the remote queue's. Every wait is bounded."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import (CREDENTIALS, REGION, HakoServer, boto_lambda_client,
                      expect_client_error, unique_name, wait_for)
from test_esm_kinesis import Clients, calls, consumer as kinesis_consumer, ids
from test_esm_sqs import consumer as sqs_consumer, seen

MOTO_ACCOUNT = "111111111111"
MOTO_BIN = Path(sys.executable).parent / "moto_server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto's server on a free loopback port, with authentication on; yields (endpoint,
    credentials of its IAM user)."""
    if not MOTO_BIN.exists():
        pytest.fail(f"{MOTO_BIN} is missing: pip install 'moto[server]' (tests/e2e/requirements.txt)")
    base = tmp_path_factory.mktemp("moto")
    port = free_port()
    env = {**os.environ, "MOTO_ACCOUNT_ID": MOTO_ACCOUNT, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    log = open(base / "moto.log", "wb")
    proc = subprocess.Popen([str(MOTO_BIN), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (base / "moto.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto_server did not listen within 30 s"
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
        iam = boto3.session.Session().client("iam", endpoint_url=endpoint, region_name=REGION,
                                             config=cfg, **CREDENTIALS)
        iam.create_user(UserName="hako")
        iam.put_user_policy(UserName="hako", PolicyName="all", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="hako")["AccessKey"]
        yield endpoint, {"aws_access_key_id": key["AccessKeyId"],
                         "aws_secret_access_key": key["SecretAccessKey"]}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def remote(moto):
    endpoint, creds = moto
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30)

    def client(service):
        return boto3.session.Session().client(service, endpoint_url=endpoint,
                                              region_name=REGION, config=cfg, **creds)
    return client("sqs"), client("kinesis")


@pytest.fixture(scope="module")
def server(tmp_path_factory, moto):
    endpoint, creds = moto
    base = tmp_path_factory.mktemp("hako")
    good = {"endpoint": endpoint, "access_key_id": creds["aws_access_key_id"],
            "secret_access_key": creds["aws_secret_access_key"]}
    # The first match wins: queues named bad-* are read with a wrong secret.
    sources = [
        {**good, "arn": f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT}:bad-*",
         "secret_access_key": "not-the-secret"},
        {**good, "arn": f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT}:*"},
        {**good, "arn": f"arn:aws:kinesis:{REGION}:{MOTO_ACCOUNT}:stream/*"},
    ]
    path = base / "external-sources.json"
    path.write_text(json.dumps(sources))
    s = HakoServer(base / "data", base / "hako.log",
                   extra_args=["--external-sources", str(path)]).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lam(server):
    return boto_lambda_client(server.endpoint)


def remote_queue(sqs, prefix, **attrs):
    url = sqs.create_queue(QueueName=unique_name(prefix), Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn.startswith(f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT}:"), arn
    return url, arn


def in_queue(sqs, url) -> int:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def enabled(lam, uuid):
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
             what="mapping Enabled", timeout_s=10)


def test_a_remote_queue_is_delivered_and_deleted(lam, server, remote):
    sqs, _ = remote
    fn = sqs_consumer(lam)
    url, arn = remote_queue(sqs, "ext")
    m = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=10)
    assert m["EventSourceArn"] == arn
    enabled(lam, m["UUID"])
    bodies = [f"m{i}" for i in range(5)]
    for b in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=b,
                         MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    got = wait_for(lambda: (s := seen(server, fn)) and len(s) >= 5 and s,
                   what="five messages seen", timeout_s=30)
    assert sorted(r["body"] for r in got) == bodies
    for r in got:
        # The SQS event as AWS sends it, about the remote queue.
        assert r["arn"] == arn and r["source"] == "aws:sqs" and r["region"] == REGION
        assert r["md5_ok"] and r["receipt"] and r["count"] == "1"
        assert r["attrs"] == {"k": {"string": "v", "binary": None, "type": "String"}}
    wait_for(lambda: in_queue(sqs, url) == 0, what="the batch deleted from moto's queue",
             timeout_s=15)
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_a_failing_batch_returns_to_the_remote_queue(lam, server, remote):
    sqs, _ = remote
    fn = sqs_consumer(lam)
    dlq_url, dlq_arn = remote_queue(sqs, "ext-dlq")
    url, arn = remote_queue(sqs, "ext", VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    m = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=1)
    enabled(lam, m["UUID"])
    sqs.send_message(QueueUrl=url, MessageBody="fail-me")
    # Not deleted: it comes back after moto's visibility timeout (ApproximateReceiveCount 2),
    # then moto's redrive policy moves it to the dead-letter queue.
    got = wait_for(lambda: (s := seen(server, fn)) and len(s) >= 2 and s,
                   what="the failing message seen twice", timeout_s=30)
    assert [r["body"] for r in got[:2]] == ["fail-me", "fail-me"]
    assert [r["count"] for r in got[:2]] == ["1", "2"]

    def in_dlq():
        r = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)
        return [x["Body"] for x in r.get("Messages", [])]
    assert wait_for(in_dlq, what="the message in moto's DLQ", timeout_s=30) == ["fail-me"]
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_a_remote_stream_is_delivered_in_order(lam, server, remote):
    _, kinesis = remote
    c = Clients(server.endpoint)
    fn = kinesis_consumer(c)
    name = unique_name("ext-stream")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = wait_for(lambda: (d := kinesis.describe_stream_summary(StreamName=name)
                            ["StreamDescriptionSummary"])["StreamStatus"] == "ACTIVE"
                   and d["StreamARN"], what="moto stream ACTIVE")
    assert f":{MOTO_ACCOUNT}:stream/" in arn
    for i in range(3):
        kinesis.put_record(StreamName=name, Data=json.dumps({"id": f"a{i}", "do": "ok"}).encode(),
                           PartitionKey="k")
    m = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=100,
                                        StartingPosition="TRIM_HORIZON")
    enabled(lam, m["UUID"])
    for i in range(3, 6):
        kinesis.put_record(StreamName=name, Data=json.dumps({"id": f"a{i}", "do": "ok"}).encode(),
                           PartitionKey="k")
    want = [f"a{i}" for i in range(6)]
    got = wait_for(lambda: (x := ids(calls(server, fn))) and len(x) >= 6 and x,
                   what="six records delivered", timeout_s=30)
    assert got == want
    assert all(c["shard"] == "shardId-000000000000" for c in calls(server, fn))
    wait_for(lambda: lam.get_event_source_mapping(UUID=m["UUID"]).get("LastProcessingResult") == "OK",
             what="LastProcessingResult OK", timeout_s=10)
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_a_wrong_secret_is_a_visible_problem_not_a_hang(lam, server, remote):
    sqs, _ = remote
    fn = sqs_consumer(lam)
    url, arn = remote_queue(sqs, "bad")
    m = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    enabled(lam, m["UUID"])
    sqs.send_message(QueueUrl=url, MessageBody="never")

    def problem():
        r = lam.get_event_source_mapping(UUID=m["UUID"])
        return r["State"] == "Enabled" and r.get("LastProcessingResult", "").startswith("PROBLEM") \
            and r["LastProcessingResult"]
    said = wait_for(problem, what="the mapping says its problem", timeout_s=15)
    assert "SignatureDoesNotMatch" in said or "InvalidClientTokenId" in said, said
    assert seen(server, fn) == []
    assert in_queue(sqs, url) == 1
    # Still serving, and the mapping can be deleted.
    lam.delete_event_source_mapping(UUID=m["UUID"])
    wait_for(lambda: not lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"],
             what="the mapping gone", timeout_s=10)


def test_an_arn_no_source_serves_is_refused_with_hakos_wording(lam, server):
    fn = sqs_consumer(lam)
    arn = f"arn:aws:sqs:{REGION}:222222222222:{unique_name('q')}"
    msg = expect_client_error("InvalidParameterValueException", 400,
                              lam.create_event_source_mapping, FunctionName=fn, EventSourceArn=arn)
    assert msg == ("Hako maps only queues and streams of its own region and account "
                   f"({REGION}:123456789012), not {arn}, and no configured source outside Hako "
                   "serves it."), msg
