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


def test_kill_9_loses_no_acknowledged_record(hako_factory):
    """PutRecords with acknowledgements while Hako is killed with SIGKILL (by its pid); after a
    restart on the same data dir every acknowledged record is there, in order, with the sequence
    number it was acknowledged with, and new records get greater ones."""
    import threading
    s = hako_factory()
    k = kinesis_client(s.endpoint)
    name = make_stream(k, shards=2)
    acked = []  # (shard id, sequence number, data), in acknowledgement order
    stop = threading.Event()
    failure = []

    def send():
        c = kinesis_client(s.endpoint)
        n = 0
        while not stop.is_set():
            batch = [{"Data": f"r{n + i}".encode(), "PartitionKey": f"k{(n + i) % 7}"}
                     for i in range(100)]
            try:
                r = c.put_records(StreamName=name, Records=batch)
            except Exception as e:  # the kill: connection refused or reset
                failure.append(e)
                return
            assert r["FailedRecordCount"] == 0
            for e, res in zip(batch, r["Records"]):
                acked.append((res["ShardId"], res["SequenceNumber"], e["Data"]))
            n += len(batch)

    t = threading.Thread(target=send, name="sender", daemon=True)
    t.start()
    wait_for(lambda: len(acked) >= 2000, "2000 acknowledged records", timeout_s=60)
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait(timeout=10)
    t.join(timeout=30)
    stop.set()
    assert failure, "the sender was not stopped by the kill"
    s.restart()
    k = kinesis_client(s.endpoint)
    for shard_id in ("shardId-000000000000", "shardId-000000000001"):
        want = [(seq, data) for sh, seq, data in acked if sh == shard_id]
        got = [(r["SequenceNumber"], r["Data"]) for r in read_all(k, name, shard_id)]
        # Every acknowledged record, in order; at most the unacknowledged tail of the last
        # batch (committed, its answer lost to the kill) after them.
        assert got[:len(want)] == want, f"{shard_id}: {len(got)} read, {len(want)} acknowledged"
        assert len(got) - len(want) <= 100
        after = k.put_record(StreamName=name, Data=b"after", PartitionKey="x",
                             ExplicitHashKey="0" if shard_id.endswith("0") else str(2**128 - 1))
        assert after["ShardId"] == shard_id
        assert int(after["SequenceNumber"]) > int(got[-1][0])


def test_metrics(hako):
    k = kinesis_client(hako.endpoint)
    name = make_stream(k)
    k.put_records(StreamName=name, Records=[{"Data": b"abc", "PartitionKey": "k"}] * 3)
    it = k.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert len(k.get_records(ShardIterator=it)["Records"]) == 3
    text = scrape_metrics(hako.endpoint)

    def sample(metric):
        total = 0.0
        for line in text.splitlines():
            if line.startswith(metric + "{") and f'stream="{name}"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    # AWS's names: IncomingRecords, IncomingBytes (data and keys), GetRecords.Records,
    # GetRecords.IteratorAgeMilliseconds.
    assert sample("hako_kinesis_incoming_records_total") == 3
    assert sample("hako_kinesis_incoming_bytes_total") == 12
    assert sample("hako_kinesis_get_records_records_total") == 3
    assert sample("hako_kinesis_get_records_iterator_age_milliseconds") >= 0
    assert sample("hako_kinesis_stream_records") == 3
    assert text.rstrip().endswith("# EOF") and text.count("# EOF") == 1


def test_shard_write_rates_when_enforced(hako_factory):
    """With --kinesis-shard-write-limits a shard takes AWS's 1,000 records per second: PutRecords
    answers the rest one by one with ProvisionedThroughputExceededException and AWS's message
    (PutRecords API reference's example), and stores only what it acknowledged."""
    s = hako_factory(extra_args=["--kinesis-shard-write-limits"])
    k = kinesis_client(s.endpoint)
    name = make_stream(k)
    start = time.time()
    results = [k.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": f"k{i}"}
                                                       for i in range(500)])
               for _ in range(6)]
    seconds = int(time.time()) - int(start) + 1
    failed = sum(r["FailedRecordCount"] for r in results)
    assert failed >= 3000 - 1000 * seconds and failed > 0, (failed, seconds)
    refused = [e for r in results for e in r["Records"] if "ErrorCode" in e]
    assert len(refused) == failed
    assert all(e["ErrorCode"] == "ProvisionedThroughputExceededException" for e in refused)
    assert refused[0]["ErrorMessage"] == (
        f"Rate exceeded for shard shardId-000000000000 in stream {name} under account {ACCOUNT}.")
    assert "SequenceNumber" not in refused[0]
    assert len(read_all(k, name, "shardId-000000000000")) == 3000 - failed


def test_cbor_as_the_java_sdks_send_it(hako):
    """The Java SDKs (and the KCL) send `application/x-amz-cbor-1.1` by default: blobs as byte
    strings, timestamps as tag 1 over epoch milliseconds (LocalStack's AWS-validated
    test_subscribe_to_shard_with_at_timestamp_cbor and test_cbor_blob_handling); errors come
    back in CBOR too (test_cbor_exceptions)."""
    import urllib.request
    import urllib.error
    import cbor2

    def post(op, payload):
        req = urllib.request.Request(hako.endpoint + "/", data=cbor2.dumps(payload), method="POST",
                                     headers={"Content-Type": "application/x-amz-cbor-1.1",
                                              "X-Amz-Target": f"Kinesis_20131202.{op}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers["content-type"], r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers["content-type"], e.read()

    k = kinesis_client(hako.endpoint)
    name = make_stream(k)
    status, ctype, body = post("PutRecord", {"StreamName": name, "Data": b"\x00cbor\xff",
                                             "PartitionKey": "k"})
    assert (status, ctype) == (200, "application/x-amz-cbor-1.1")
    seq = cbor2.loads(body)["SequenceNumber"]
    it = k.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    status, _, body = post("GetRecords", {"ShardIterator": it})
    assert status == 200
    # Tag 1 (0xc1) over an integer of milliseconds (0x1b: uint64), not a float (0xfb).
    assert b"ApproximateArrivalTimestamp\xc1\x1b" in body
    # cbor2 reads tag 1 as seconds (the RFC's); read AWS's milliseconds as an unknown tag 6.
    patched = body.replace(b"ApproximateArrivalTimestamp\xc1", b"ApproximateArrivalTimestamp\xc6")
    rec = cbor2.loads(patched)["Records"][0]
    assert rec["Data"] == b"\x00cbor\xff" and rec["SequenceNumber"] == seq
    assert rec["ApproximateArrivalTimestamp"].tag == 6
    assert abs(rec["ApproximateArrivalTimestamp"].value / 1000 - time.time()) < 120
    now_ms = int(time.time() * 1000)
    status, _, body = post("GetShardIterator", {
        "StreamName": name, "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP",
        "Timestamp": cbor2.CBORTag(1, now_ms - 60_000)})
    assert status == 200, cbor2.loads(body)
    status, ctype, body = post("DescribeStream", {"StreamName": "wrong-stream-name"})
    assert (status, ctype) == (400, "application/x-amz-cbor-1.1")
    assert cbor2.loads(body) == {"__type": "ResourceNotFoundException",
                                 "message": f"Stream wrong-stream-name under account {ACCOUNT} not found."}


def test_hako_streams_lists_streams_beside_a_running_server(hako):
    k = kinesis_client(hako.endpoint)
    name = make_stream(k, shards=2)
    k.put_records(StreamName=name, Records=[{"Data": b"12345", "PartitionKey": f"k{i}"}
                                            for i in range(4)])
    p = subprocess.run(hako_cmd("streams", "--data-dir", str(hako.data_dir), "--json"),
                       capture_output=True, timeout=30, env=hako_env())
    assert p.returncode == 0, p.stderr
    rows = {r["name"]: r for r in map(json.loads, p.stdout.decode().splitlines())}
    assert rows[name]["status"] == "ACTIVE" and rows[name]["shards"] == 2
    assert rows[name]["records"] == 4 and rows[name]["bytes"] == 4 * (5 + 2)
    p = subprocess.run(hako_cmd("streams", "--data-dir", str(hako.data_dir)),
                       capture_output=True, timeout=30, env=hako_env())
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[0].split() == ["STREAM", "STATUS", "MODE", "SHARDS", "RETENTION", "RECORDS", "BYTES"]
    assert any(l.split()[:4] == [name, "ACTIVE", "PROVISIONED", "2"] for l in lines[1:])
