"""Event source mappings with SQS sources (issue 12), through boto3 and the aws CLI against the
real binary, with a real function: Powertools' SQS data classes and BatchProcessor on the
official awslambdaric (tests/fixtures/python-powertools/app.py), which prints what it saw.

Expected answers are AWS's: botocore's Lambda model and the answers recorded against AWS in
LocalStack's tests/aws/services/lambda_/test_lambda_api.snapshot.json and
event_source_mapping/test_lambda_integration_{sqs,kinesis}.snapshot.json (test names cited beside
each assertion); the batch semantics are AWS's developer guide's ("Using Lambda with Amazon SQS",
"Implementing partial batch responses"). Every wait is bounded."""

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from conftest import (CREDENTIALS, FIXTURES_BUILD, HAKO_BIN, REGION, ROLE, REPO,
                      boto_lambda_client, client_error, expect_client_error, run_aws,
                      scrape_metrics, metric_sample, unique_name, wait_for)

ACCOUNT = "123456789012"
APP = REPO / "tests" / "fixtures" / "python-powertools" / "app.py"


def sqs_client(endpoint):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
    return boto3.session.Session().client("sqs", endpoint_url=endpoint, region_name=REGION,
                                          config=cfg, **CREDENTIALS)


def kinesis_client(endpoint):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client("kinesis", endpoint_url=endpoint, region_name=REGION,
                                          config=cfg, **CREDENTIALS)


def powertools_zip() -> bytes:
    """python-ric.zip's official awslambdaric and bootstrap, app.py, and Powertools (with its one
    dependency the host's python lacks, typing_extensions) from this venv."""
    site = Path(__import__("aws_lambda_powertools").__file__).resolve().parents[1]
    buf = io.BytesIO()
    with zipfile.ZipFile(FIXTURES_BUILD / "python-ric.zip") as ric, \
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in ric.infolist():
            if info.filename != "app.py":
                out.writestr(info, ric.read(info))
        out.write(APP, "app.py")
        for pkg in ("aws_lambda_powertools", "jmespath"):
            for p in sorted((site / pkg).rglob("*")):
                if p.is_file() and "__pycache__" not in p.parts:
                    out.write(p, str(p.relative_to(site)))
        out.write(site / "typing_extensions.py", "typing_extensions.py")
    return buf.getvalue()


_ZIP = None


def consumer(lam, mode="", sleep_ms=0, name=None):
    """Creates the Powertools consumer; its name."""
    global _ZIP
    if _ZIP is None:
        _ZIP = powertools_zip()
    name = name or unique_name("esm")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": _ZIP}, Timeout=30,
                        Environment={"Variables": {"MODE": mode, "SLEEP_MS": str(sleep_ms)}})
    return name


def logs(server, name) -> str:
    p = subprocess.run([str(HAKO_BIN), "logs", name, "--data-dir", str(server.data_dir)],
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def lines(server, name, tag):
    out = []
    for line in logs(server, name).splitlines():
        i = line.find(tag + " {")
        if i >= 0:
            out.append(json.loads(line[i + len(tag) + 1:]))
    return out


def seen(server, name):
    return lines(server, name, "SAW")


def new_queue(sqs, prefix="q", **attrs):
    name = unique_name(prefix)
    if attrs.get("FifoQueue") == "true":
        name += ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def settled(lam, uuid, state="Enabled", timeout_s=5):
    return wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == state,
                    what=f"mapping {uuid} {state}", timeout_s=timeout_s)


@pytest.fixture(scope="module")
def lam(hako):
    return boto_lambda_client(hako.endpoint)


@pytest.fixture(scope="module")
def sqs(hako):
    return sqs_client(hako.endpoint)


# -- the API ---------------------------------------------------------------------------------

def test_create_get_list_delete_in_awss_shapes(lam, sqs, hako):
    fn = consumer(lam)
    url, arn = new_queue(sqs)
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    assert c["ResponseMetadata"]["HTTPStatusCode"] == 202
    # test_lambda_integration_sqs's create-event-source-mapping-response: these keys only.
    keys = set(c) - {"ResponseMetadata"}
    assert keys == {"BatchSize", "EventSourceArn", "EventSourceMappingArn", "FunctionArn",
                    "FunctionResponseTypes", "LastModified", "MaximumBatchingWindowInSeconds",
                    "State", "StateTransitionReason", "UUID"}, keys
    assert c["State"] == "Creating"
    assert c["StateTransitionReason"] == "USER_INITIATED"
    assert c["BatchSize"] == 10 and c["MaximumBatchingWindowInSeconds"] == 0
    assert c["FunctionResponseTypes"] == []
    assert c["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
    assert c["EventSourceMappingArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{c['UUID']}"
    settled(lam, c["UUID"])
    by_fn = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_fn] == [c["UUID"]]
    by_src = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_src] == [c["UUID"]]
    # The aws CLI reads the same.
    rc, out, err = run_aws(hako.endpoint, "lambda", "get-event-source-mapping", "--uuid",
                           c["UUID"], parse_json=True)
    assert rc == 0, err
    assert out["State"] == "Enabled" and out["EventSourceArn"] == arn
    d = lam.delete_event_source_mapping(UUID=c["UUID"])
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 202 and d["State"] == "Deleting"
    wait_for(lambda: not lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"],
             what="the mapping gone", timeout_s=5)
    # test_event_source_mapping_exceptions: get/delete/update of an unknown UUID.
    for call in (lambda: lam.get_event_source_mapping(UUID=c["UUID"]),
                 lambda: lam.delete_event_source_mapping(UUID=c["UUID"]),
                 lambda: lam.update_event_source_mapping(UUID=c["UUID"], Enabled=False)):
        msg = expect_client_error("ResourceNotFoundException", 404, call)
        assert msg == "The resource you requested does not exist."


def test_api_errors_are_awss(lam, sqs, hako):
    fn = consumer(lam)
    url, arn = new_queue(sqs)
    # test_event_source_mapping_exceptions: create_no_event_source_arn, create_unknown_params,
    # destination_config_failure.
    assert expect_client_error("InvalidParameterValueException", 400,
                               lam.create_event_source_mapping,
                               FunctionName="doesnotexist") == "Unrecognized event source."
    assert expect_client_error("InvalidParameterValueException", 400,
                               lam.create_event_source_mapping, FunctionName="doesnotexist",
                               EventSourceArn=arn) == "Function does not exist"
    assert expect_client_error(
        "InvalidParameterValueException", 400, lam.create_event_source_mapping,
        FunctionName="doesnotexist", EventSourceArn=arn,
        DestinationConfig={"OnSuccess": {"Destination": arn}},
    ) == "Unsupported DestinationConfig parameter for given event source mapping type."
    # test_esm_with_not_existing_sqs_queue.
    assert expect_client_error(
        "InvalidParameterValueException", 400, lam.create_event_source_mapping,
        FunctionName=fn, EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique_name('nope')}",
    ) == ("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService."
          "NonExistentQueue. SQS Error Message: The specified queue does not exist.")
    # test_event_source_mapping_default_batch_size: invalid-create-event-source-mapping.
    assert expect_client_error(
        "InvalidParameterValueException", 400, lam.create_event_source_mapping,
        FunctionName=fn, EventSourceArn=arn, BatchSize=20,
    ) == "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
    # boto/boto3#1613 quotes AWS's answer.
    assert expect_client_error(
        "InvalidParameterValueException", 400, lam.create_event_source_mapping,
        FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST",
    ) == "StartingPosition is not valid for SQS event sources."
    # botocore's ScalingConfig.MaximumConcurrency: 2..1000.
    msg = expect_client_error("ValidationException", 400, lam.create_event_source_mapping,
                              FunctionName=fn, EventSourceArn=arn,
                              ScalingConfig={"MaximumConcurrency": 1001})
    assert msg == ("1 validation error detected: Value '1001' at 'scalingConfig.maximumConcurrency' "
                   "failed to satisfy constraint: Member must have value less than or equal to 1000")
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    # test_duplicate_event_source_mappings (SQS).
    code, status, msg = client_error_of(lambda: lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn))
    assert (code, status) == ("ResourceConflictException", 409)
    assert msg == (f'An event source mapping with SQS arn (" {arn} ") and function (" {fn} ") '
                   f"already exists. Please update or delete the existing mapping with UUID {c['UUID']}")
    # test_event_source_mapping_default_batch_size: invalid-update-event-source-mapping.
    settled(lam, c["UUID"])
    assert expect_client_error(
        "InvalidParameterValueException", 400, lam.update_event_source_mapping,
        UUID=c["UUID"], BatchSize=20,
    ) == "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
    lam.delete_event_source_mapping(UUID=c["UUID"])


def client_error_of(call):
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as ei:
        call()
    return client_error(ei)


def test_kinesis_mappings_are_stored_and_answered_as_awss(lam, hako):
    """A Kinesis mapping: AWS's shape and checks (its poller is the streams part's)."""
    kin = kinesis_client(hako.endpoint)
    fn = consumer(lam)
    stream = unique_name("s")
    kin.create_stream(StreamName=stream, ShardCount=1)
    arn = kin.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    # test_create_event_source_validation_kinesis: no_starting_position, invalid_starting_position.
    assert expect_client_error(
        "InvalidParameterValueException", 400, lam.create_event_source_mapping,
        FunctionName=fn, EventSourceArn=arn,
    ) == ("1 validation error detected: Value null at 'startingPosition' failed to satisfy "
          "constraint: Member must not be null.")
    assert expect_client_error(
        "ValidationException", 400, lam.create_event_source_mapping,
        FunctionName=fn, EventSourceArn=arn, StartingPosition="invalid",
    ) == ("1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy "
          "constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]")
    # test_esm_with_not_existing_kinesis_stream.
    missing = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{unique_name('nope')}"
    assert expect_client_error(
        "InvalidParameterValueException", 400, lam.create_event_source_mapping,
        FunctionName=fn, EventSourceArn=missing, StartingPosition="LATEST",
    ) == f"Stream not found: {missing}"
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn,
                                        StartingPosition="LATEST")
    # test_create_kinesis_event_source_mapping's create_event_source_mapping_response.
    want = {"BatchSize": 100, "BisectBatchOnFunctionError": False,
            "DestinationConfig": {"OnFailure": {}}, "EventSourceArn": arn,
            "FunctionResponseTypes": [], "LastProcessingResult": "No records processed",
            "MaximumBatchingWindowInSeconds": 0, "MaximumRecordAgeInSeconds": -1,
            "MaximumRetryAttempts": -1, "ParallelizationFactor": 1, "StartingPosition": "LATEST",
            "State": "Creating", "StateTransitionReason": "User action",
            "TumblingWindowInSeconds": 0}
    assert {k: c[k] for k in want} == want
    code, status, msg = client_error_of(lambda: lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST"))
    assert (code, status) == ("ResourceConflictException", 409)
    assert msg == (f'The event source arn (" {arn} ") and function (" {fn} ") provided mapping '
                   f"already exists. Please update or delete the existing mapping with UUID {c['UUID']}")
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_tags_on_a_mapping(lam, sqs):
    fn = consumer(lam)
    _, arn = new_queue(sqs)
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, Tags={"a": "1"})
    esm_arn = c["EventSourceMappingArn"]
    # test_create_tag_on_esm_create, test_tag_lifecycle[event_source_mapping].
    assert lam.list_tags(Resource=esm_arn)["Tags"] == {"a": "1"}
    lam.tag_resource(Resource=esm_arn, Tags={"b": "2"})
    lam.untag_resource(Resource=esm_arn, TagKeys=["a"])
    assert lam.list_tags(Resource=esm_arn)["Tags"] == {"b": "2"}
    lam.delete_event_source_mapping(UUID=c["UUID"])
    wait_for(lambda: not lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"],
             what="the mapping gone", timeout_s=5)
    # test_tag_exceptions[event_source_mapping]: not_found_exception_tag, aliased_arn_exception.
    assert expect_client_error("ResourceNotFoundException", 404, lam.list_tags,
                               Resource=esm_arn) == f"Event source mapping not found: {esm_arn}"
    msg = expect_client_error("ValidationException", 400, lam.list_tags, Resource=esm_arn + ":alias")
    assert msg.startswith(f"1 validation error detected: Value '{esm_arn}:alias' at 'resource' "
                          "failed to satisfy constraint: Member must satisfy regular expression pattern")


def test_a_deleted_functions_mapping_stays_as_on_aws(lam, sqs):
    """test_event_source_mapping_lifecycle_delete_function: the mapping outlives its function."""
    fn = consumer(lam)
    _, arn = new_queue(sqs)
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    settled(lam, c["UUID"])
    lam.delete_function(FunctionName=fn)
    assert lam.get_event_source_mapping(UUID=c["UUID"])["State"] == "Enabled"
    lam.delete_event_source_mapping(UUID=c["UUID"])


# -- delivery --------------------------------------------------------------------------------

def test_a_batch_reaches_the_function_in_awss_shape_and_is_deleted(lam, sqs, hako):
    fn = consumer(lam)
    url, arn = new_queue(sqs, VisibilityTimeout="5")
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    settled(lam, c["UUID"])
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello powertools", MessageAttributes={
        "Author": {"DataType": "String", "StringValue": "John Grisham"},
        "WeeksOn": {"DataType": "Number", "StringValue": "6"},
        "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    })
    got = wait_for(lambda: seen(hako, fn), what="the record in the function", timeout_s=20)
    r = got[0]
    assert r["id"] == sent["MessageId"] and r["body"] == "hello powertools" and r["receipt"]
    assert r["md5_ok"] and r["md5_attrs"] == sent["MD5OfMessageAttributes"]
    assert r["count"] == "1" and r["sender"] and r["sent"].isdigit() and r["first"].isdigit()
    assert r["source"] == "aws:sqs" and r["arn"] == arn and r["region"] == REGION
    assert r["attrs"]["Author"] == {"string": "John Grisham", "binary": None, "type": "String"}
    assert r["attrs"]["WeeksOn"]["type"] == "Number"
    assert r["attrs"]["Blob"]["binary"] == "AAE="
    # The members AWS sends (the guide's example event).
    assert r["keys"] == sorted(["messageId", "receiptHandle", "body", "attributes",
                                "messageAttributes", "md5OfMessageAttributes", "md5OfBody",
                                "eventSource", "eventSourceARN", "awsRegion"])
    wait_for(lambda: counts(sqs, url) == (0, 0), what="the batch deleted", timeout_s=10)
    text = scrape_metrics(hako.endpoint)
    for m in ("polled", "invoked", "deleted"):
        assert metric_sample(text, f"hako_lambda_esm_{m}_event_count_total", fn) == 1, m
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_a_failed_batch_comes_back_after_its_visibility_timeout_then_goes_to_the_dlq(lam, sqs, hako):
    """Not deleted, back after VisibilityTimeout with a growing ApproximateReceiveCount, then the
    redrive policy moves it to the DLQ (maxReceiveCount 2); other messages are not blocked."""
    fn = consumer(lam)
    dlq_url, dlq_arn = new_queue(sqs, "dlq")
    url, arn = new_queue(sqs, VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=1)
    settled(lam, c["UUID"])
    sqs.send_message(QueueUrl=url, MessageBody="please fail")
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    wait_for(lambda: [r for r in seen(hako, fn) if r["body"] == "fine"], what="the good message",
             timeout_s=10)
    counts_seen = wait_for(
        lambda: (c := sorted(int(r["count"]) for r in seen(hako, fn) if r["body"] == "please fail"))
        and len(c) >= 2 and c, what="the failing message twice", timeout_s=15)
    assert counts_seen[:2] == [1, 2]
    got = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages"),
                   what="the message in the DLQ", timeout_s=15)
    assert got[0]["Body"] == "please fail"
    wait_for(lambda: counts(sqs, url) == (0, 0), what="the source queue empty", timeout_s=10)
    text = scrape_metrics(hako.endpoint)
    assert metric_sample(text, "hako_lambda_esm_failed_invoke_event_count_total", fn) >= 2
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_report_batch_item_failures_with_powertools(lam, sqs, hako):
    fn = consumer(lam, mode="partial")
    url, arn = new_queue(sqs, VisibilityTimeout="30")
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=10,
                                        MaximumBatchingWindowInSeconds=1, Enabled=False,
                                        FunctionResponseTypes=["ReportBatchItemFailures"])
    assert c["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    settled(lam, c["UUID"], "Disabled")
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": b} for i, b in enumerate(["a", "b fail", "c", "d fail", "e"])])
    lam.update_event_source_mapping(UUID=c["UUID"], Enabled=True)
    wait_for(lambda: len(seen(hako, fn)) >= 5, what="the batch", timeout_s=15)
    # The three that succeeded are deleted; the two reported stay in flight (30 s).
    wait_for(lambda: counts(sqs, url) == (0, 2), what="all but the reported deleted",
             timeout_s=10)
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_batch_size_and_batching_window(lam, sqs, hako):
    fn = consumer(lam)
    url, arn = new_queue(sqs)
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=25,
                                        MaximumBatchingWindowInSeconds=2, Enabled=False)
    settled(lam, c["UUID"], "Disabled")
    for i in range(0, 30, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": f"m{j}"} for j in range(i, i + 10)])
    lam.update_event_source_mapping(UUID=c["UUID"], Enabled=True)
    wait_for(lambda: len(seen(hako, fn)) == 30, what="all 30 handled", timeout_s=20)
    batches = [b["n"] for b in lines(hako, fn, "BATCH")]
    assert sorted(batches, reverse=True) == [25, 5], batches
    wait_for(lambda: counts(sqs, url) == (0, 0), what="all deleted", timeout_s=10)
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_fifo_in_order_per_message_group(lam, sqs, hako):
    fn = consumer(lam)
    url, arn = new_queue(sqs, "f", FifoQueue="true", ContentBasedDeduplication="true")
    # BatchSize over 10 is refused for a FIFO queue (botocore's BatchSize documentation).
    expect_client_error("InvalidParameterValueException", 400, lam.create_event_source_mapping,
                        FunctionName=fn, EventSourceArn=arn, BatchSize=11,
                        MaximumBatchingWindowInSeconds=1)
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=2)
    settled(lam, c["UUID"])
    for i in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"g{i % 3}-{i}", MessageGroupId=f"g{i % 3}")
    got = wait_for(lambda: (s := seen(hako, fn)) and len(s) == 12 and s,
                   what="all 12 handled", timeout_s=20)
    for g in ("g0", "g1", "g2"):
        order = [int(r["body"].split("-")[1]) for r in got if r["group"] == g]
        assert order == sorted(order) and len(order) == 4, (g, order)
        seqs = [int(r["seq"]) for r in got if r["group"] == g]
        assert seqs == sorted(seqs)
    assert all(r["dedup"] for r in got)
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_disabling_stops_delivery_within_a_second(lam, sqs, hako):
    fn = consumer(lam)
    url, arn = new_queue(sqs)
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    settled(lam, c["UUID"])
    sqs.send_message(QueueUrl=url, MessageBody="before")
    wait_for(lambda: seen(hako, fn), what="the first message", timeout_s=10)
    u = lam.update_event_source_mapping(UUID=c["UUID"], Enabled=False)
    assert u["State"] == "Disabling"
    t0 = time.monotonic()
    settled(lam, c["UUID"], "Disabled", timeout_s=1)
    assert time.monotonic() - t0 < 1.0
    sqs.send_message(QueueUrl=url, MessageBody="after")
    time.sleep(1.5)
    assert [r["body"] for r in seen(hako, fn)] == ["before"]
    assert counts(sqs, url) == (1, 0)
    # Enabled again: the waiting message is delivered.
    assert lam.update_event_source_mapping(UUID=c["UUID"], Enabled=True)["State"] == "Enabling"
    wait_for(lambda: len(seen(hako, fn)) == 2, what="the message after enabling", timeout_s=10)
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_maximum_concurrency_bounds_concurrent_batches(lam, sqs, hako):
    fn = consumer(lam, sleep_ms=400)
    url, arn = new_queue(sqs, VisibilityTimeout="30")
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=1,
                                        ScalingConfig={"MaximumConcurrency": 2})
    assert c["ScalingConfig"] == {"MaximumConcurrency": 2}
    settled(lam, c["UUID"])
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}"} for i in range(8)])
    done = wait_for(lambda: (d := lines(hako, fn, "DONE")) and len(d) == 8 and d,
                    what="8 batches", timeout_s=30)
    events = sorted([(d["start"], 1) for d in done] + [(d["end"], -1) for d in done],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2, peak
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_reserved_concurrency_zero_leaves_messages_in_the_queue(lam, sqs, hako):
    fn = consumer(lam)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    url, arn = new_queue(sqs)
    c = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    settled(lam, c["UUID"])
    sqs.send_message(QueueUrl=url, MessageBody="waits")
    time.sleep(2)
    assert counts(sqs, url) == (1, 0) and not seen(hako, fn)
    lam.delete_function_concurrency(FunctionName=fn)
    wait_for(lambda: seen(hako, fn), what="delivery once the function may run", timeout_s=10)
    lam.delete_event_source_mapping(UUID=c["UUID"])


def test_mappings_resume_after_a_restart_and_kill_9_loses_nothing(hako_factory):
    server = hako_factory()
    lam2, sqs2 = boto_lambda_client(server.endpoint), sqs_client(server.endpoint)
    fn = consumer(lam2, sleep_ms=300)
    url, arn = new_queue(sqs2, VisibilityTimeout="2")
    c = lam2.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=5,
                                         ScalingConfig={"MaximumConcurrency": 2})
    settled(lam2, c["UUID"])
    server.restart()
    lam2, sqs2 = boto_lambda_client(server.endpoint), sqs_client(server.endpoint)
    assert lam2.get_event_source_mapping(UUID=c["UUID"])["State"] == "Enabled"
    bodies = {f"k{i}" for i in range(40)}
    for i in range(0, 40, 10):
        sqs2.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": f"k{j}"} for j in range(i, i + 10)])
    # Killed while batches are being delivered.
    wait_for(lambda: len(seen(server, fn)) >= 10, what="delivery under way", timeout_s=20)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.start()
    lam2, sqs2 = boto_lambda_client(server.endpoint), sqs_client(server.endpoint)
    wait_for(lambda: counts(sqs2, url) == (0, 0), what="every message handled after the restart",
             timeout_s=60)
    # A message leaves the queue only once a batch holding it was handled: all were seen.
    assert {r["body"] for r in seen(server, fn)} == bodies
