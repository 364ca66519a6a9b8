//! CloudWatch Logs' model: names and ARNs, the retention values, limits, the pagination tokens,
//! and the constraints of botocore's shapes (`logs/2014-03-28`) for the one validation mechanism.
//! No IO.

use hako_model::validation::{Bound, Pattern, Shape};

/// The retention periods AWS accepts, in days (botocore's `Days` documentation: "Possible values
/// are: 1, 3, 5, ... and 3653").
pub const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// The same as the enum constraint prints them.
pub static RETENTION_DAYS_TEXT: [&str; 22] = [
    "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731",
    "1096", "1827", "2192", "2557", "2922", "3288", "3653",
];

/// PutLogEvents' limits (botocore's PutLogEvents documentation).
pub mod limits {
    /// The largest batch: the messages' UTF-8 bytes plus 26 bytes per event.
    pub const MAX_BATCH_BYTES: usize = 1_048_576;
    pub const EVENT_OVERHEAD_BYTES: usize = 26;
    pub const MAX_BATCH_EVENTS: usize = 10_000;
    /// Events more than 2 hours in the future are rejected.
    pub const TOO_NEW_MS: i64 = 2 * 3_600_000;
    /// Events older than 14 days are rejected.
    pub const TOO_OLD_MS: i64 = 14 * 86_400_000;
    /// The valid events of one batch span at most 24 hours.
    pub const MAX_SPAN_MS: i64 = 86_400_000;
    /// Defaults of the list operations.
    pub const DESCRIBE_LIMIT: usize = 50;
    pub const EVENTS_LIMIT: usize = 10_000;
    /// A page of events holds at most 1 MB of messages (GetLogEvents' documentation).
    pub const PAGE_BYTES: usize = 1_048_576;
}

/// A log group's ARN as `logGroupArn` (and TagResource) has it.
pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

/// A log stream's ARN.
pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

/// The log group an ARN names (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME`, with or without
/// the `:*` that `arn` carries): (region, account, name).
pub fn parse_group_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let parts = hako_model::names::split_arn(arn)?;
    if parts.service != "logs" {
        return None;
    }
    let name = parts.resource.strip_prefix("log-group:")?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    if name.is_empty() || name.contains(':') {
        return None;
    }
    Some((parts.region, parts.account, name))
}

/// A position in a log stream or group: events are ordered by (timestamp, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub ts_ms: i64,
    pub id: i64,
}

impl Key {
    pub const START: Key = Key {
        ts_ms: i64::MIN,
        id: i64::MIN,
    };
    pub const END: Key = Key {
        ts_ms: i64::MAX,
        id: i64::MAX,
    };
}

/// GetLogEvents' tokens, as AWS forms them: `f/<56 digits>/s` forward and `b/<56 digits>/s`
/// backward. Hako's 56 digits are the position: the timestamp (28 digits, offset so that it is
/// never negative) and the event id (28).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamToken {
    Forward(Key),
    Backward(Key),
}

const TS_OFFSET: i128 = 1 << 63;

fn digits(k: Key) -> String {
    format!(
        "{:028}{:028}",
        i128::from(k.ts_ms) + TS_OFFSET,
        i128::from(k.id) + TS_OFFSET
    )
}

fn undigits(s: &str) -> Option<Key> {
    if s.len() != 56 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ts: i128 = s[..28].parse().ok()?;
    let id: i128 = s[28..].parse().ok()?;
    Some(Key {
        ts_ms: i64::try_from(ts - TS_OFFSET).ok()?,
        id: i64::try_from(id - TS_OFFSET).ok()?,
    })
}

impl StreamToken {
    pub fn render(self) -> String {
        match self {
            StreamToken::Forward(k) => format!("f/{}/s", digits(k)),
            StreamToken::Backward(k) => format!("b/{}/s", digits(k)),
        }
    }

    pub fn parse(s: &str) -> Option<StreamToken> {
        let body = s.strip_suffix("/s")?;
        if let Some(d) = body.strip_prefix("f/") {
            return undigits(d).map(StreamToken::Forward);
        }
        body.strip_prefix("b/")
            .and_then(undigits)
            .map(StreamToken::Backward)
    }
}

/// FilterLogEvents' token: the position of the last event examined (opaque to clients).
pub fn filter_token(k: Key) -> String {
    format!("F{}", digits(k))
}

pub fn parse_filter_token(s: &str) -> Option<Key> {
    s.strip_prefix('F').and_then(undigits)
}

/// A token of a listing ordered by name (DescribeLogGroups, DescribeLogStreams): the last name
/// returned, and for LastEventTime order its time, hex-encoded.
pub fn name_token(ts: Option<i64>, name: &str) -> String {
    match ts {
        Some(t) => format!("T{t}.{}", hex::encode(name)),
        None => format!("N{}", hex::encode(name)),
    }
}

pub fn parse_name_token(s: &str) -> Option<(Option<i64>, String)> {
    if let Some(rest) = s.strip_prefix('N') {
        let name = String::from_utf8(hex::decode(rest).ok()?).ok()?;
        return Some((None, name));
    }
    let rest = s.strip_prefix('T')?;
    let (t, n) = rest.split_once('.')?;
    let name = String::from_utf8(hex::decode(n).ok()?).ok()?;
    Some((Some(t.parse().ok()?), name))
}

/// The shapes of botocore's model that requests are checked against.
pub mod shapes {
    use super::*;

    pub static LOG_GROUP_NAME_PATTERN: Pattern = Pattern::new("[\\.\\-_/#A-Za-z0-9]+");
    /// `LogGroupName` (its length is AWS's own check: `Error::name_too_long`).
    pub static LOG_GROUP_NAME: Shape = Shape {
        min_len: Some(1),
        pattern: Some(&LOG_GROUP_NAME_PATTERN),
        ..Shape::NONE
    };
    pub static LOG_GROUP_NAME_PATTERN_PATTERN: Pattern = Pattern::new("[\\.\\-_/#A-Za-z0-9]*");
    pub static LOG_GROUP_NAME_PATTERN_SHAPE: Shape = Shape {
        max_len: Some(512),
        pattern: Some(&LOG_GROUP_NAME_PATTERN_PATTERN),
        ..Shape::NONE
    };
    pub static LOG_STREAM_NAME_PATTERN: Pattern = Pattern::new("[^:*]*");
    pub static LOG_STREAM_NAME: Shape = Shape {
        min_len: Some(1),
        pattern: Some(&LOG_STREAM_NAME_PATTERN),
        ..Shape::NONE
    };
    pub static LOG_GROUP_IDENTIFIER_PATTERN: Pattern = Pattern::new("[\\w#+=/:,.@-]*");
    pub static LOG_GROUP_IDENTIFIER: Shape = Shape {
        max_len: Some(2048),
        min_len: Some(1),
        pattern: Some(&LOG_GROUP_IDENTIFIER_PATTERN),
        ..Shape::NONE
    };
    pub static RESOURCE_ARN_PATTERN: Pattern = Pattern::new("[\\w+=/:,.@-]*");
    pub static RESOURCE_ARN: Shape = Shape {
        max_len: Some(1011),
        min_len: Some(1),
        pattern: Some(&RESOURCE_ARN_PATTERN),
        ..Shape::NONE
    };
    pub static DESCRIBE_LIMIT: Shape = Shape {
        max: Some(Bound::Int(50)),
        min: Some(Bound::Int(1)),
        ..Shape::NONE
    };
    pub static EVENTS_LIMIT: Shape = Shape {
        max: Some(Bound::Int(10000)),
        min: Some(Bound::Int(1)),
        ..Shape::NONE
    };
    pub static TIMESTAMP: Shape = Shape {
        min: Some(Bound::Int(0)),
        ..Shape::NONE
    };
    pub static NEXT_TOKEN: Shape = Shape {
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static FILTER_PATTERN: Shape = Shape {
        max_len: Some(1024),
        ..Shape::NONE
    };
    pub static EVENT_MESSAGE: Shape = Shape {
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static LOG_GROUP_CLASS: Shape = Shape {
        values: Some(&["STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS"]),
        ..Shape::NONE
    };
    pub static ORDER_BY: Shape = Shape {
        values: Some(&["LogStreamName", "LastEventTime"]),
        ..Shape::NONE
    };
    pub static TAG_KEY_PATTERN: Pattern = Pattern::new("^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$");
    pub static TAG_KEY: Shape = Shape {
        max_len: Some(128),
        min_len: Some(1),
        pattern: Some(&TAG_KEY_PATTERN),
        ..Shape::NONE
    };
    pub static TAG_VALUE_PATTERN: Pattern = Pattern::new("^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$");
    pub static TAG_VALUE: Shape = Shape {
        max_len: Some(256),
        pattern: Some(&TAG_VALUE_PATTERN),
        ..Shape::NONE
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_tokens_have_aws_shape_and_round_trip() {
        let k = Key {
            ts_ms: 1_700_000_000_123,
            id: 42,
        };
        let f = StreamToken::Forward(k).render();
        assert!(
            f.starts_with("f/") && f.ends_with("/s") && f.len() == 2 + 56 + 2,
            "{f}"
        );
        assert_eq!(StreamToken::parse(&f), Some(StreamToken::Forward(k)));
        let b = StreamToken::Backward(Key::START).render();
        assert_eq!(
            StreamToken::parse(&b),
            Some(StreamToken::Backward(Key::START))
        );
        assert_eq!(StreamToken::parse("f/123/s"), None);
        assert_eq!(StreamToken::parse("garbage"), None);
    }

    #[test]
    fn group_arns_parse_with_and_without_the_star() {
        assert_eq!(
            parse_group_arn("arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f:*"),
            Some(("us-east-1", "000000000000", "/aws/lambda/f"))
        );
        assert_eq!(
            parse_group_arn("arn:aws:logs:us-east-1:000000000000:log-group:g"),
            Some(("us-east-1", "000000000000", "g"))
        );
        assert_eq!(
            parse_group_arn("arn:aws:sqs:us-east-1:000000000000:q"),
            None
        );
    }
}
