//! The application layer on an in-memory database and a virtual clock.

use std::sync::Arc;

use hako_model::clock::ManualClock;

use crate::model::{self, limits};
use crate::wire::*;
use crate::{Code, Kinesis, KinesisConfig};

const T0: i64 = 1_700_000_000_000;

fn kinesis() -> (Kinesis, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let k = Kinesis::in_memory(
        KinesisConfig::new("us-east-1", "123456789012"),
        clock.clone(),
    )
    .unwrap();
    (k, clock)
}

fn named(name: &str) -> StreamRef {
    StreamRef {
        stream_name: Some(name.into()),
        stream_arn: None,
    }
}

fn create(k: &Kinesis, clock: &ManualClock, name: &str, shards: i64) {
    k.create_stream(CreateStreamInput {
        stream_name: Some(name.into()),
        shard_count: Some(shards),
        ..Default::default()
    })
    .unwrap();
    clock.advance(1000);
}

fn put(k: &Kinesis, name: &str, key: &str, data: &[u8]) -> PutRecordOutput {
    k.put_record(PutRecordInput {
        stream: named(name),
        data: Some(Blob(data.to_vec())),
        partition_key: Some(key.into()),
        ..Default::default()
    })
    .unwrap()
}

fn iterator(k: &Kinesis, name: &str, shard: &str, kind: &str, seq: Option<&str>) -> String {
    k.get_shard_iterator(GetShardIteratorInput {
        stream: named(name),
        shard_id: Some(shard.into()),
        shard_iterator_type: Some(kind.into()),
        starting_sequence_number: seq.map(String::from),
        timestamp: None,
    })
    .unwrap()
    .shard_iterator
}

fn get(k: &Kinesis, it: &str, limit: Option<i64>) -> GetRecordsOutput {
    k.get_records(GetRecordsInput {
        shard_iterator: Some(it.into()),
        limit,
        stream_arn: None,
    })
    .unwrap()
}

fn status(k: &Kinesis, name: &str) -> String {
    k.describe_stream_summary(StreamOnlyInput {
        stream: named(name),
    })
    .unwrap()
    .stream_description_summary
    .stream_status
}

#[test]
fn a_stream_is_creating_then_active_and_deleting_then_gone() {
    let (k, clock) = kinesis();
    k.create_stream(CreateStreamInput {
        stream_name: Some("s".into()),
        shard_count: Some(2),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(status(&k, "s"), "CREATING");
    // Not writable while CREATING (AWS answers it as not found).
    let e = k
        .put_record(PutRecordInput {
            stream: named("s"),
            data: Some(Blob(b"x".to_vec())),
            partition_key: Some("k".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code, Code::ResourceNotFound);
    assert_eq!(e.message, "Stream s under account 123456789012 not found.");
    clock.advance(500);
    assert_eq!(status(&k, "s"), "ACTIVE");
    let e = k
        .create_stream(CreateStreamInput {
            stream_name: Some("s".into()),
            shard_count: Some(1),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            Code::ResourceInUse,
            "Stream s under account 123456789012 already exists."
        )
    );
    k.delete_stream(DeleteStreamInput {
        stream: named("s"),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(status(&k, "s"), "DELETING");
    clock.advance(500);
    let e = k
        .describe_stream_summary(StreamOnlyInput { stream: named("s") })
        .unwrap_err();
    assert_eq!(e.code, Code::ResourceNotFound);
    // The name can be used again.
    create(&k, &clock, "s", 1);
    assert_eq!(status(&k, "s"), "ACTIVE");
}

#[test]
fn on_demand_streams_have_four_shards() {
    let (k, clock) = kinesis();
    k.create_stream(CreateStreamInput {
        stream_name: Some("od".into()),
        ..Default::default()
    })
    .unwrap();
    clock.advance(1000);
    let d = k
        .describe_stream(DescribeStreamInput {
            stream: named("od"),
            ..Default::default()
        })
        .unwrap()
        .stream_description;
    assert_eq!(d.shards.len(), limits::ON_DEMAND_SHARDS as usize);
    assert_eq!(d.stream_mode_details.stream_mode, "ON_DEMAND");
    assert_eq!(d.retention_period_hours, 24);
    assert_eq!(
        d.stream_arn,
        "arn:aws:kinesis:us-east-1:123456789012:stream/od"
    );
}

#[test]
fn records_go_to_the_shard_of_their_hash_and_come_back_in_order() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 4);
    let ranges = model::hash_ranges(4);
    let mut per_shard: Vec<Vec<(String, Vec<u8>)>> = vec![Vec::new(); 4];
    for i in 0..40 {
        let key = format!("key-{i}");
        let data = format!("data-{i}").into_bytes();
        let out = put(&k, "s", &key, &data);
        let want = model::shard_for(&ranges, model::hash_key_of(&key));
        assert_eq!(out.shard_id, model::shard_id(want as u32));
        per_shard[want].push((out.sequence_number, data));
        clock.advance(1);
    }
    for (shard, expected) in per_shard.iter().enumerate() {
        let it = iterator(
            &k,
            "s",
            &model::shard_id(shard as u32),
            "TRIM_HORIZON",
            None,
        );
        let got = get(&k, &it, None);
        let got: Vec<(String, Vec<u8>)> = got
            .records
            .into_iter()
            .map(|r| (r.sequence_number, r.data.0))
            .collect();
        assert_eq!(&got, expected);
        // Sequence numbers grow (as numbers: same length, so as strings).
        for w in got.windows(2) {
            assert!(w[0].0 < w[1].0);
        }
    }
}

#[test]
fn explicit_hash_keys_choose_the_shard() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 3);
    let out = k
        .put_records(PutRecordsInput {
            stream: named("s"),
            records: Some(vec![
                PutRecordsRequestEntry {
                    data: Some(Blob(b"a".to_vec())),
                    partition_key: Some("x".into()),
                    explicit_hash_key: Some(u128::MAX.to_string()),
                },
                PutRecordsRequestEntry {
                    data: Some(Blob(b"b".to_vec())),
                    partition_key: Some("x".into()),
                    explicit_hash_key: Some("0".into()),
                },
            ]),
        })
        .unwrap();
    assert_eq!(out.failed_record_count, 0);
    assert_eq!(
        out.records[0].shard_id.as_deref(),
        Some("shardId-000000000002")
    );
    assert_eq!(
        out.records[1].shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    let e = k
        .put_record(PutRecordInput {
            stream: named("s"),
            data: Some(Blob(b"a".to_vec())),
            partition_key: Some("x".into()),
            explicit_hash_key: Some("340282366920938463463374607431768211456".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code, Code::InvalidArgument);
    assert!(
        e.message.starts_with("Invalid ExplicitHashKey."),
        "{}",
        e.message
    );
}

#[test]
fn iterator_types() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 1);
    let shard = "shardId-000000000000";
    let first = put(&k, "s", "k", b"1");
    clock.advance(10_000);
    let second = put(&k, "s", "k", b"2");
    let latest = iterator(&k, "s", shard, "LATEST", None);
    let third = put(&k, "s", "k", b"3");
    let data = |it: &str| -> Vec<Vec<u8>> {
        get(&k, it, None)
            .records
            .into_iter()
            .map(|r| r.data.0)
            .collect()
    };
    assert_eq!(data(&latest), vec![b"3".to_vec()]);
    let at = iterator(
        &k,
        "s",
        shard,
        "AT_SEQUENCE_NUMBER",
        Some(&second.sequence_number),
    );
    assert_eq!(data(&at), vec![b"2".to_vec(), b"3".to_vec()]);
    let after = iterator(
        &k,
        "s",
        shard,
        "AFTER_SEQUENCE_NUMBER",
        Some(&first.sequence_number),
    );
    assert_eq!(data(&after), vec![b"2".to_vec(), b"3".to_vec()]);
    let ts = k
        .get_shard_iterator(GetShardIteratorInput {
            stream: named("s"),
            shard_id: Some(shard.into()),
            shard_iterator_type: Some("AT_TIMESTAMP".into()),
            timestamp: Some(Timestamp::from_ms(T0 + 1000 + 5000)),
            ..Default::default()
        })
        .unwrap()
        .shard_iterator;
    assert_eq!(data(&ts), vec![b"2".to_vec(), b"3".to_vec()]);
    // Limit, and the next iterator goes on where it stopped.
    let it = iterator(&k, "s", shard, "TRIM_HORIZON", None);
    let one = get(&k, &it, Some(1));
    assert_eq!(one.records.len(), 1);
    assert_eq!(one.records[0].sequence_number, first.sequence_number);
    assert!(one.millis_behind_latest > 0);
    let rest = get(&k, one.next_shard_iterator.as_deref().unwrap(), None);
    assert_eq!(rest.records.len(), 2);
    assert_eq!(rest.millis_behind_latest, 0);
    assert_eq!(third.shard_id, shard);
    // A sequence number with TRIM_HORIZON is refused.
    let e = k
        .get_shard_iterator(GetShardIteratorInput {
            stream: named("s"),
            shard_id: Some(shard.into()),
            shard_iterator_type: Some("TRIM_HORIZON".into()),
            starting_sequence_number: Some(first.sequence_number.clone()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e
        .message
        .contains("Request specified TRIM_HORIZON and also a StartingSequenceNumber."));
    let e = k
        .get_shard_iterator(GetShardIteratorInput {
            stream: named("s"),
            shard_id: Some("shardId-000000000009".into()),
            shard_iterator_type: Some("LATEST".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.message,
        "Could not find shard shardId-000000000009 in stream s under account 123456789012."
    );
}

#[test]
fn iterators_expire_after_five_minutes() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 1);
    let it = iterator(&k, "s", "shardId-000000000000", "TRIM_HORIZON", None);
    clock.advance(limits::ITERATOR_TTL_MS);
    let next = get(&k, &it, None).next_shard_iterator.unwrap();
    clock.advance(limits::ITERATOR_TTL_MS + 1);
    let e = k
        .get_records(GetRecordsInput {
            shard_iterator: Some(next),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code, Code::ExpiredIterator);
    assert!(
        e.message
            .starts_with("Iterator expired. The iterator was created at time "),
        "{}",
        e.message
    );
    assert!(e.message.ends_with(
        "which is further in the future than the tolerated delay of 300000 milliseconds."
    ));
    let e = k
        .get_records(GetRecordsInput {
            shard_iterator: Some("garbage".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::InvalidArgument, "Invalid ShardIterator.")
    );
}

#[test]
fn records_past_retention_are_not_returned_and_are_deleted() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 1);
    put(&k, "s", "k", b"old");
    clock.advance(23 * 3_600_000);
    put(&k, "s", "k", b"new");
    clock.advance(3_600_000 + 1);
    let it = iterator(&k, "s", "shardId-000000000000", "TRIM_HORIZON", None);
    let got: Vec<Vec<u8>> = get(&k, &it, None)
        .records
        .into_iter()
        .map(|r| r.data.0)
        .collect();
    assert_eq!(got, vec![b"new".to_vec()]);
    assert_eq!(k.housekeep().unwrap(), 1);
    assert_eq!(k.stream_counts().unwrap()[0].records, 1);
    // Sequence numbers keep growing after the shard was emptied.
    clock.advance(24 * 3_600_000);
    assert_eq!(k.housekeep().unwrap(), 1);
    let a = put(&k, "s", "k", b"a");
    assert!(
        model::SequenceNumber::parse(&a.sequence_number)
            .unwrap()
            .index
            >= 3
    );
}

#[test]
fn retention_bounds_and_messages() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 1);
    let set = |hours: i64, inc: bool| {
        let i = RetentionInput {
            stream: named("s"),
            retention_period_hours: Some(hours),
        };
        if inc {
            k.increase_retention(i)
        } else {
            k.decrease_retention(i)
        }
    };
    assert_eq!(
        set(23, true).unwrap_err().message,
        "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short."
    );
    assert!(set(8761, true)
        .unwrap_err()
        .message
        .starts_with("Maximum allowed retention period is 8760 hours."));
    set(48, true).unwrap();
    assert_eq!(
        set(36, true).unwrap_err().message,
        "Requested retention period (36 hours) for stream s can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API."
    );
    assert_eq!(
        set(72, false).unwrap_err().message,
        "Requested retention period (72 hours) for stream s can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API."
    );
    set(24, false).unwrap();
}

#[test]
fn validation_and_limits() {
    let (k, clock) = kinesis();
    let e = k
        .create_stream(CreateStreamInput {
            stream_name: Some("bad name".into()),
            shard_count: Some(0),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert_eq!(
        e.message,
        "2 validation errors detected: Value 'bad name' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let e = k
        .create_stream(CreateStreamInput {
            stream_name: Some("big".into()),
            shard_count: Some(501),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code, Code::LimitExceeded);
    create(&k, &clock, "s", 1);
    let e = k
        .put_record(PutRecordInput {
            stream: named("s"),
            data: Some(Blob(vec![0; limits::MAX_RECORD_BYTES + 1])),
            partition_key: Some("k".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.message, "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576");
    let many = vec![
        PutRecordsRequestEntry {
            data: Some(Blob(b"x".to_vec())),
            partition_key: Some("k".into()),
            explicit_hash_key: None,
        };
        501
    ];
    let e = k
        .put_records(PutRecordsInput {
            stream: named("s"),
            records: Some(many),
        })
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(e.message.contains("at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"));
    let big = vec![
        PutRecordsRequestEntry {
            data: Some(Blob(vec![0; 1024 * 1024])),
            partition_key: Some("k".into()),
            explicit_hash_key: None,
        };
        5
    ];
    let e = k
        .put_records(PutRecordsInput {
            stream: named("s"),
            records: Some(big),
        })
        .unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (Code::InvalidArgument, "Records size exceeds 5 MB limit")
    );
    let e = k
        .describe_stream(DescribeStreamInput {
            stream: StreamRef {
                stream_name: None,
                stream_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/nope".into()),
            },
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.message,
        "Stream nope under account 123456789012 not found."
    );
}

#[test]
fn lists_page_through_streams_shards_and_tags() {
    let (k, clock) = kinesis();
    for i in 0..3 {
        create(&k, &clock, &format!("s{i}"), 3);
    }
    let page = k
        .list_streams(ListStreamsInput {
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.stream_names, vec!["s0", "s1"]);
    assert!(page.has_more_streams);
    let rest = k
        .list_streams(ListStreamsInput {
            next_token: page.next_token,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rest.stream_names, vec!["s2"]);
    assert!(!rest.has_more_streams);
    assert_eq!(rest.stream_summaries[0].stream_status, "ACTIVE");
    let shards = k
        .list_shards(ListShardsInput {
            stream: named("s0"),
            max_results: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(shards.shards.len(), 2);
    let more = k
        .list_shards(ListShardsInput {
            next_token: shards.next_token,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(more.shards.len(), 1);
    assert_eq!(more.shards[0].shard_id, "shardId-000000000002");
    assert_eq!(more.next_token, None);
    k.add_tags(AddTagsInput {
        stream: named("s0"),
        tags: Some(
            [
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "2".to_string()),
            ]
            .into(),
        ),
    })
    .unwrap();
    k.remove_tags(RemoveTagsInput {
        stream: named("s0"),
        tag_keys: Some(vec!["a".into()]),
    })
    .unwrap();
    let tags = k
        .list_tags(ListTagsInput {
            stream: named("s0"),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        tags.tags,
        vec![Tag {
            key: "b".into(),
            value: "2".into()
        }]
    );
}

#[tokio::test]
async fn pollers_read_a_shard_and_are_woken_by_writes() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 1);
    let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
    let mut rx = k.subscribe("s");
    let empty = k.read_shard(arn, "shardId-000000000000", None, 10).unwrap();
    assert!(empty.records.is_empty());
    let waiter = tokio::spawn(async move { rx.changed().await.is_ok() });
    let a = put(&k, "s", "k", b"a");
    put(&k, "s", "k", b"b");
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap()
    );
    let after_a = k
        .read_shard(arn, "shardId-000000000000", Some(&a.sequence_number), 10)
        .unwrap();
    assert_eq!(after_a.records.len(), 1);
    assert_eq!(after_a.records[0].data, b"b");
    assert_eq!(k.shard_ids(arn).unwrap(), vec!["shardId-000000000000"]);
    // LATEST: after the newest record, so only what comes next.
    let tip = k
        .latest_sequence_number(arn, "shardId-000000000000")
        .unwrap();
    assert_eq!(tip, Some(after_a.records[0].sequence_number.clone()));
    put(&k, "s", "k", b"c");
    let next = k
        .read_shard(arn, "shardId-000000000000", tip.as_deref(), 10)
        .unwrap();
    assert_eq!(
        next.records
            .iter()
            .map(|r| r.data.clone())
            .collect::<Vec<_>>(),
        vec![b"c".to_vec()]
    );
}

/// AT_TIMESTAMP for pollers: the position just before the first record that arrived at or
/// after the time (the shard's start when that is its first record, the tip when none is that
/// recent).
#[test]
fn pollers_find_the_position_before_a_timestamp() {
    use hako_model::clock::Clock;
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 1);
    let arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
    let shard = "shardId-000000000000";
    let t1 = clock.now_ms();
    let a = put(&k, "s", "k", b"a");
    clock.advance(10);
    let t2 = clock.now_ms();
    put(&k, "s", "k", b"b");
    clock.advance(10);
    assert_eq!(
        k.sequence_before_timestamp(arn, shard, t1 - 5).unwrap(),
        None
    );
    assert_eq!(k.sequence_before_timestamp(arn, shard, t1).unwrap(), None);
    let before_b = k.sequence_before_timestamp(arn, shard, t2 - 3).unwrap();
    assert_eq!(before_b.as_deref(), Some(a.sequence_number.as_str()));
    let read = k.read_shard(arn, shard, before_b.as_deref(), 10).unwrap();
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.records[0].data, b"b");
    let tip = k.latest_sequence_number(arn, shard).unwrap();
    assert_eq!(
        k.sequence_before_timestamp(arn, shard, clock.now_ms())
            .unwrap(),
        tip
    );
}

#[test]
fn shard_write_rates_when_enforced_fail_records_one_by_one() {
    let clock = Arc::new(ManualClock::new(T0));
    let cfg = KinesisConfig {
        enforce_shard_write_rates: true,
        ..KinesisConfig::new("us-east-1", "123456789012")
    };
    let k = Kinesis::in_memory(cfg, clock.clone()).unwrap();
    create(&k, &clock, "s", 2);
    let batch = |n: usize, shard_key: &str| PutRecordsInput {
        stream: named("s"),
        records: Some(vec![
            PutRecordsRequestEntry {
                data: Some(Blob(b"x".to_vec())),
                partition_key: Some("k".into()),
                explicit_hash_key: Some(shard_key.into()),
            };
            n
        ]),
    };
    let shard0 = "0";
    let shard1 = u128::MAX.to_string();
    assert_eq!(
        k.put_records(batch(500, shard0))
            .unwrap()
            .failed_record_count,
        0
    );
    assert_eq!(
        k.put_records(batch(400, shard0))
            .unwrap()
            .failed_record_count,
        0
    );
    let out = k.put_records(batch(200, shard0)).unwrap();
    assert_eq!(out.failed_record_count, 100);
    assert!(out.records[..100].iter().all(|r| r.error_code.is_none()));
    let refused = &out.records[100];
    assert_eq!(
        refused.error_code.as_deref(),
        Some("ProvisionedThroughputExceededException")
    );
    assert_eq!(
        refused.error_message.as_deref(),
        Some(
            "Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012."
        )
    );
    assert_eq!(refused.sequence_number, None);
    // Another shard has its own rate.
    assert_eq!(
        k.put_records(batch(500, &shard1))
            .unwrap()
            .failed_record_count,
        0
    );
    let e = k
        .put_record(PutRecordInput {
            stream: named("s"),
            data: Some(Blob(b"x".to_vec())),
            partition_key: Some("k".into()),
            explicit_hash_key: Some("0".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code, Code::ProvisionedThroughputExceeded);
    // The next second, the shard writes again; refused records were not stored.
    clock.advance(1000);
    assert_eq!(
        k.put_records(batch(10, shard0))
            .unwrap()
            .failed_record_count,
        0
    );
    let it = iterator(&k, "s", "shardId-000000000000", "TRIM_HORIZON", None);
    assert_eq!(get(&k, &it, None).records.len(), 1010);
}

#[test]
fn a_deleted_streams_records_go_in_chunks() {
    let (k, clock) = kinesis();
    create(&k, &clock, "s", 2);
    for i in 0..30 {
        put(&k, "s", &format!("k{i}"), b"x");
    }
    create(&k, &clock, "other", 1);
    put(&k, "other", "k", b"kept");
    k.delete_stream(DeleteStreamInput {
        stream: named("s"),
        ..Default::default()
    })
    .unwrap();
    // DELETING: not readable any more, the records still there until housekeeping.
    assert_eq!(
        k.get_shard_iterator(GetShardIteratorInput {
            stream: named("s"),
            shard_id: Some("shardId-000000000000".into()),
            shard_iterator_type: Some("TRIM_HORIZON".into()),
            ..Default::default()
        })
        .unwrap_err()
        .code,
        Code::ResourceNotFound
    );
    assert_eq!(k.housekeep_in_chunks(7).unwrap(), 30);
    let left: i64 = k
        .inner
        .db
        .read(|c| c.query_row("SELECT count(*) FROM records", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(left, 1);
    assert_eq!(
        k.inner.db.read(crate::storage::purges).unwrap(),
        Vec::<i64>::new()
    );
    // Gone after DELETING; the name is free again, with no record of the old stream.
    clock.advance(1000);
    k.housekeep().unwrap();
    create(&k, &clock, "s", 1);
    let it = iterator(&k, "s", "shardId-000000000000", "TRIM_HORIZON", None);
    assert!(get(&k, &it, None).records.is_empty());
}

#[test]
fn records_survive_the_migration_to_inline_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinesis.db");
    {
        // A kinesis.db as the first two migrations left it, with one record.
        let db = hako_store::ServiceDb::open(&path, &crate::storage::MIGRATIONS[..2]).unwrap();
        db.write(|tx| {
            tx.execute(
                "INSERT INTO streams (name, created_ms, mode, shard_count, retention_hours) \
                 VALUES ('s', ?1, 'PROVISIONED', 1, 24)",
                [T0],
            )?;
            tx.execute("INSERT INTO shards VALUES (1, 0, 2)", [])?;
            tx.execute(
                "INSERT INTO records VALUES (1, 0, 1, ?1, 'k', x'6869')",
                [T0],
            )
        })
        .unwrap();
    }
    let clock = Arc::new(ManualClock::new(T0 + 1000));
    let k = Kinesis::open(
        &path,
        KinesisConfig::new("us-east-1", "123456789012"),
        clock,
    )
    .unwrap();
    let it = iterator(&k, "s", "shardId-000000000000", "TRIM_HORIZON", None);
    let got = get(&k, &it, None);
    assert_eq!(got.records.len(), 1);
    assert_eq!(got.records[0].data.0, b"hi");
    // The next record continues the shard's indices.
    let next = put(&k, "s", "k", b"again");
    assert_eq!(
        model::SequenceNumber::parse(&next.sequence_number)
            .unwrap()
            .index,
        2
    );
}
