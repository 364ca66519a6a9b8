//! Kinesis's model: stream and shard names, ARNs, hash key ranges, sequence numbers, shard
//! iterators, limits, and the constraints of botocore's shapes (`kinesis/2013-12-02`).
//! No IO, no async.

use base64::Engine as _;
use hako_model::validation::{Bound, Pattern, Shape};
use md5::{Digest, Md5};
use num_bigint::BigUint;

use crate::error::{Error, Result};

/// Limits AWS documents for Kinesis Data Streams ("Quotas and limits").
pub mod limits {
    /// The largest record (data and partition key) of a stream with the default
    /// MaxRecordSizeInKiB (1024).
    pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
    /// The most records of one PutRecords request (botocore: `PutRecordsRequestEntryList` max).
    pub const MAX_PUT_RECORDS: usize = 500;
    /// The most bytes (data and partition keys) of one PutRecords request.
    pub const MAX_PUT_RECORDS_BYTES: usize = 5 * 1024 * 1024;
    /// The most records one GetRecords returns (botocore: `GetRecordsInputLimit` max).
    pub const MAX_GET_RECORDS: usize = 10_000;
    /// The most data one GetRecords returns.
    pub const MAX_GET_RECORDS_BYTES: usize = 10 * 1024 * 1024;
    /// A shard's write rates (enforced only when asked: `KinesisConfig::enforce_shard_write_rates`).
    pub const SHARD_WRITE_RECORDS_PER_SECOND: u64 = 1000;
    pub const SHARD_WRITE_BYTES_PER_SECOND: u64 = 1024 * 1024;
    /// How long a shard iterator stays valid.
    pub const ITERATOR_TTL_MS: i64 = 5 * 60 * 1000;
    /// The default retention and its bounds, in hours.
    pub const DEFAULT_RETENTION_HOURS: i64 = 24;
    pub const MIN_RETENTION_HOURS: i64 = 24;
    pub const MAX_RETENTION_HOURS: i64 = 8760;
    /// The shards of a new on-demand stream (AWS: "4 shards" initially, LocalStack's
    /// AWS-recorded `test_create_stream_without_shard_count`).
    pub const ON_DEMAND_SHARDS: u32 = 4;
    /// The account's shard quota (AWS's default in us-east-1, us-west-2 and eu-west-1).
    pub const ACCOUNT_SHARD_LIMIT: u64 = 500;
    /// The default and largest page of ListStreams.
    pub const LIST_STREAMS_DEFAULT: usize = 100;
    /// The default page of ListShards.
    pub const LIST_SHARDS_DEFAULT: usize = 1000;
    /// The default page of DescribeStream's shards.
    pub const DESCRIBE_SHARDS_DEFAULT: usize = 100;
    /// The default page of ListTagsForStream.
    pub const LIST_TAGS_DEFAULT: usize = 10;
    /// The most tags of a stream.
    pub const MAX_TAGS: usize = 50;
}

/// The status of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Active,
    Deleting,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Deleting => "DELETING",
        }
    }
}

/// A stream's capacity mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }

    pub fn parse(s: &str) -> Option<StreamMode> {
        match s {
            "PROVISIONED" => Some(StreamMode::Provisioned),
            "ON_DEMAND" => Some(StreamMode::OnDemand),
            _ => None,
        }
    }
}

/// The shapes of botocore's model that requests are checked against.
pub mod shapes {
    use super::*;

    pub static STREAM_NAME_PATTERN: Pattern = Pattern::new("[a-zA-Z0-9_.-]+");
    pub static STREAM_NAME: Shape = Shape {
        max_len: Some(128),
        min_len: Some(1),
        pattern: Some(&STREAM_NAME_PATTERN),
        ..Shape::NONE
    };
    pub static SHARD_ID: Shape = Shape {
        max_len: Some(128),
        min_len: Some(1),
        pattern: Some(&STREAM_NAME_PATTERN),
        ..Shape::NONE
    };
    pub static STREAM_ARN_PATTERN: Pattern =
        Pattern::new("arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
    pub static STREAM_ARN: Shape = Shape {
        max_len: Some(2048),
        min_len: Some(1),
        pattern: Some(&STREAM_ARN_PATTERN),
        ..Shape::NONE
    };
    pub static POSITIVE: Shape = Shape {
        min: Some(Bound::Int(1)),
        ..Shape::NONE
    };
    pub static LIMIT_10000: Shape = Shape {
        max: Some(Bound::Int(10000)),
        min: Some(Bound::Int(1)),
        ..Shape::NONE
    };
    pub static LIMIT_50: Shape = Shape {
        max: Some(Bound::Int(50)),
        min: Some(Bound::Int(1)),
        ..Shape::NONE
    };
    pub static PARTITION_KEY: Shape = Shape {
        max_len: Some(256),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static HASH_KEY_PATTERN: Pattern = Pattern::new("0|([1-9]\\d{0,38})");
    pub static HASH_KEY: Shape = Shape {
        pattern: Some(&HASH_KEY_PATTERN),
        ..Shape::NONE
    };
    pub static SEQUENCE_NUMBER_PATTERN: Pattern = Pattern::new("0|([1-9]\\d{0,128})");
    pub static SEQUENCE_NUMBER: Shape = Shape {
        pattern: Some(&SEQUENCE_NUMBER_PATTERN),
        ..Shape::NONE
    };
    pub static ITERATOR_TYPES: &[&str] = &[
        "AT_SEQUENCE_NUMBER",
        "AFTER_SEQUENCE_NUMBER",
        "TRIM_HORIZON",
        "LATEST",
        "AT_TIMESTAMP",
    ];
    pub static ITERATOR_TYPE: Shape = Shape {
        values: Some(ITERATOR_TYPES),
        ..Shape::NONE
    };
    pub static SHARD_ITERATOR: Shape = Shape {
        max_len: Some(512),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static STREAM_MODE: Shape = Shape {
        values: Some(&["PROVISIONED", "ON_DEMAND"]),
        ..Shape::NONE
    };
    pub static TAG_KEY: Shape = Shape {
        max_len: Some(128),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static TAG_VALUE: Shape = Shape {
        max_len: Some(256),
        min_len: Some(0),
        ..Shape::NONE
    };
    pub static SHARD_FILTER_TYPE: Shape = Shape {
        values: Some(&[
            "AFTER_SHARD_ID",
            "AT_TRIM_HORIZON",
            "FROM_TRIM_HORIZON",
            "AT_LATEST",
            "AT_TIMESTAMP",
            "FROM_TIMESTAMP",
        ]),
        ..Shape::NONE
    };
}

/// A stream's ARN.
pub fn stream_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:kinesis:{region}:{account}:stream/{name}")
}

/// The parts of a stream ARN: (region, account, name).
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let a = hako_model::names::split_arn(arn)?;
    if a.service != "kinesis" {
        return None;
    }
    let name = a.resource.strip_prefix("stream/")?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    Some((a.region, a.account, name))
}

/// A shard's id (`shardId-000000000000`).
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// The index of a shard id: `shardId-000000000003`, and, as AWS takes them, `3` or
/// `shardId-3`.
pub fn parse_shard_id(id: &str) -> Option<u32> {
    let digits = id.rsplit('-').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|n| *n <= i32::MAX as u32)
}

/// The 128-bit hash key of a partition key: its MD5 as a big-endian integer (as AWS maps
/// partition keys to shards).
pub fn hash_key_of(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// An ExplicitHashKey: a decimal integer in [0, 2^128 - 1].
pub fn parse_explicit_hash_key(s: &str) -> Result<u128> {
    s.parse::<u128>().map_err(|_| {
        // kinesalite's putRecord, tested against AWS.
        Error::invalid_argument(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. \
             Specified value was {s}"
        ))
    })
}

/// The hash key ranges of `n` shards, split evenly as AWS splits them: shard `i` starts at
/// `i * floor(2^128 / n)`, each ends one below the next start, the last at 2^128 - 1.
pub fn hash_ranges(n: u32) -> Vec<(u128, u128)> {
    let n = n.max(1);
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    let d = u128::from(n);
    // floor(2^128 / n), with 2^128 = u128::MAX + 1.
    let step = u128::MAX / d + u128::from(u128::MAX % d == d - 1);
    (0..n)
        .map(|i| {
            let start = step * u128::from(i);
            let end = if i + 1 == n {
                u128::MAX
            } else {
                step * u128::from(i + 1) - 1
            };
            (start, end)
        })
        .collect()
}

/// The shard (index into `ranges`) whose range holds `hash`.
pub fn shard_for(ranges: &[(u128, u128)], hash: u128) -> usize {
    ranges
        .iter()
        .position(|(s, e)| *s <= hash && hash <= *e)
        .unwrap_or(ranges.len().saturating_sub(1))
}

/// A sequence number's parts. AWS's are 56-digit decimals; Hako's have the layout kinesalite
/// found in AWS's (version 2): in hex, `2`, the shard's creation in seconds (9 digits), the
/// shard index's last hex digit, the record's index in its shard (16), `00`, the record's
/// arrival in seconds (9), the shard index (8), `2`. They grow with the index within a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceNumber {
    pub shard_created_secs: u64,
    pub shard: u32,
    pub index: u64,
    pub arrival_secs: u64,
}

const SEQ_HEX_DIGITS: usize = 47;

impl SequenceNumber {
    pub fn render(&self) -> String {
        let hex = format!(
            "2{:09x}{:x}{:016x}00{:09x}{:08x}2",
            self.shard_created_secs & 0xf_ffff_ffff,
            self.shard & 0xf,
            self.index & 0x7fff_ffff_ffff_ffff,
            self.arrival_secs & 0xf_ffff_ffff,
            self.shard
        );
        BigUint::parse_bytes(hex.as_bytes(), 16)
            .map(|n| n.to_str_radix(10))
            .unwrap_or_default()
    }

    /// The parts of a decimal sequence number Hako gave; `None` for anything else.
    pub fn parse(s: &str) -> Option<SequenceNumber> {
        if s.is_empty() || s.len() > 60 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hex = BigUint::parse_bytes(s.as_bytes(), 10)?.to_str_radix(16);
        if hex.len() != SEQ_HEX_DIGITS || !hex.starts_with('2') || !hex.ends_with('2') {
            return None;
        }
        let field = |from: usize, len: usize| u64::from_str_radix(&hex[from..from + len], 16).ok();
        let shard = u32::try_from(field(38, 8)?).ok()?;
        let seq = SequenceNumber {
            shard_created_secs: field(1, 9)?,
            shard,
            index: field(11, 16)?,
            arrival_secs: field(29, 9)?,
        };
        if field(10, 1)? != u64::from(shard & 0xf) || seq.index > i64::MAX as u64 {
            return None;
        }
        Some(seq)
    }
}

/// A shard iterator: where to read from, in which shard of which stream, and when it was made.
/// Opaque to clients (base64 of a versioned binary layout); it expires after
/// [`limits::ITERATOR_TTL_MS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIterator {
    pub stream: String,
    /// The stream's creation (a stream deleted and created again does not take old iterators).
    pub stream_created_ms: i64,
    pub shard: u32,
    /// The index of the first record to return.
    pub from_index: u64,
    pub created_ms: i64,
}

const ITERATOR_VERSION: u8 = 1;

impl ShardIterator {
    pub fn encode(&self) -> String {
        let mut b = Vec::with_capacity(32 + self.stream.len());
        b.push(ITERATOR_VERSION);
        b.extend_from_slice(&self.created_ms.to_be_bytes());
        b.extend_from_slice(&self.stream_created_ms.to_be_bytes());
        b.extend_from_slice(&self.shard.to_be_bytes());
        b.extend_from_slice(&self.from_index.to_be_bytes());
        b.extend_from_slice(self.stream.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    pub fn decode(s: &str) -> Result<ShardIterator> {
        let b = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| Error::invalid_iterator())?;
        if b.len() < 30 || b[0] != ITERATOR_VERSION {
            return Err(Error::invalid_iterator());
        }
        let i64_at = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[at..at + 8]);
            a
        };
        let mut shard = [0u8; 4];
        shard.copy_from_slice(&b[17..21]);
        let stream = std::str::from_utf8(&b[29..])
            .map_err(|_| Error::invalid_iterator())?
            .to_string();
        if !shapes::STREAM_NAME_PATTERN.matches(&stream) {
            return Err(Error::invalid_iterator());
        }
        Ok(ShardIterator {
            created_ms: i64::from_be_bytes(i64_at(1)),
            stream_created_ms: i64::from_be_bytes(i64_at(9)),
            shard: u32::from_be_bytes(shard),
            from_index: u64::from_be_bytes(i64_at(21)),
            stream,
        })
    }
}

/// A time as Java's `Date.toString` prints it in UTC (`Thu Jan 22 01:22:02 UTC 2015`), as
/// AWS's ExpiredIteratorException names times.
pub fn java_date(ms: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    hako_model::clock::datetime_of_ms(ms)
        .format(FORMAT)
        .unwrap_or_default()
}

/// AWS's ExpiredIteratorException (kinesalite's `getRecords`, tested against AWS).
pub fn iterator_expired(created_ms: i64, now_ms: i64) -> Error {
    Error::new(
        crate::error::Code::ExpiredIterator,
        format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} \
             which is further in the future than the tolerated delay of {} milliseconds.",
            java_date(created_ms),
            java_date(now_ms),
            limits::ITERATOR_TTL_MS
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ranges_split_as_aws_does() {
        // AWS's four-shard stream (LocalStack's recorded ranges redact values; these are the
        // ranges AWS's documentation and every client show for 4 shards).
        let r = hash_ranges(4);
        assert_eq!(r[0], (0, 85070591730234615865843651857942052863));
        assert_eq!(r[1].0, 85070591730234615865843651857942052864);
        assert_eq!(r[3].1, u128::MAX);
        let r = hash_ranges(3);
        assert_eq!(r[0].1, 113427455640312821154458202477256070484);
        assert_eq!(r[1].0, 113427455640312821154458202477256070485);
        for n in 1..20u32 {
            let r = hash_ranges(n);
            assert_eq!(r.len(), n as usize);
            assert_eq!(r[0].0, 0);
            assert_eq!(r.last().unwrap().1, u128::MAX);
            for w in r.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0);
            }
        }
    }

    #[test]
    fn md5_hash_keys() {
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(hash_key_of("a"), 0x0cc175b9c0f1b6a831c399e269772661);
        assert_eq!(shard_for(&hash_ranges(4), hash_key_of("a")), 0);
        assert_eq!(shard_for(&hash_ranges(4), u128::MAX), 3);
    }

    #[test]
    fn sequence_numbers_look_like_aws_and_round_trip() {
        let s = SequenceNumber {
            shard_created_secs: 1_700_000_000,
            shard: 3,
            index: 42,
            arrival_secs: 1_700_000_123,
        };
        let text = s.render();
        assert_eq!(text.len(), 56, "{text}");
        assert_eq!(SequenceNumber::parse(&text), Some(s));
        let next = SequenceNumber { index: 43, ..s }.render();
        assert!(next > text);
        assert_eq!(SequenceNumber::parse("12345"), None);
        assert_eq!(SequenceNumber::parse("abc"), None);
    }

    #[test]
    fn iterators_round_trip_and_refuse_garbage() {
        let it = ShardIterator {
            stream: "s-1".into(),
            stream_created_ms: 5,
            shard: 2,
            from_index: 9,
            created_ms: 1_700_000_000_000,
        };
        assert_eq!(ShardIterator::decode(&it.encode()).unwrap(), it);
        assert_eq!(
            ShardIterator::decode("bm9wZQ==").unwrap_err().message,
            "Invalid ShardIterator."
        );
    }

    #[test]
    fn arns_and_shard_ids() {
        let arn = stream_arn("us-east-1", "123456789012", "s");
        assert_eq!(
            parse_stream_arn(&arn),
            Some(("us-east-1", "123456789012", "s"))
        );
        assert_eq!(parse_stream_arn("arn:aws:sqs:us-east-1:1:q"), None);
        assert_eq!(shard_id(1), "shardId-000000000001");
        assert_eq!(parse_shard_id("shardId-000000000001"), Some(1));
        assert_eq!(parse_shard_id("7"), Some(7));
        assert_eq!(parse_shard_id("shardId-x"), None);
        assert_eq!(java_date(1_421_889_722_000), "Thu Jan 22 01:22:02 UTC 2015");
    }
}
