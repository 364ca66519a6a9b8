"""Kinesis Data Streams through boto3 and the aws CLI, against the real binary.

AWS's answers asserted here come from: LocalStack's AWS-recorded snapshots
(tests/aws/services/kinesis/test_kinesis.snapshot.json: test_cbor_exceptions' "Stream
wrong-stream-name under account 111111111111 not found.", test_create_stream_without_shard_count's
four shards), kinesalite's tests (written against AWS: iterator and retention messages) and AWS's
API reference (limits, hash key ranges split evenly, 56-digit sequence numbers). Expiry of
iterators and retention are tested in virtual time in the crate's unit tests
(crates/kinesis/src/tests.rs); here they cannot be forced without waiting minutes.
"""

import base64
import hashlib
import json
import os
import signal
import subprocess
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from conftest import (CREDENTIALS, REGION, expect_client_error, run_aws, scrape_metrics,
                      metric_sample, unique_name, wait_for, HAKO_BIN, hako_cmd, hako_env)

ACCOUNT = "123456789012"


def kinesis_client(endpoint):
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60, connect_timeout=10)
    return boto3.session.Session().client("kinesis", endpoint_url=endpoint, region_name=REGION,
                                          config=cfg, **CREDENTIALS)


@pytest.fixture(scope="module")
def kinesis(hako):
    return kinesis_client(hako.endpoint)


def wait_active(k, name, timeout_s=10):
    def active():
        d = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return d["StreamStatus"] == "ACTIVE" and d
    return wait_for(active, f"stream {name} ACTIVE", timeout_s=timeout_s)


def make_stream(k, shards=1, **kw):
    name = unique_name("stream")
    if shards is None:
        k.create_stream(StreamName=name, **kw)
    else:
        k.create_stream(StreamName=name, ShardCount=shards, **kw)
    wait_active(k, name)
    return name


def expected_shard(shards, partition_key=None, explicit=None):
    """The shard whose HashKeyRange holds the MD5 of the partition key (or the explicit key)."""
    h = int(explicit) if explicit is not None else int.from_bytes(
        hashlib.md5(partition_key.encode()).digest(), "big")
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError(f"no shard holds {h}")


def read_all(k, name, shard_id, kind="TRIM_HORIZON", **kw):
    it = k.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=kind,
                              **kw)["ShardIterator"]
    out = []
    for _ in range(50):
        r = k.get_records(ShardIterator=it)
        out += r["Records"]
        it = r["NextShardIterator"]
        if not r["Records"] and r["MillisBehindLatest"] == 0:
            break
    return out


def test_create_describe_list_delete(kinesis):
    name = unique_name("stream")
    kinesis.create_stream(StreamName=name, ShardCount=3)
    # CREATING first, then ACTIVE after a short while.
    first = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert first["StreamStatus"] in ("CREATING", "ACTIVE")
    summary = wait_active(kinesis, name)
    assert summary["OpenShardCount"] == 3
    assert summary["RetentionPeriodHours"] == 24
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    arn = summary["StreamARN"]
    assert arn == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
    d = kinesis.describe_stream(StreamARN=arn)["StreamDescription"]
    assert d["StreamName"] == name and not d["HasMoreShards"]
    shards = d["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(3)]
    # Ranges split evenly over [0, 2^128 - 1], as AWS splits them.
    step = 2**128 // 3
    assert [int(s["HashKeyRange"]["StartingHashKey"]) for s in shards] == [0, step, 2 * step]
    assert int(shards[-1]["HashKeyRange"]["EndingHashKey"]) == 2**128 - 1
    assert all(len(s["SequenceNumberRange"]["StartingSequenceNumber"]) == 56 for s in shards)
    # Pages of DescribeStream and ListShards.
    page = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert len(page["Shards"]) == 2 and page["HasMoreShards"]
    ls = kinesis.list_shards(StreamName=name, MaxResults=2)
    assert [s["ShardId"] for s in ls["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    rest = kinesis.list_shards(NextToken=ls["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000002"]
    after = kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID",
                                                               "ShardId": "shardId-000000000000"})
    assert len(after["Shards"]) == 2
    # ListStreams with summaries, and pagination.
    other = make_stream(kinesis)
    names = kinesis.list_streams()["StreamNames"]
    assert name in names and other in names
    summaries = {s["StreamName"]: s for s in kinesis.list_streams()["StreamSummaries"]}
    assert summaries[name]["StreamARN"] == arn and summaries[name]["StreamStatus"] == "ACTIVE"
    seen, token = [], None
    while True:
        r = kinesis.list_streams(Limit=1, **({"NextToken": token} if token else {}))
        seen += r["StreamNames"]
        if not r["HasMoreStreams"]:
            break
        token = r["NextToken"]
    assert seen == sorted(names)
    # A second stream of the same name is refused.
    msg = expect_client_error("ResourceInUseException", 400, kinesis.create_stream,
                              StreamName=name, ShardCount=1)
    assert msg == f"Stream {name} under account {ACCOUNT} already exists."
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    wait_for(lambda: name not in kinesis.list_streams()["StreamNames"], "the stream gone")
    msg = expect_client_error("ResourceNotFoundException", 400, kinesis.describe_stream,
                              StreamName=name)
    assert msg == f"Stream {name} under account {ACCOUNT} not found."
    kinesis.delete_stream(StreamARN=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{other}")


def test_on_demand_stream(kinesis):
    name = unique_name("stream")
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = wait_active(kinesis, name)
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    # AWS's on-demand streams start with 4 shards (LocalStack's AWS-recorded
    # test_create_stream_without_shard_count).
    assert len(kinesis.list_shards(StreamName=name)["Shards"]) == 4
    kinesis.delete_stream(StreamName=name)


def test_records_hash_to_their_shard_and_come_back_in_order(kinesis):
    name = make_stream(kinesis, shards=4)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    sent = {}
    for i in range(30):
        key = f"user-{i}"
        r = kinesis.put_record(StreamName=name, Data=f"one-{i}".encode(), PartitionKey=key)
        assert r["ShardId"] == expected_shard(shards, key)
        assert len(r["SequenceNumber"]) == 56
        sent.setdefault(r["ShardId"], []).append((r["SequenceNumber"], f"one-{i}".encode(), key))
    entries = [{"Data": f"batch-{i}".encode(), "PartitionKey": f"b-{i}"} for i in range(200)]
    entries.append({"Data": b"explicit", "PartitionKey": "x", "ExplicitHashKey": str(2**128 - 1)})
    r = kinesis.put_records(StreamName=name, Records=entries)
    assert r["FailedRecordCount"] == 0 and len(r["Records"]) == len(entries)
    for e, res in zip(entries, r["Records"]):
        want = expected_shard(shards, e["PartitionKey"], e.get("ExplicitHashKey"))
        assert res["ShardId"] == want
        sent.setdefault(want, []).append((res["SequenceNumber"], e["Data"], e["PartitionKey"]))
    assert r["Records"][-1]["ShardId"] == "shardId-000000000003"
    total = 0
    for shard_id, expected in sent.items():
        got = read_all(kinesis, name, shard_id)
        assert [(g["SequenceNumber"], g["Data"], g["PartitionKey"]) for g in got] == expected
        seqs = [int(g["SequenceNumber"]) for g in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert all(abs(g["ApproximateArrivalTimestamp"].timestamp() - time.time()) < 120 for g in got)
        total += len(got)
    assert total == 231


def test_iterator_types_and_limits(kinesis):
    name = make_stream(kinesis)
    shard = "shardId-000000000000"
    first = kinesis.put_record(StreamName=name, Data=b"1", PartitionKey="k")
    time.sleep(1.1)
    stamp = time.time()
    time.sleep(0.05)
    second = kinesis.put_record(StreamName=name, Data=b"2", PartitionKey="k")
    latest = kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    kinesis.put_record(StreamName=name, Data=b"3", PartitionKey="k")

    def data(it, **kw):
        return [r["Data"] for r in kinesis.get_records(ShardIterator=it, **kw)["Records"]]

    assert data(latest) == [b"3"]
    at = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=second["SequenceNumber"])["ShardIterator"]
    assert data(at) == [b"2", b"3"]
    after = kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                       ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=first["SequenceNumber"])["ShardIterator"]
    assert data(after) == [b"2", b"3"]
    ts = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="AT_TIMESTAMP",
                                    Timestamp=stamp)["ShardIterator"]
    assert data(ts) == [b"2", b"3"]
    trim = kinesis.get_shard_iterator(StreamName=name, ShardId=shard,
                                      ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    one = kinesis.get_records(ShardIterator=trim, Limit=1)
    assert [r["Data"] for r in one["Records"]] == [b"1"]
    assert one["MillisBehindLatest"] > 0
    rest = kinesis.get_records(ShardIterator=one["NextShardIterator"])
    assert [r["Data"] for r in rest["Records"]] == [b"2", b"3"]
    assert rest["MillisBehindLatest"] == 0
    # Nothing new: no records, an iterator to go on with.
    empty = kinesis.get_records(ShardIterator=rest["NextShardIterator"])
    assert empty["Records"] == [] and empty["NextShardIterator"]
    # The StreamARN form of the calls.
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
    r = kinesis.put_record(StreamARN=arn, Data=b"4", PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamARN=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=r["SequenceNumber"])["ShardIterator"]
    assert data(it, StreamARN=arn) == [b"4"]


def test_errors(kinesis):
    name = make_stream(kinesis)
    shard = "shardId-000000000000"
    # LocalStack's AWS-recorded test_cbor_exceptions (same message in JSON).
    msg = expect_client_error("ResourceNotFoundException", 400, kinesis.describe_stream,
                              StreamName="wrong-stream-name")
    assert msg == f"Stream wrong-stream-name under account {ACCOUNT} not found."
    expect_client_error("ResourceNotFoundException", 400, kinesis.put_record,
                        StreamName="wrong-stream-name", Data=b"x", PartitionKey="k")
    msg = expect_client_error("ResourceNotFoundException", 400, kinesis.get_shard_iterator,
                              StreamName=name, ShardId="shardId-000000000007",
                              ShardIteratorType="LATEST")
    assert msg == f"Could not find shard shardId-000000000007 in stream {name} under account {ACCOUNT}."
    msg = expect_client_error("InvalidArgumentException", 400, kinesis.get_records,
                              ShardIterator="bm90IGFuIGl0ZXJhdG9y")
    assert msg == "Invalid ShardIterator."
    msg = expect_client_error("InvalidArgumentException", 400, kinesis.get_shard_iterator,
                              StreamName=name, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert msg.endswith("Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.")
    msg = expect_client_error("InvalidArgumentException", 400, kinesis.put_record, StreamName=name,
                              Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**128))
    assert msg.startswith("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1].")
    # Limits: a record over 1 MiB, more than 500 records, more than 5 MiB in one request.
    msg = expect_client_error("ValidationException", 400, kinesis.put_record, StreamName=name,
                              Data=b"x" * (1024 * 1024 + 1), PartitionKey="k")
    assert "Member must have length less than or equal to 1048576" in msg
    too_many = [{"Data": b"x", "PartitionKey": "k"}] * 501
    cfg = Config(parameter_validation=False, retries={"max_attempts": 1})
    raw = boto3.session.Session().client("kinesis", endpoint_url=kinesis.meta.endpoint_url,
                                         region_name=REGION, config=cfg, **CREDENTIALS)
    msg = expect_client_error("ValidationException", 400, raw.put_records, StreamName=name,
                              Records=too_many)
    assert "Member must have length less than or equal to 500" in msg
    msg = expect_client_error("InvalidArgumentException", 400, raw.put_records, StreamName=name,
                              Records=[{"Data": b"x" * (1024 * 1024), "PartitionKey": "k"}] * 5)
    assert msg == "Records size exceeds 5 MB limit"
    msg = expect_client_error("ValidationException", 400, raw.create_stream,
                              StreamName="bad name!", ShardCount=0)
    assert msg.startswith("2 validation errors detected: Value 'bad name!' at 'streamName'")
    expect_client_error("LimitExceededException", 400, kinesis.create_stream,
                        StreamName=unique_name("big"), ShardCount=100000)
    # Resharding and enhanced fan-out are not served yet: a clear error.
    code = expect_client_error("UnknownOperationException", 400, kinesis.split_shard,
                               StreamName=name, ShardToSplit=shard,
                               NewStartingHashKey=str(2**127))
    assert "SplitShard" in code and "README" in code


def test_retention_and_tags(kinesis):
    name = make_stream(kinesis)
    msg = expect_client_error("InvalidArgumentException", 400, kinesis.increase_stream_retention_period,
                              StreamName=name, RetentionPeriodHours=23)
    assert msg == ("Minimum allowed retention period is 24 hours. Requested retention period "
                   "(23 hours) is too short.")
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "RetentionPeriodHours"] == 48
    msg = expect_client_error("InvalidArgumentException", 400, kinesis.decrease_stream_retention_period,
                              StreamName=name, RetentionPeriodHours=72)
    assert msg == (f"Requested retention period (72 hours) for stream {name} can not be longer than "
                   "existing retention period (48 hours). Use IncreaseRetentionPeriod API.")
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "a", "env": "dev"})
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    r = kinesis.list_tags_for_stream(StreamName=name)
    assert r["Tags"] == [{"Key": "team", "Value": "a"}] and r["HasMoreTags"] is False


def test_aws_cli(hako):
    def aws(*args):
        rc, out, err = run_aws(hako.endpoint, "kinesis", *args, parse_json=True)
        assert rc == 0, err
        return out

    name = unique_name("cli")
    aws("create-stream", "--stream-name", name, "--shard-count", "2")
    wait_for(lambda: aws("describe-stream-summary", "--stream-name", name)[
        "StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", "ACTIVE")
    assert name in aws("list-streams")["StreamNames"]
    # aws CLI v1 takes a blob argument as raw text and base64-encodes it itself (v2 would want
    # base64 unless --cli-binary-format raw-in-base64-out).
    put = aws("put-record", "--stream-name", name, "--partition-key", "k", "--data", "hello cli")
    shards = aws("list-shards", "--stream-name", name)["Shards"]
    assert put["ShardId"] == expected_shard(shards, "k")
    it = aws("get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
             "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    recs = aws("get-records", "--shard-iterator", it)["Records"]
    assert [base64.b64decode(r["Data"]) for r in recs] == [b"hello cli"]
    assert recs[0]["SequenceNumber"] == put["SequenceNumber"]
    batch = aws("put-records", "--stream-name", name, "--records",
                json.dumps([{"Data": "b1", "PartitionKey": "p1"},
                            {"Data": "b2", "PartitionKey": "p2"}]))
    assert batch["FailedRecordCount"] == 0
    got = []
    for s in shards:
        it = aws("get-shard-iterator", "--stream-name", name, "--shard-id", s["ShardId"],
                 "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
        got += [base64.b64decode(r["Data"]) for r in aws("get-records", "--shard-iterator", it)["Records"]]
    assert sorted(got) == [b"b1", b"b2", b"hello cli"]
    aws("add-tags-to-stream", "--stream-name", name, "--tags", "a=1")
    assert aws("list-tags-for-stream", "--stream-name", name)["Tags"] == [{"Key": "a", "Value": "1"}]
    aws("increase-stream-retention-period", "--stream-name", name, "--retention-period-hours", "30")
    aws("decrease-stream-retention-period", "--stream-name", name, "--retention-period-hours", "24")
    rc, _, err = run_aws(hako.endpoint, "kinesis", "describe-stream", "--stream-name", "nope")
    assert rc != 0 and "ResourceNotFoundException" in err
    aws("delete-stream", "--stream-name", name)
