"""SQS on Hako's front door: boto3 (JSON protocol), the aws CLI, the query protocol (signed
form posts, XML answers), FIFO, redrive, long polling, message move tasks, and kill -9.

Expected answers are AWS's: botocore's SQS model (sqs/2012-11-05/service-2.json) and the
answers recorded against AWS in LocalStack's tests/aws/services/sqs/test_sqs.snapshot.json and
test_sqs_move_task.snapshot.json (test names cited beside each assertion)."""

import hashlib
import json
import os
import signal
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import subprocess
from pathlib import Path

from conftest import (CREDENTIALS, REGION, aws_cli_env, hako_cmd, run_aws, scrape_metrics,
                      unique_name, wait_for)

ACCOUNT = "123456789012"
NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


def sqs_client(endpoint, **config):
    cfg = {"retries": {"max_attempts": 1, "mode": "standard"}, "read_timeout": 60,
           "connect_timeout": 10, **config}
    return boto3.session.Session().client("sqs", endpoint_url=endpoint, region_name=REGION,
                                          config=Config(**cfg), **CREDENTIALS)


@pytest.fixture(scope="module")
def sqs(hako):
    return sqs_client(hako.endpoint)


def error_of(ei):
    e = ei.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def new_queue(sqs, prefix="q", **attrs):
    name = unique_name(prefix)
    if attrs.get("FifoQueue") == "true":
        name += ".fifo"
    return sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# -- queues ---------------------------------------------------------------------------------------
def test_queue_lifecycle_with_boto3(hako, sqs):
    name = unique_name("life")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"},
                           tags={"team": "a"})["QueueUrl"]
    assert url == f"{hako.endpoint}/{ACCOUNT}/{name}"
    # Idempotent with equal attributes; QueueAlreadyExists otherwise (AWS's answer in
    # test_create_queue_with_different_attributes_raises_exception).
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert error_of(ei) == ("QueueAlreadyExists", 400, "A queue already exists with the same name "
                            "and a different value for attribute VisibilityTimeout")
    assert ei.value.response["Error"]["QueryErrorCode"] == "QueueNameExists"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert a["VisibilityTimeout"] == "45"
    # The defaults AWS answered in test_fifo_set_content_based_deduplication_strategy.
    for k, v in {"DelaySeconds": "0", "MaximumMessageSize": "1048576",
                 "MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0",
                 "SqsManagedSseEnabled": "true", "ApproximateNumberOfMessages": "0",
                 "ApproximateNumberOfMessagesNotVisible": "0",
                 "ApproximateNumberOfMessagesDelayed": "0"}.items():
        assert a[k] == v, k
    assert abs(int(a["CreatedTimestamp"]) - time.time()) < 60
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2",
                                                       "Policy": json.dumps({"Version": "2012-10-17"})})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds", "Policy"])["Attributes"]
    assert a["DelaySeconds"] == "2" and json.loads(a["Policy"]) == {"Version": "2012-10-17"}
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    assert url in sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    sqs.delete_queue(QueueUrl=url)
    # AWS's answer in test_non_existent_queue (JSON protocol).
    with pytest.raises(ClientError) as ei:
        sqs.get_queue_url(QueueName=name)
    assert error_of(ei) == ("AWS.SimpleQueueService.NonExistentQueue", 400,
                            "The specified queue does not exist.")
    assert ei.value.response["Error"]["QueryErrorCode"] == "QueueDoesNotExist"
    # botocore's modeled exception class matches the query code's shape.
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


def test_list_queues_paginates(sqs):
    prefix = unique_name("page")
    urls = sorted(sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5))
    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert first["QueueUrls"] == urls[:2] and "NextToken" in first
    seen = list(first["QueueUrls"])
    token = first["NextToken"]
    while token:
        page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=token)
        seen += page["QueueUrls"]
        token = page.get("NextToken")
    assert seen == urls


def test_attribute_validation_is_awss(sqs):
    # AWS's answers in test_create_standard_queue_with_fifo_attribute_raises_error and
    # test_set_unsupported_attribute_fifo.
    with pytest.raises(ClientError) as ei:
        sqs.create_queue(QueueName=unique_name("v"), Attributes={"ContentBasedDeduplication": "true"})
    assert error_of(ei) == ("InvalidAttributeName", 400, "Unknown Attribute ContentBasedDeduplication.")
    url = new_queue(sqs)
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert error_of(ei) == ("InvalidAttributeName", 400, "Unknown Attribute FifoQueue.")
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    assert error_of(ei)[:2] == ("InvalidAttributeValue", 400)
    furl = new_queue(sqs, FifoQueue="true")
    with pytest.raises(ClientError) as ei:
        sqs.set_queue_attributes(QueueUrl=furl, Attributes={"FifoQueue": "false"})
    assert error_of(ei) == ("InvalidAttributeValue", 400, "Invalid value for the parameter FifoQueue. "
                            "Reason: Modifying queue type is not supported.")


# -- messages -------------------------------------------------------------------------------------
def test_send_receive_delete_with_md5s_and_attributes(sqs):
    url = new_queue(sqs)
    attrs = {"s": {"DataType": "String", "StringValue": "hello"},
             "n": {"DataType": "Number", "StringValue": "42"},
             "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    # botocore does not check MD5s; the values are recomputed here as the Java SDK checks them.
    r = sqs.send_message(QueueUrl=url, MessageBody="body-1", MessageAttributes=attrs,
                         MessageSystemAttributes={"AWSTraceHeader": {
                             "DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    assert r["MD5OfMessageBody"] == hashlib.md5(b"body-1").hexdigest()
    assert r["MD5OfMessageAttributes"] == attributes_md5(attrs)
    assert r["MD5OfMessageSystemAttributes"] == attributes_md5(
        {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
    m = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"],
                            MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert len(m) == 1
    m = m[0]
    assert m["MessageId"] == r["MessageId"] and m["Body"] == "body-1"
    assert m["MD5OfBody"] == r["MD5OfMessageBody"]
    assert m["MessageAttributes"] == {
        "s": {"DataType": "String", "StringValue": "hello"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    assert m["MD5OfMessageAttributes"] == r["MD5OfMessageAttributes"]
    a = m["Attributes"]
    assert a["ApproximateReceiveCount"] == "1"
    assert a["SenderId"] == CREDENTIALS["aws_access_key_id"]
    assert abs(int(a["SentTimestamp"]) / 1000 - time.time()) < 60
    assert int(a["ApproximateFirstReceiveTimestamp"]) >= int(a["SentTimestamp"])
    assert a["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    # AWS's answers in test_delete_message_with_illegal_receipt_handle (validated against AWS)
    # and test_send_empty_message.
    with pytest.raises(ClientError) as ei:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert error_of(ei)[0] == "ReceiptHandleIsInvalid"
    assert error_of(ei)[2] == 'The input receipt handle "garbage" is not a valid receipt handle.'
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="")
    assert error_of(ei) == ("MissingParameter", 400, "The request must contain the parameter MessageBody.")
    # test_send_receive_max_number_of_messages, test_send_receive_wait_time_seconds.
    with pytest.raises(ClientError) as ei:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert error_of(ei) == ("InvalidParameterValue", 400, "Value 11 for parameter MaxNumberOfMessages "
                            "is invalid. Reason: Must be between 1 and 10, if provided.")
    with pytest.raises(ClientError) as ei:
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    assert error_of(ei)[2] == ("Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be "
                               ">= 0 and <= 20, if provided.")


def attributes_md5(attrs):
    """AWS's MD5 of message attributes (as the AWS SDK for Java's checksum handler computes it)."""
    h = hashlib.md5()
    for name in sorted(attrs):
        v = attrs[name]
        for part in (name.encode(), v["DataType"].encode()):
            h.update(len(part).to_bytes(4, "big") + part)
        if "StringValue" in v:
            data = v["StringValue"].encode()
            h.update(b"\x01" + len(data).to_bytes(4, "big") + data)
        else:
            data = v["BinaryValue"]
            h.update(b"\x02" + len(data).to_bytes(4, "big") + data)
    return h.hexdigest()


def test_visibility_timeout_and_stale_receipt_handles(sqs):
    url = new_queue(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    second = wait_for(lambda: sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])
                      .get("Messages"), "the message back after its visibility timeout", 5)[0]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    # The earlier handle no longer changes the message (the answer of LocalStack's validated
    # test_change_message_visibility_after_visibility_timeout_expiration wording).
    with pytest.raises(ClientError) as ei:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"],
                                      VisibilityTimeout=30)
    assert error_of(ei)[0] == "InvalidParameterValue"
    assert "Message does not exist or is not available for visibility timeout change." in error_of(ei)[2]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessages"] == "0" and a["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_delay_seconds_and_counts(sqs):
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    sqs.send_message(QueueUrl=url, MessageBody="now")
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessagesDelayed"] == "1"
    assert a["ApproximateNumberOfMessages"] == "1"
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["now"]
    # Long polling is answered when the delayed message becomes visible.
    started = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in got] == ["later"]
    assert time.monotonic() - started < 2.5


def test_batches(sqs):
    url = new_queue(sqs)
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"m{i}", "MessageBody": f"b{i}"} for i in range(10)])
    assert sorted(e["Id"] for e in r["Successful"]) == [f"m{i}" for i in range(10)]
    assert r.get("Failed", []) == []
    for e in r["Successful"]:
        assert e["MD5OfMessageBody"] == hashlib.md5(f"b{e['Id'][1:]}".encode()).hexdigest()
    # test_too_many_entries_in_batch_request, test_invalid_batch_id.
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(20)])
    assert error_of(ei) == ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                            "Maximum number of entries per request are 10. You have sent 20.")
    with pytest.raises(ClientError) as ei:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a:b", "MessageBody": "x"}])
    assert error_of(ei) == ("AWS.SimpleQueueService.InvalidBatchEntryId", 400,
                            "A batch entry id can only contain alphanumeric characters, hyphens and "
                            "underscores. It can be at most 80 letters long.")
    got = []
    while len(got) < 10:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    c = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 60},
        {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 60}])
    assert [e["Id"] for e in c["Successful"]] == ["ok"]
    assert c["Failed"][0]["Id"] == "bad" and c["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert c["Failed"][0]["SenderFault"] is True
    d = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    assert len(d["Successful"]) == 10
    sqs.send_message(QueueUrl=url, MessageBody="p")
    sqs.purge_queue(QueueUrl=url)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"
    # test_successive_purge_calls_fail.
    with pytest.raises(ClientError) as ei:
        sqs.purge_queue(QueueUrl=url)
    code, status, msg = error_of(ei)
    assert (code, status) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)
    assert msg == f"Only one PurgeQueue operation on {url.rsplit('/', 1)[1]} is allowed every 60 seconds."


# -- FIFO -----------------------------------------------------------------------------------------
def test_fifo_order_groups_and_deduplication(sqs):
    url = new_queue(sqs, FifoQueue="true")
    # test_posting_to_fifo_requires_deduplicationid_group_id, test_send_batch_missing_*.
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert error_of(ei) == ("MissingParameter", 400, "The request must contain the parameter MessageGroupId.")
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert error_of(ei) == ("InvalidParameterValue", 400, "The queue should either have "
                            "ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
    # test_fifo_queue_send_message_with_delay_seconds_fails.
    with pytest.raises(ClientError) as ei:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                         DelaySeconds=2)
    assert error_of(ei)[2] == ("Value 2 for parameter DelaySeconds is invalid. Reason: The request include "
                               "parameter that is not valid for this queue type.")
    seqs = []
    for i in range(3):
        r = sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="a",
                             MessageDeduplicationId=f"a{i}")
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(str(seqs[0])) == 20
    sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="b", MessageDeduplicationId="b0")
    dup = sqs.send_message(QueueUrl=url, MessageBody="again", MessageGroupId="a", MessageDeduplicationId="a0")
    assert int(dup["SequenceNumber"]) == seqs[0]
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, MessageSystemAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a1"]
    assert first[0]["Attributes"]["MessageGroupId"] == "a"
    assert first[0]["Attributes"]["MessageDeduplicationId"] == "a0"
    assert int(first[0]["Attributes"]["SequenceNumber"]) == seqs[0]
    # Group a is blocked while it has messages in flight; b is served.
    other = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in other] == ["b0"]
    for m in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["a2"]
    # Content-based deduplication by the body's SHA-256.
    curl = new_queue(sqs, FifoQueue="true", ContentBasedDeduplication="true")
    x = sqs.send_message(QueueUrl=curl, MessageBody="same", MessageGroupId="g")
    y = sqs.send_message(QueueUrl=curl, MessageBody="same", MessageGroupId="g")
    assert x["MessageId"] == y["MessageId"]
    m = sqs.receive_message(QueueUrl=curl, MessageSystemAttributeNames=["MessageDeduplicationId"])["Messages"]
    assert m[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()


# -- redrive and move tasks ------------------------------------------------------------------------
def test_redrive_to_dlq_sources_and_move_task(sqs):
    dlq = new_queue(sqs, "dlq")
    dlq_arn = arn_of(sqs, dlq)
    src = new_queue(sqs, "src", VisibilityTimeout="1",
                    RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    src_arn = arn_of(sqs, src)
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison",
                            MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    receives = 0
    deadline = time.monotonic() + 15
    while receives < 2:
        assert time.monotonic() < deadline
        receives += len(sqs.receive_message(QueueUrl=src, WaitTimeSeconds=2).get("Messages", []))
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1).get("Messages") is None
                     and sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"],
                                             MessageAttributeNames=["All"], VisibilityTimeout=0).get("Messages"),
                     "the message in the dead-letter queue", 10)
    assert moved[0]["MessageId"] == sent["MessageId"]
    assert moved[0]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert moved[0]["Attributes"]["DeadLetterQueueSourceArn"] == src_arn
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    # test_source_needs_redrive_policy, test_destination_needs_to_exist.
    with pytest.raises(ClientError) as ei:
        sqs.start_message_move_task(SourceArn=src_arn)
    assert error_of(ei) == ("InvalidParameterValue", 400, "Source queue must be configured as a Dead Letter Queue.")
    with pytest.raises(ClientError) as ei:
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=src_arn + "-nope")
    assert error_of(ei) == ("ResourceNotFoundException", 404,
                            "The resource that you specified for the DestinationArn parameter doesn't exist.")
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    done = wait_for(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
                             if t["Status"] == "COMPLETED"], "the move task to complete", 10)
    assert done[0]["ApproximateNumberOfMessagesMoved"] == 1
    assert done[0]["ApproximateNumberOfMessagesToMove"] == 1
    back = sqs.receive_message(QueueUrl=src, WaitTimeSeconds=2)["Messages"]
    assert back[0]["Body"] == "poison"
    # test_cancel_with_invalid_task_handle.
    with pytest.raises(ClientError) as ei:
        sqs.cancel_message_move_task(TaskHandle="not-a-handle")
    assert error_of(ei) == ("InvalidParameterValue", 400, "Value for parameter TaskHandle is invalid.")


# -- long polling -----------------------------------------------------------------------------------
def test_long_poll_answers_when_a_message_is_sent(hako, sqs):
    url = new_queue(sqs)
    result = {}

    def wait():
        c = sqs_client(hako.endpoint)
        started = time.monotonic()
        result["messages"] = c.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        result["done"] = time.monotonic()
        result["waited"] = result["done"] - started

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.5)
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(timeout=10)
    assert not t.is_alive()
    assert [m["Body"] for m in result["messages"]] == ["wake up"]
    assert result["done"] - sent_at < 1.0, result
    assert result["waited"] < 5


# -- the aws CLI -------------------------------------------------------------------------------------
def test_aws_cli(hako):
    name = unique_name("cli")
    rc, out, err = run_aws(hako.endpoint, "sqs", "create-queue", "--queue-name", name, parse_json=True)
    assert rc == 0, err
    url = out["QueueUrl"]
    rc, out, err = run_aws(hako.endpoint, "sqs", "send-message", "--queue-url", url,
                           "--message-body", "from the cli", parse_json=True)
    assert rc == 0, err
    assert out["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    rc, out, err = run_aws(hako.endpoint, "sqs", "receive-message", "--queue-url", url,
                           "--wait-time-seconds", "1", parse_json=True)
    assert rc == 0, err
    assert out["Messages"][0]["Body"] == "from the cli"
    rc, _, err = run_aws(hako.endpoint, "sqs", "delete-message", "--queue-url", url,
                         "--receipt-handle", out["Messages"][0]["ReceiptHandle"])
    assert rc == 0, err
    rc, out, err = run_aws(hako.endpoint, "sqs", "list-queues", "--queue-name-prefix", name, parse_json=True)
    assert rc == 0 and out["QueueUrls"] == [url], err
    rc, _, err = run_aws(hako.endpoint, "sqs", "get-queue-url", "--queue-name", name + "-nope")
    assert rc != 0 and "AWS.SimpleQueueService.NonExistentQueue" in err, err


# -- the query protocol -------------------------------------------------------------------------------
def query(endpoint, params, path="/"):
    """A signed form post of the query protocol (Version=2012-11-05) to `path`; returns
    (status, parsed XML root)."""
    creds = botocore.credentials.Credentials(CREDENTIALS["aws_access_key_id"],
                                             CREDENTIALS["aws_secret_access_key"])
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"})
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=endpoint + path, data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(creds, "sqs", REGION).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=body.encode(), method="POST",
                               headers=dict(prepared.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, ET.fromstring(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


import urllib.parse  # noqa: E402


def test_query_protocol_answers_in_awss_xml(hako):
    ep = hako.endpoint
    name = unique_name("xml")
    # CreateQueue with Attribute.N.Name/Value, as AWS's Query API examples show.
    status, root = query(ep, {"Action": "CreateQueue", "QueueName": name,
                              "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40",
                              "Tag.1.Key": "k", "Tag.1.Value": "v"})
    assert status == 200
    assert root.tag == f"{NS}CreateQueueResponse"
    url = root.find(f"{NS}CreateQueueResult/{NS}QueueUrl").text
    assert url == f"{ep}/{ACCOUNT}/{name}"
    assert root.find(f"{NS}ResponseMetadata/{NS}RequestId").text
    # SendMessage posted to the queue's URL, with a message attribute.
    status, root = query(ep, {"Action": "SendMessage", "MessageBody": "via query",
                              "MessageAttribute.1.Name": "a",
                              "MessageAttribute.1.Value.DataType": "String",
                              "MessageAttribute.1.Value.StringValue": "x"},
                         path=f"/{ACCOUNT}/{name}")
    assert status == 200
    res = root.find(f"{NS}SendMessageResult")
    assert res.find(f"{NS}MD5OfMessageBody").text == hashlib.md5(b"via query").hexdigest()
    assert res.find(f"{NS}MD5OfMessageAttributes").text == attributes_md5(
        {"a": {"DataType": "String", "StringValue": "x"}})
    status, root = query(ep, {"Action": "ReceiveMessage", "QueueUrl": url, "AttributeName.1": "All",
                              "MessageAttributeName.1": "All", "WaitTimeSeconds": "1"})
    assert status == 200
    msg = root.find(f"{NS}ReceiveMessageResult/{NS}Message")
    assert msg.find(f"{NS}Body").text == "via query"
    attrs = {a.find(f"{NS}Name").text: a.find(f"{NS}Value").text for a in msg.findall(f"{NS}Attribute")}
    assert attrs["ApproximateReceiveCount"] == "1"
    ma = msg.find(f"{NS}MessageAttribute")
    assert ma.find(f"{NS}Name").text == "a"
    assert ma.find(f"{NS}Value/{NS}StringValue").text == "x"
    assert ma.find(f"{NS}Value/{NS}DataType").text == "String"
    handle = msg.find(f"{NS}ReceiptHandle").text
    status, root = query(ep, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
    attrs = {a.find(f"{NS}Name").text: a.find(f"{NS}Value").text
             for a in root.findall(f"{NS}GetQueueAttributesResult/{NS}Attribute")}
    assert attrs["VisibilityTimeout"] == "40" and attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    status, root = query(ep, {"Action": "DeleteMessageBatch", "QueueUrl": url,
                              "DeleteMessageBatchRequestEntry.1.Id": "one",
                              "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle})
    assert status == 200
    entry = root.find(f"{NS}DeleteMessageBatchResult/{NS}DeleteMessageBatchResultEntry")
    assert entry.find(f"{NS}Id").text == "one"
    status, root = query(ep, {"Action": "ListQueueTags", "QueueUrl": url})
    tag = root.find(f"{NS}ListQueueTagsResult/{NS}Tag")
    assert (tag.find(f"{NS}Key").text, tag.find(f"{NS}Value").text) == ("k", "v")
    status, root = query(ep, {"Action": "ListQueues", "QueueNamePrefix": name})
    assert [u.text for u in root.findall(f"{NS}ListQueuesResult/{NS}QueueUrl")] == [url]
    status, root = query(ep, {"Action": "DeleteQueue", "QueueUrl": url})
    assert status == 200 and root.tag == f"{NS}DeleteQueueResponse"
    # AWS's query answer in test_non_existent_queue (sqs_query).
    status, root = query(ep, {"Action": "GetQueueUrl", "QueueName": name})
    assert status == 400 and root.tag == f"{NS}ErrorResponse"
    err = root.find(f"{NS}Error")
    assert err.find(f"{NS}Type").text == "Sender"
    assert err.find(f"{NS}Code").text == "AWS.SimpleQueueService.NonExistentQueue"
    assert err.find(f"{NS}Message").text == "The specified queue does not exist for this wsdl version."
    status, root = query(ep, {"Action": "NoSuchAction"})
    assert status == 400 and root.find(f"{NS}Error/{NS}Code").text == "InvalidAction"


def test_aws_cli_v2_9_speaks_the_query_protocol(hako):
    """Debian's aws CLI 2.9 (scripts/test installs it) predates SQS's move to JSON: a real client of
    the query protocol, parsing Hako's XML with its own model."""
    cli = Path("/usr/bin/aws")
    assert cli.exists(), "scripts/test installs Debian's awscli (2.9) for this test"

    def aws(*args):
        p = subprocess.run([str(cli), "--endpoint-url", hako.endpoint, "--region", REGION, "--debug",
                            *args], capture_output=True, timeout=60, env=aws_cli_env())
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    name = unique_name("cli29")
    rc, out, err = aws("sqs", "create-queue", "--queue-name", name, "--attributes", "DelaySeconds=0",
                       "--tags", "k=v")
    assert rc == 0, err
    assert "'Action': 'CreateQueue'" in err and "X-Amz-Target" not in err  # the query protocol
    url = json.loads(out)["QueueUrl"]
    rc, out, err = aws("sqs", "send-message", "--queue-url", url, "--message-body", "q",
                       "--message-attributes", '{"a":{"DataType":"String","StringValue":"x"}}')
    assert rc == 0, err
    assert json.loads(out)["MD5OfMessageAttributes"] == attributes_md5(
        {"a": {"DataType": "String", "StringValue": "x"}})
    rc, out, err = aws("sqs", "send-message-batch", "--queue-url", url, "--entries",
                       "Id=1,MessageBody=b1", "Id=2,MessageBody=b2")
    assert rc == 0 and sorted(e["Id"] for e in json.loads(out)["Successful"]) == ["1", "2"], err
    rc, out, err = aws("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
                       "--attribute-names", "All", "--message-attribute-names", "All",
                       "--wait-time-seconds", "1")
    assert rc == 0, err
    msgs = json.loads(out)["Messages"]
    assert sorted(m["Body"] for m in msgs) == ["b1", "b2", "q"]
    first = next(m for m in msgs if m["Body"] == "q")
    assert first["MessageAttributes"] == {"a": {"DataType": "String", "StringValue": "x"}}
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    rc, out, err = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
    assert rc == 0 and json.loads(out)["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "3", err
    rc, out, err = aws("sqs", "list-queue-tags", "--queue-url", url)
    assert rc == 0 and json.loads(out)["Tags"] == {"k": "v"}, err
    rc, out, err = aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle",
                       first["ReceiptHandle"])
    assert rc == 0, err
    rc, out, err = aws("sqs", "get-queue-url", "--queue-name", name + "-nope")
    assert rc != 0
    assert "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl" in err
    assert "The specified queue does not exist for this wsdl version." in err


# -- metrics and `hako queues` ----------------------------------------------------------------------
def test_metrics_and_hako_queues(hako, sqs):
    name = unique_name("met")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.send_message(QueueUrl=url, MessageBody="d", DelaySeconds=60)
    got = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    sqs.receive_message(QueueUrl=url)
    text = scrape_metrics(hako.endpoint)
    label = f'{{queue_name="{name}"}}'
    for metric, value in [("hako_sqs_approximate_number_of_messages_visible", 1),
                          ("hako_sqs_approximate_number_of_messages_not_visible", 1),
                          ("hako_sqs_approximate_number_of_messages_delayed", 1),
                          ("hako_sqs_number_of_messages_sent_total", 4),
                          ("hako_sqs_number_of_messages_received_total", 2),
                          ("hako_sqs_number_of_messages_deleted_total", 1)]:
        assert f"{metric}{label} {value}\n" in text, (metric, text)
    assert text.count("# EOF") == 1 and text.endswith("# EOF\n")
    # Lambda's families are still there.
    assert "hako_lambda_account_concurrent_executions" in text
    p = subprocess.run(hako_cmd("queues", "--data-dir", str(hako.data_dir)), capture_output=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    row = next(line.split() for line in p.stdout.decode().splitlines() if line.startswith(name + " "))
    assert row[1:5] == ["standard", "1", "1", "1"], row


# -- kill -9 --------------------------------------------------------------------------------------------
def test_kill_9_loses_no_acknowledged_message(hako_factory):
    server = hako_factory()
    c = sqs_client(server.endpoint)
    url = c.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "8"})["QueueUrl"]
    furl = c.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    n = 300
    acked = set()
    for i in range(0, n, 10):
        r = c.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": f"m{j}"} for j in range(i, i + 10)])
        assert not r.get("Failed")
        acked |= {e["MessageId"] for e in r["Successful"]}
    for i in range(20):
        r = c.send_message(QueueUrl=furl, MessageBody=f"f{i}", MessageGroupId=f"g{i % 3}",
                           MessageDeduplicationId=f"d{i}")
        acked.add(r["MessageId"])
    inflight = []
    for _ in range(5):
        inflight += c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(inflight) == 50
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=10)
    server.start()
    c = sqs_client(server.endpoint)
    a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]) == n
    # The in-flight messages stay invisible until their visibility timeout ends, then come back.
    assert a["ApproximateNumberOfMessagesNotVisible"] == "50"
    got = {}
    deadline = time.monotonic() + 30
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} messages came back"
        for m in c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=60).get("Messages", []):
            got[m["MessageId"]] = m["Body"]
    assert {m["MessageId"] for m in inflight} <= set(got)
    fifo = []
    while True:
        ms = c.receive_message(QueueUrl=furl, MaxNumberOfMessages=10).get("Messages", [])
        if not ms:
            break
        for m in ms:
            fifo.append(m)
            c.delete_message(QueueUrl=furl, ReceiptHandle=m["ReceiptHandle"])
    assert set(got) | {m["MessageId"] for m in fifo} == acked
    # Per group, the order survived.
    for g in range(3):
        bodies = [int(m["Body"][1:]) for m in fifo if int(m["Body"][1:]) % 3 == g]
        assert bodies == sorted(bodies)
