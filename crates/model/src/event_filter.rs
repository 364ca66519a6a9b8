//! Lambda's event filtering (`FilterCriteria` of an event source mapping): parsing a mapping's
//! filter patterns once, with AWS's refusals, and matching records against them on the poller's
//! path.
//!
//! Sources, cited in the tests:
//! - "Control which events Lambda sends to your function" (Lambda developer guide,
//!   `invocation-eventfiltering`): filters are ORed, at most five by default, the rule syntax is
//!   EventBridge's and its table of operators (null, empty, equals, equals-ignore-case, and, or,
//!   `$or`, anything-but, numeric equals and range, exists, prefix, suffix); strings match
//!   character by character, numbers by their representation ("300, 300.0, and 3.0e2 are not
//!   considered equal"); `exists` only sees leaf nodes.
//! - "Using event filtering with an Amazon SQS event source" (`with-sqs-filtering`): the data key
//!   is `body`; Lambda compares the format of the body (plain string or valid JSON) with the
//!   format of the pattern's `body` and drops the message on a mismatch.
//! - "Using event filtering with a Kinesis event source" (`with-kinesis-filtering`): the data key
//!   is `data`, base64 in the record; a record whose data is not JSON is dropped when the pattern
//!   has a `data` filter; a pattern whose `data` filter is not JSON is refused when the mapping is
//!   created or updated. Metadata keys are matched on the record's flat form (`partitionKey`
//!   beside `data`, as the guide's Kinesis example and EventBridge Pipes' Kinesis events show).
//! - EventBridge's comparison-operator table ("Comparison operators for use in event patterns"):
//!   the operators Pipes do not support (anything-but with prefix, suffix, equals-ignore-case or
//!   wildcard; wildcard) are not in Lambda's table either, and are refused here as Lambda refuses
//!   what it does not know.
//! - AWS's event-ruler (the EventBridge engine, `aws/event-ruler`): matching semantics the guides
//!   leave implicit (an array in the event matches when any element does, fields of one pattern
//!   object match within one element of an array of objects, anything-but ignores values of the
//!   other type, numeric matches only JSON numbers, prefix/suffix only strings) and what its
//!   compiler refuses (empty objects and arrays, a leaf that is not an array, more than one key in
//!   a match expression, mixed anything-but lists, malformed numeric ranges, `$or` with fewer
//!   than two objects or with reserved names inside).
//! - AWS's recorded answers (LocalStack's `test_lambda_integration_sqs.snapshot.json`,
//!   `test_sqs_invalid_event_filter[*]`): every invalid pattern is
//!   `InvalidParameterValueException` "Invalid filter pattern definition.".
//!
//! Matching does not allocate, except to decode a record's data (the SQS body parsed as JSON,
//! the Kinesis data base64-decoded and parsed) when a pattern filters on it.

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::{Error, ErrorKind};
use crate::validation::{shapes, Violations};

/// Filters per event source mapping by default (AWS: "By default, you can define up to five
/// different filters for a single event source mapping"; a quota increase allows up to 10).
pub const MAX_FILTERS_DEFAULT: usize = 5;
/// The most filters a quota increase allows.
pub const MAX_FILTERS_QUOTA: usize = 10;
/// The longest `Pattern` (botocore's `Pattern` shape: max 4096).
pub const PATTERN_MAX_CHARS: usize = 4096;

/// AWS's answer to any pattern it cannot use (`InvalidParameterValueException`), recorded against
/// AWS in LocalStack's `test_sqs_invalid_event_filter[None|simple string|invalid_filter2|
/// invalid_filter3]` snapshots.
pub const INVALID_PATTERN_MESSAGE: &str = "Invalid filter pattern definition.";

/// Which kind of source the records come from: it names the data key and its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterSource {
    /// SQS: the data key is `body`, a plain string or JSON.
    Sqs,
    /// Kinesis: the data key is `data`, base64 of JSON; a pattern on `data` must be JSON.
    Kinesis,
}

impl FilterSource {
    /// The key of the record's data ("Using filters with different AWS services": Kinesis
    /// `data`, Amazon SQS `body`).
    pub fn data_key(self) -> &'static str {
        match self {
            FilterSource::Sqs => "body",
            FilterSource::Kinesis => "data",
        }
    }
}

/// Why a `FilterCriteria` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// A pattern Lambda cannot use: not JSON, not an object, or outside the rule syntax.
    InvalidPattern,
    /// More filters than the quota allows.
    TooManyFilters { count: usize, max: usize },
}

impl FilterError {
    /// The exception type AWS answers with.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidParameterValue
    }

    /// The message of the answer.
    pub fn message(&self) -> String {
        match self {
            FilterError::InvalidPattern => INVALID_PATTERN_MESSAGE.to_string(),
            // No AWS-recorded answer found for this refusal (the guide only says "Lambda will
            // return an error when you try to create the event source"); Hako's wording.
            FilterError::TooManyFilters { count, max } => format!(
                "The number of filters in FilterCriteria ({count}) exceeds the limit of {max}."
            ),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FilterError {}

impl From<FilterError> for Error {
    fn from(e: FilterError) -> Error {
        Error::new(e.kind(), e.message())
    }
}

/// The model's constraints on `FilterCriteria.Filters[].Pattern` (botocore: 0..=4096 characters),
/// recorded at `filterCriteria.filters.N.member.pattern` (N from 1, the path AWS's framework gives
/// list members, as in EventBridge's recorded `targets.1.member.id`).
pub fn check_pattern_shapes<S: AsRef<str>>(violations: &mut Violations, patterns: &[Option<S>]) {
    for (i, p) in patterns.iter().enumerate() {
        if let Some(p) = p {
            violations.string(
                &format!("filterCriteria.filters.{}.member.pattern", i + 1),
                p.as_ref(),
                &shapes::FILTER_PATTERN,
            );
        }
    }
}

/// A mapping's filters, parsed once. Empty (no filters): every record passes.
#[derive(Debug, Clone, Default)]
pub struct FilterCriteria {
    source: Option<FilterSource>,
    patterns: Vec<Pattern>,
    /// Whether some pattern filters on the data key (then the data is decoded per record).
    uses_data: bool,
}

impl FilterCriteria {
    /// Parses the `Pattern`s of `FilterCriteria.Filters` for a source, with the default quota of
    /// five filters. A filter without a `Pattern` is refused as an invalid pattern.
    pub fn parse<S: AsRef<str>>(
        source: FilterSource,
        patterns: &[Option<S>],
    ) -> Result<FilterCriteria, FilterError> {
        Self::parse_with_quota(source, patterns, MAX_FILTERS_DEFAULT)
    }

    /// As [`FilterCriteria::parse`], with an account's raised quota (up to 10).
    pub fn parse_with_quota<S: AsRef<str>>(
        source: FilterSource,
        patterns: &[Option<S>],
        max_filters: usize,
    ) -> Result<FilterCriteria, FilterError> {
        if patterns.len() > max_filters {
            return Err(FilterError::TooManyFilters {
                count: patterns.len(),
                max: max_filters,
            });
        }
        let mut parsed = Vec::with_capacity(patterns.len());
        for p in patterns {
            let text = p.as_ref().ok_or(FilterError::InvalidPattern)?;
            parsed.push(Pattern::parse_for(text.as_ref(), Some(source))?);
        }
        let uses_data = parsed.iter().any(|p| p.root.mentions(source.data_key()));
        Ok(FilterCriteria {
            source: Some(source),
            patterns: parsed,
            uses_data,
        })
    }

    /// Parses stored patterns (all present), as a poller does at mapping load.
    pub fn parse_stored<S: AsRef<str>>(
        source: FilterSource,
        patterns: &[S],
    ) -> Result<FilterCriteria, FilterError> {
        let all: Vec<Option<&str>> = patterns.iter().map(|p| Some(p.as_ref())).collect();
        Self::parse_with_quota(source, &all, usize::MAX)
    }

    /// No filters: every record passes.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The number of filters.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether an event, taken as it is (no data decoding), matches one of the filters.
    pub fn matches(&self, event: &Value) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        match event {
            Value::Object(m) => self.patterns.iter().any(|p| p.root.matches(Some(m))),
            _ => self
                .patterns
                .iter()
                .any(|p| p.root.matches::<Map<String, Value>>(None)),
        }
    }

    /// Whether one SQS record, as the event's `Records[]` element (`messageId`, `receiptHandle`,
    /// `body`, `attributes`, `messageAttributes`, `md5OfBody`, `eventSource`, `eventSourceARN`,
    /// `awsRegion`), passes the filters. The body is read as JSON when it is a JSON object or
    /// array, else as a plain string; a pattern whose `body` filter has the other format drops
    /// the message (`with-sqs-filtering`).
    pub fn matches_sqs_record(&self, record: &Value) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        let Value::Object(record) = record else {
            return false;
        };
        let parsed;
        let data = if self.uses_data {
            match record.get("body") {
                Some(Value::String(body)) => match parse_json_container(body.as_bytes()) {
                    Some(v) => {
                        parsed = v;
                        Data::Json(&parsed)
                    }
                    None => Data::Plain(body),
                },
                Some(other) => Data::Json(other),
                None => Data::Absent,
            }
        } else {
            Data::Untouched
        };
        let view = RecordView {
            outer: record,
            inner: None,
            data_key: "body",
            data,
        };
        self.patterns.iter().any(|p| p.root.matches(Some(&view)))
    }

    /// Whether one Kinesis record, as the event's `Records[]` element (`kinesis: {data (base64),
    /// partitionKey, sequenceNumber, kinesisSchemaVersion, approximateArrivalTimestamp}`,
    /// `eventSource`, `eventID`, ...), passes the filters. Keys are looked up on the record's flat
    /// form (the `kinesis` object's fields beside the outer ones, `data` decoded); a record whose
    /// data is not JSON fails a pattern that filters on `data` (`with-kinesis-filtering`).
    pub fn matches_kinesis_record(&self, record: &Value) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        let Value::Object(record) = record else {
            return false;
        };
        let inner = match record.get("kinesis") {
            Some(Value::Object(k)) => Some(k),
            _ => None,
        };
        let parsed;
        let data = if self.uses_data {
            match inner.and_then(|k| k.get("data")) {
                Some(Value::String(b64)) => {
                    match base64::engine::general_purpose::STANDARD.decode(b64) {
                        Ok(bytes) => match parse_json_container(&bytes) {
                            Some(v) => {
                                parsed = v;
                                Data::Json(&parsed)
                            }
                            // Not JSON: a JSON `data` filter drops it; a plain one cannot exist.
                            None => Data::NotJson,
                        },
                        Err(_) => Data::NotJson,
                    }
                }
                Some(_) => Data::NotJson,
                None => Data::Absent,
            }
        } else {
            Data::Untouched
        };
        let view = RecordView {
            outer: record,
            inner,
            data_key: "data",
            data,
        };
        self.patterns.iter().any(|p| p.root.matches(Some(&view)))
    }

    /// The source the criteria were parsed for (`None` for the empty default).
    pub fn source(&self) -> Option<FilterSource> {
        self.source
    }
}

/// One parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: ObjPattern,
}

impl Pattern {
    /// Parses one pattern with the rule syntax alone (no source's data-key rule).
    pub fn parse(text: &str) -> Result<Pattern, FilterError> {
        Self::parse_for(text, None)
    }

    fn parse_for(text: &str, source: Option<FilterSource>) -> Result<Pattern, FilterError> {
        let value: Value = serde_json::from_str(text).map_err(|_| FilterError::InvalidPattern)?;
        let Value::Object(obj) = value else {
            return Err(FilterError::InvalidPattern);
        };
        let root = ObjPattern::parse(&obj, false)?;
        // Kinesis: "The filter pattern for data properties must be in a valid JSON format", else
        // Lambda "throws an exception at the time of the event source mapping creation or
        // update" (`with-kinesis-filtering`).
        if source == Some(FilterSource::Kinesis) && root.has_plain_filter_on("data") {
            return Err(FilterError::InvalidPattern);
        }
        Ok(Pattern { root })
    }

    /// Whether an event, as it is, matches.
    pub fn matches(&self, event: &Value) -> bool {
        match event {
            Value::Object(m) => self.root.matches(Some(m)),
            _ => self.root.matches::<Map<String, Value>>(None),
        }
    }
}

/// A pattern object: its fields (ANDed) and its `$or` groups (each: one alternative must match).
#[derive(Debug, Clone, PartialEq)]
struct ObjPattern {
    fields: Vec<(String, FieldPattern)>,
    ors: Vec<Vec<ObjPattern>>,
}

#[derive(Debug, Clone, PartialEq)]
enum FieldPattern {
    /// `"key": [ ... ]`: the leaf values of the key match one of these.
    Leaf(Vec<Matcher>),
    /// `"key": { ... }`: the key's object (or one object of its array) matches.
    Nested(ObjPattern),
}

/// Names event-ruler reserves, refused as field names inside `$or` (its
/// `RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

impl ObjPattern {
    fn parse(obj: &Map<String, Value>, inside_or: bool) -> Result<ObjPattern, FilterError> {
        if obj.is_empty() {
            return Err(FilterError::InvalidPattern);
        }
        let mut fields = Vec::with_capacity(obj.len());
        let mut ors = Vec::new();
        for (key, value) in obj {
            if key == "$or" {
                ors.push(Self::parse_or(value)?);
                continue;
            }
            if inside_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(FilterError::InvalidPattern);
            }
            let field = match value {
                Value::Object(inner) => FieldPattern::Nested(ObjPattern::parse(inner, inside_or)?),
                Value::Array(items) => FieldPattern::Leaf(parse_matchers(items)?),
                _ => return Err(FilterError::InvalidPattern),
            };
            fields.push((key.clone(), field));
        }
        Ok(ObjPattern { fields, ors })
    }

    /// `"$or": [ {..}, {..}, ... ]`: at least two objects.
    fn parse_or(value: &Value) -> Result<Vec<ObjPattern>, FilterError> {
        let Value::Array(items) = value else {
            return Err(FilterError::InvalidPattern);
        };
        if items.len() < 2 {
            return Err(FilterError::InvalidPattern);
        }
        items
            .iter()
            .map(|item| match item {
                Value::Object(o) => ObjPattern::parse(o, true),
                _ => Err(FilterError::InvalidPattern),
            })
            .collect()
    }

    /// Whether the pattern names `key` at this level (directly or in one of its `$or`s).
    fn mentions(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == key)
            || self.ors.iter().flatten().any(|alt| alt.mentions(key))
    }

    /// Whether `key` is filtered at this level as a plain value (`"key": [..]`).
    fn has_plain_filter_on(&self, key: &str) -> bool {
        self.fields
            .iter()
            .any(|(k, f)| k == key && matches!(f, FieldPattern::Leaf(_)))
            || self
                .ors
                .iter()
                .flatten()
                .any(|alt| alt.has_plain_filter_on(key))
    }

    /// Whether `node` (absent: no object there) satisfies every field and every `$or`.
    fn matches<N: Fields>(&self, node: Option<&N>) -> bool {
        self.fields
            .iter()
            .all(|(k, f)| f.matches(node.map_or(Slot::Absent, |n| n.field(k))))
            && self
                .ors
                .iter()
                .all(|alts| alts.iter().any(|alt| alt.matches(node)))
    }
}

impl FieldPattern {
    fn matches(&self, slot: Slot<'_>) -> bool {
        match (self, slot) {
            (FieldPattern::Leaf(ms), Slot::Absent) => ms.contains(&Matcher::Exists(false)),
            (FieldPattern::Leaf(ms), Slot::Value(v)) => leaf_matches(ms, v),
            (FieldPattern::Leaf(ms), Slot::Plain(s)) => ms.iter().any(|m| match m {
                Matcher::Exists(e) => *e,
                m => m.matches_leaf(Leaf::Str(s)),
            }),
            // The data is JSON, the pattern's data filter plain (or the reverse), or the data is
            // not JSON: Lambda drops the record (`with-sqs-filtering`, `with-kinesis-filtering`).
            (FieldPattern::Leaf(_), Slot::JsonData(_))
            | (FieldPattern::Nested(_), Slot::Plain(_))
            | (_, Slot::NotJson) => false,
            (FieldPattern::Nested(p), Slot::Absent) => p.matches::<Map<String, Value>>(None),
            (FieldPattern::Nested(p), Slot::Value(v) | Slot::JsonData(v)) => nested_matches(p, v),
        }
    }
}

/// A leaf field: `exists` asks whether it has any leaf value; the others whether one of its leaf
/// values (the value, or the scalars of its arrays, however deep) matches.
fn leaf_matches(ms: &[Matcher], v: &Value) -> bool {
    ms.iter().any(|m| match m {
        Matcher::Exists(want) => any_leaf(v, &mut |_| true) == *want,
        m => any_leaf(v, &mut |l| m.matches_leaf(l)),
    })
}

fn any_leaf(v: &Value, f: &mut impl FnMut(Leaf<'_>) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| any_leaf(i, f)),
        Value::Object(_) => false,
        Value::String(s) => f(Leaf::Str(s)),
        Value::Number(n) => f(Leaf::Num(n)),
        Value::Bool(b) => f(Leaf::Bool(*b)),
        Value::Null => f(Leaf::Null),
    }
}

/// A nested pattern against a value: an object matches field by field; an array matches when
/// one of its objects does (so a pattern's fields never combine across elements, as
/// event-ruler's `rulesForJSONEvent`); a value with no object there is matched as absent.
fn nested_matches(p: &ObjPattern, v: &Value) -> bool {
    match v {
        Value::Object(m) => p.matches(Some(m)),
        Value::Array(_) => {
            let mut saw_object = false;
            if any_object(v, &mut |m| {
                saw_object = true;
                p.matches(Some(m))
            }) {
                return true;
            }
            !saw_object && p.matches::<Map<String, Value>>(None)
        }
        _ => p.matches::<Map<String, Value>>(None),
    }
}

fn any_object(v: &Value, f: &mut impl FnMut(&Map<String, Value>) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| any_object(i, f)),
        Value::Object(m) => f(m),
        _ => false,
    }
}

/// One value of an event at a leaf.
#[derive(Debug, Clone, Copy)]
enum Leaf<'a> {
    Str(&'a str),
    Num(&'a Number),
    Bool(bool),
    Null,
}

/// One element of a leaf's array in a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    /// `"x"`, `""`, `5`, `true`, `null`: equal, by representation for numbers.
    Exact(Value),
    /// `{"equals-ignore-case": "x"}` (stored lowercased).
    EqualsIgnoreCase(String),
    /// `{"prefix": "x"}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": "x"}}` (stored lowercased).
    PrefixIgnoreCase(String),
    /// `{"suffix": "x"}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": "x"}}` (stored lowercased).
    SuffixIgnoreCase(String),
    /// `{"anything-but": "x" | ["x", ..]}`: any string not listed, and any non-string value.
    AnythingButStrings(Vec<String>),
    /// `{"anything-but": 5 | [5, ..]}`: any number not listed, and any non-number value.
    AnythingButNumbers(Vec<f64>),
    /// `{"numeric": [..]}`.
    Numeric(Range),
    /// `{"exists": true | false}`.
    Exists(bool),
}

/// A numeric range; a bound is (value, inclusive).
#[derive(Debug, Clone, PartialEq)]
struct Range {
    lower: Option<(f64, bool)>,
    upper: Option<(f64, bool)>,
}

impl Range {
    fn contains(&self, x: f64) -> bool {
        let above = match self.lower {
            Some((b, true)) => x >= b,
            Some((b, false)) => x > b,
            None => true,
        };
        let below = match self.upper {
            Some((b, true)) => x <= b,
            Some((b, false)) => x < b,
            None => true,
        };
        above && below
    }
}

impl Matcher {
    fn matches_leaf(&self, leaf: Leaf<'_>) -> bool {
        match (self, leaf) {
            (Matcher::Exact(Value::String(want)), Leaf::Str(s)) => want == s,
            // serde_json compares integers with integers and floats with floats: 300 is not 300.0
            // ("For numbers, Lambda also uses string representation").
            (Matcher::Exact(Value::Number(want)), Leaf::Num(n)) => want == n,
            (Matcher::Exact(Value::Bool(want)), Leaf::Bool(b)) => *want == b,
            (Matcher::Exact(Value::Null), Leaf::Null) => true,
            (Matcher::EqualsIgnoreCase(want), Leaf::Str(s)) => lowercase(s).eq(want.chars()),
            (Matcher::Prefix(p), Leaf::Str(s)) => s.starts_with(p.as_str()),
            (Matcher::PrefixIgnoreCase(p), Leaf::Str(s)) => {
                let mut it = lowercase(s);
                p.chars().all(|c| it.next() == Some(c))
            }
            (Matcher::Suffix(p), Leaf::Str(s)) => s.ends_with(p.as_str()),
            (Matcher::SuffixIgnoreCase(p), Leaf::Str(s)) => {
                let mut it = s.chars().rev().flat_map(|c| c.to_lowercase().rev());
                p.chars().rev().all(|c| it.next() == Some(c))
            }
            (Matcher::AnythingButStrings(set), Leaf::Str(s)) => !set.iter().any(|x| x == s),
            (Matcher::AnythingButStrings(_), _) => true,
            (Matcher::AnythingButNumbers(set), Leaf::Num(n)) => {
                n.as_f64().is_some_and(|x| !set.contains(&x))
            }
            (Matcher::AnythingButNumbers(_), _) => true,
            (Matcher::Numeric(r), Leaf::Num(n)) => n.as_f64().is_some_and(|x| r.contains(x)),
            _ => false,
        }
    }
}

fn lowercase(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn lower(s: &str) -> String {
    lowercase(s).collect()
}

fn parse_matchers(items: &[Value]) -> Result<Vec<Matcher>, FilterError> {
    if items.is_empty() {
        return Err(FilterError::InvalidPattern);
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
                Ok(Matcher::Exact(item.clone()))
            }
            Value::Object(expr) => parse_expression(expr),
            Value::Array(_) => Err(FilterError::InvalidPattern),
        })
        .collect()
}

/// One match expression: an object of exactly one operator.
fn parse_expression(expr: &Map<String, Value>) -> Result<Matcher, FilterError> {
    let mut it = expr.iter();
    let (Some((op, arg)), None) = (it.next(), it.next()) else {
        return Err(FilterError::InvalidPattern);
    };
    let invalid = Err(FilterError::InvalidPattern);
    match (op.as_str(), arg) {
        ("equals-ignore-case", Value::String(s)) => Ok(Matcher::EqualsIgnoreCase(lower(s))),
        ("prefix", Value::String(s)) => Ok(Matcher::Prefix(s.clone())),
        ("prefix", Value::Object(o)) => Ok(Matcher::PrefixIgnoreCase(ignore_case_arg(o)?)),
        ("suffix", Value::String(s)) => Ok(Matcher::Suffix(s.clone())),
        ("suffix", Value::Object(o)) => Ok(Matcher::SuffixIgnoreCase(ignore_case_arg(o)?)),
        ("anything-but", Value::String(s)) => Ok(Matcher::AnythingButStrings(vec![s.clone()])),
        ("anything-but", Value::Number(n)) => Ok(Matcher::AnythingButNumbers(vec![finite(n)?])),
        ("anything-but", Value::Array(items)) => anything_but_list(items),
        ("numeric", Value::Array(items)) => Ok(Matcher::Numeric(numeric_range(items)?)),
        ("exists", Value::Bool(b)) => Ok(Matcher::Exists(*b)),
        // Everything else, including the operators Lambda's table does not list and EventBridge
        // Pipes do not support (`wildcard`, `anything-but` of an object, `cidr`), and operands
        // of the wrong type.
        _ => invalid,
    }
}

/// `{"equals-ignore-case": "x"}` inside `prefix`/`suffix`.
fn ignore_case_arg(o: &Map<String, Value>) -> Result<String, FilterError> {
    let mut it = o.iter();
    match (it.next(), it.next()) {
        (Some((k, Value::String(s))), None) if k == "equals-ignore-case" => Ok(lower(s)),
        _ => Err(FilterError::InvalidPattern),
    }
}

fn finite(n: &Number) -> Result<f64, FilterError> {
    n.as_f64()
        .filter(|x| x.is_finite())
        .ok_or(FilterError::InvalidPattern)
}

/// `anything-but` of a list: all strings or all numbers, not empty.
fn anything_but_list(items: &[Value]) -> Result<Matcher, FilterError> {
    if items.iter().all(Value::is_string) && !items.is_empty() {
        return Ok(Matcher::AnythingButStrings(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ));
    }
    if items.iter().all(Value::is_number) && !items.is_empty() {
        let numbers = items
            .iter()
            .filter_map(Value::as_number)
            .map(finite)
            .collect::<Result<_, _>>()?;
        return Ok(Matcher::AnythingButNumbers(numbers));
    }
    Err(FilterError::InvalidPattern)
}

/// `["=", n]`, `[op, n]` with op one of `<`, `<=`, `>`, `>=`, or `[">"|">=", n, "<"|"<=", m]`
/// with n < m (event-ruler's `processNumericMatchExpression` and `Range.between`).
fn numeric_range(items: &[Value]) -> Result<Range, FilterError> {
    let op = |i: usize| items.get(i).and_then(Value::as_str);
    let num = |i: usize| match items.get(i) {
        Some(Value::Number(n)) => finite(n),
        _ => Err(FilterError::InvalidPattern),
    };
    let one = |lower, upper| Ok(Range { lower, upper });
    match (op(0), items.len()) {
        (Some("="), 2) => {
            let n = num(1)?;
            one(Some((n, true)), Some((n, true)))
        }
        (Some("<"), 2) => one(None, Some((num(1)?, false))),
        (Some("<="), 2) => one(None, Some((num(1)?, true))),
        (Some(">"), 2) => one(Some((num(1)?, false)), None),
        (Some(">="), 2) => one(Some((num(1)?, true)), None),
        (Some(lo_op @ (">" | ">=")), 4) => {
            let lo = num(1)?;
            let hi_inclusive = match op(2) {
                Some("<") => false,
                Some("<=") => true,
                _ => return Err(FilterError::InvalidPattern),
            };
            let hi = num(3)?;
            if lo >= hi {
                return Err(FilterError::InvalidPattern);
            }
            one(Some((lo, lo_op == ">=")), Some((hi, hi_inclusive)))
        }
        _ => Err(FilterError::InvalidPattern),
    }
}

/// The bytes as JSON when they are a JSON object or array (the data formats the guides call
/// "valid JSON"); `None` for anything else (a plain string, a bare scalar, broken JSON).
fn parse_json_container(bytes: &[u8]) -> Option<Value> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' && *first != b'[' {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

/// What a key of the event holds, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
enum Slot<'a> {
    Absent,
    Value(&'a Value),
    /// The record's data, JSON (an object or array).
    JsonData(&'a Value),
    /// The record's data, a plain string.
    Plain(&'a str),
    /// The record's data, not JSON where only JSON can be filtered (Kinesis).
    NotJson,
}

/// Something whose fields a pattern object reads.
trait Fields {
    fn field(&self, key: &str) -> Slot<'_>;
}

impl Fields for Map<String, Value> {
    fn field(&self, key: &str) -> Slot<'_> {
        self.get(key).map_or(Slot::Absent, Slot::Value)
    }
}

/// The record's decoded data.
#[derive(Debug, Clone, Copy)]
enum Data<'a> {
    /// No pattern reads the data key: it is not decoded.
    Untouched,
    Absent,
    Json(&'a Value),
    Plain(&'a str),
    NotJson,
}

/// A record as the filters see it: its fields (and, for Kinesis, the `kinesis` object's fields
/// beside them), with the data key decoded.
struct RecordView<'a> {
    outer: &'a Map<String, Value>,
    inner: Option<&'a Map<String, Value>>,
    data_key: &'static str,
    data: Data<'a>,
}

impl Fields for RecordView<'_> {
    fn field(&self, key: &str) -> Slot<'_> {
        if key == self.data_key {
            match self.data {
                Data::Json(v) => return Slot::JsonData(v),
                Data::Plain(s) => return Slot::Plain(s),
                Data::NotJson => return Slot::NotJson,
                Data::Absent => return Slot::Absent,
                Data::Untouched => {}
            }
        }
        if let Some(v) = self.inner.and_then(|m| m.get(key)) {
            return Slot::Value(v);
        }
        self.outer.field(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn matches(p: &str, event: Value) -> bool {
        pattern(p).matches(&event)
    }

    fn refused(p: &str) -> FilterError {
        match Pattern::parse(p) {
            Ok(parsed) => panic!("{p} was accepted: {parsed:?}"),
            Err(e) => e,
        }
    }

    // invocation-eventfiltering, "Filter rule syntax": Null, `"UserID": [ null ]`.
    #[test]
    fn null_matches_a_null_value_only() {
        let p = r#"{"UserID": [null]}"#;
        assert!(matches(p, json!({"UserID": null})));
        assert!(!matches(p, json!({"UserID": "null"})));
        assert!(!matches(p, json!({"UserID": ""})));
        assert!(!matches(p, json!({"Other": 1})));
    }

    // invocation-eventfiltering: Empty, `"LastName": [""]`.
    #[test]
    fn empty_string_matches_the_empty_string() {
        let p = r#"{"LastName": [""]}"#;
        assert!(matches(p, json!({"LastName": ""})));
        assert!(!matches(p, json!({"LastName": "Doe"})));
        assert!(!matches(p, json!({"LastName": null})));
        assert!(!matches(p, json!({})));
    }

    // invocation-eventfiltering: Equals, `"Name": [ "Alice" ]`; "exact character-by-character
    // matching without case-folding".
    #[test]
    fn equals_is_exact() {
        let p = r#"{"Name": ["Alice"]}"#;
        assert!(matches(p, json!({"Name": "Alice"})));
        assert!(!matches(p, json!({"Name": "alice"})));
        assert!(!matches(p, json!({"Name": "Alice "})));
    }

    // invocation-eventfiltering: Equals (ignore case), `"Name": [ { "equals-ignore-case":
    // "alice" } ]`.
    #[test]
    fn equals_ignore_case() {
        let p = r#"{"Name": [{"equals-ignore-case": "alice"}]}"#;
        assert!(matches(p, json!({"Name": "Alice"})));
        assert!(matches(p, json!({"Name": "ALICE"})));
        assert!(!matches(p, json!({"Name": "Alicia"})));
        assert!(!matches(p, json!({"Name": 1})));
    }

    // invocation-eventfiltering: And, `"Location": [ "New York" ], "Day": ["Monday"]`.
    #[test]
    fn fields_are_anded() {
        let p = r#"{"Location": ["New York"], "Day": ["Monday"]}"#;
        assert!(matches(p, json!({"Location": "New York", "Day": "Monday"})));
        assert!(!matches(
            p,
            json!({"Location": "New York", "Day": "Tuesday"})
        ));
        assert!(!matches(p, json!({"Location": "New York"})));
    }

    // invocation-eventfiltering: Or, `"PaymentType": [ "Credit", "Debit"]`.
    #[test]
    fn values_of_a_field_are_ored() {
        let p = r#"{"PaymentType": ["Credit", "Debit"]}"#;
        assert!(matches(p, json!({"PaymentType": "Credit"})));
        assert!(matches(p, json!({"PaymentType": "Debit"})));
        assert!(!matches(p, json!({"PaymentType": "Cash"})));
    }

    // invocation-eventfiltering: Or (multiple fields), `"$or": [ { "Location": [ "New York" ] },
    // { "Day": [ "Monday" ] } ]`; event-ruler README, "Or" has an "And" inside.
    #[test]
    fn dollar_or_across_fields() {
        let p = r#"{"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}"#;
        assert!(matches(p, json!({"Location": "New York", "Day": "Friday"})));
        assert!(matches(p, json!({"Location": "Paris", "Day": "Monday"})));
        assert!(!matches(p, json!({"Location": "Paris", "Day": "Friday"})));
        let p = r#"{"source": ["aws.cloudwatch"], "$or": [
            {"metricName": ["CPUUtilization"]},
            {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}]}"#;
        assert!(matches(
            p,
            json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"})
        ));
        assert!(!matches(
            p,
            json!({"source": "aws.cloudwatch", "metricType": "MetricType"})
        ));
        assert!(!matches(
            p,
            json!({"source": "x", "metricName": "CPUUtilization"})
        ));
    }

    // event-ruler README, Parallel "Or": `$or` inside a nested object, ANDed with a top-level
    // `$or`; Nested "Or" and "And".
    #[test]
    fn dollar_or_nested() {
        let p = r#"{
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
            "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["Alarm"]}]}}"#;
        assert!(matches(
            p,
            json!({"namespace": "AWS/EC2", "detail": {"detail-type": "Alarm"}})
        ));
        assert!(!matches(
            p,
            json!({"namespace": "AWS/EC2", "detail": {"x": 1}})
        ));
        assert!(!matches(p, json!({"detail": {"source": "aws.cloudwatch"}})));
        let p = r#"{"source": ["aws.cloudwatch"], "$or": [
            {"metricName": ["CPUUtilization"]},
            {"namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}"#;
        assert!(matches(
            p,
            json!({"source": "aws.cloudwatch", "namespace": "AWS/EC2", "spaceId": 1000})
        ));
        assert!(!matches(
            p,
            json!({"source": "aws.cloudwatch", "namespace": "AWS/EC2", "spaceId": 1001})
        ));
    }

    // event-ruler README, Equals-ignore-case matching works on string values whatever their
    // script.
    #[test]
    fn ignore_case_beyond_ascii() {
        let p = r#"{"city": [{"equals-ignore-case": "MÜNCHEN"}]}"#;
        assert!(matches(p, json!({"city": "münchen"})));
        assert!(!matches(p, json!({"city": "munchen"})));
        let p = r#"{"city": [{"suffix": {"equals-ignore-case": "ÜNCHEN"}}]}"#;
        assert!(matches(p, json!({"city": "München"})));
    }

    // invocation-eventfiltering: Not, `"Weather": [ { "anything-but": [ "Raining" ] } ]`;
    // EventBridge content filtering: anything-but of one string, one number, a list of numbers.
    #[test]
    fn anything_but() {
        let p = r#"{"Weather": [{"anything-but": ["Raining"]}]}"#;
        assert!(matches(p, json!({"Weather": "Sunny"})));
        assert!(!matches(p, json!({"Weather": "Raining"})));
        // No value: nothing to compare (event-ruler matches anything-but on present values).
        assert!(!matches(p, json!({})));
        let p = r#"{"state": [{"anything-but": "initializing"}]}"#;
        assert!(matches(p, json!({"state": "running"})));
        assert!(!matches(p, json!({"state": "initializing"})));
        let p = r#"{"x-limit": [{"anything-but": [100, 200, 300]}]}"#;
        assert!(matches(p, json!({"x-limit": 150})));
        assert!(!matches(p, json!({"x-limit": 200})));
        assert!(!matches(p, json!({"x-limit": 200.0})));
        let p = r#"{"x-limit": [{"anything-but": 123}]}"#;
        assert!(matches(p, json!({"x-limit": 124})));
        assert!(!matches(p, json!({"x-limit": 123})));
    }

    // invocation-eventfiltering: Numeric (equals), `"Price": [ { "numeric": [ "=", 100 ] } ]`.
    #[test]
    fn numeric_equals() {
        let p = r#"{"Price": [{"numeric": ["=", 100]}]}"#;
        assert!(matches(p, json!({"Price": 100})));
        assert!(matches(p, json!({"Price": 100.0})));
        assert!(!matches(p, json!({"Price": 101})));
        // Numeric matching "only work[s] with values that are JSON numbers" (event-ruler).
        assert!(!matches(p, json!({"Price": "100"})));
    }

    // invocation-eventfiltering: Numeric (range), `"Price": [ { "numeric": [ ">", 10, "<=", 20 ]
    // } ]`; with-sqs-filtering: `"RecordNumber": [ { "numeric": [ ">", 9999 ] } ]`.
    #[test]
    fn numeric_range() {
        let p = r#"{"Price": [{"numeric": [">", 10, "<=", 20]}]}"#;
        assert!(matches(p, json!({"Price": 20})));
        assert!(matches(p, json!({"Price": 10.5})));
        assert!(!matches(p, json!({"Price": 10})));
        assert!(!matches(p, json!({"Price": 20.01})));
        let p = r#"{"n": [{"numeric": [">=", 100, "<", 200]}]}"#;
        assert!(matches(p, json!({"n": 100})));
        assert!(!matches(p, json!({"n": 200})));
        let p = r#"{"n": [{"numeric": ["<", 0]}]}"#;
        assert!(matches(p, json!({"n": -0.5})));
        assert!(!matches(p, json!({"n": 0})));
    }

    // invocation-eventfiltering: Exists / Does not exist, and "the Exists operator only works on
    // leaf nodes": `{ "person": { "address": [ { "exists": true } ] } }` does not match the guide's
    // person whose address is an object.
    #[test]
    fn exists_sees_leaves_only() {
        let p = r#"{"ProductName": [{"exists": true}]}"#;
        assert!(matches(p, json!({"ProductName": "x"})));
        assert!(matches(p, json!({"ProductName": null})));
        assert!(!matches(p, json!({"Other": "x"})));
        let p = r#"{"ProductName": [{"exists": false}]}"#;
        assert!(matches(p, json!({"Other": "x"})));
        assert!(!matches(p, json!({"ProductName": "x"})));
        let person = json!({"person": {"name": "John Doe", "age": 30,
            "address": {"street": "123 Main St", "city": "Anytown", "country": "USA"}}});
        assert!(!matches(
            r#"{"person": {"address": [{"exists": true}]}}"#,
            person.clone()
        ));
        assert!(matches(
            r#"{"person": {"address": [{"exists": false}]}}"#,
            person.clone()
        ));
        assert!(matches(
            r#"{"person": {"address": {"city": [{"exists": true}]}}}"#,
            person
        ));
    }

    // invocation-eventfiltering: Begins with, `"Region": [ {"prefix": "us-" } ]`; EventBridge's
    // table: Begins with (ignore case), `{ "prefix": { "equals-ignore-case": "eventb" }}`.
    #[test]
    fn prefix() {
        let p = r#"{"Region": [{"prefix": "us-"}]}"#;
        assert!(matches(p, json!({"Region": "us-east-1"})));
        assert!(!matches(p, json!({"Region": "eu-west-1"})));
        assert!(!matches(p, json!({"Region": "US-east-1"})));
        let p = r#"{"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}"#;
        assert!(matches(p, json!({"service": "EventBridge"})));
        assert!(!matches(p, json!({"service": "Event"})));
        assert!(!matches(p, json!({"service": "lambda"})));
    }

    // invocation-eventfiltering: Ends with, `"FileName": [ { "suffix": ".png" } ]`; EventBridge's
    // table: Ends with (ignore case), `{ "suffix": { "equals-ignore-case": "tBridge" }}`.
    #[test]
    fn suffix() {
        let p = r#"{"FileName": [{"suffix": ".png"}]}"#;
        assert!(matches(p, json!({"FileName": "image.png"})));
        assert!(!matches(p, json!({"FileName": "image.jpg"})));
        assert!(!matches(p, json!({"FileName": "image.PNG"})));
        let p = r#"{"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]}"#;
        assert!(matches(p, json!({"service": "EVENTBRIDGE"})));
        assert!(!matches(p, json!({"service": "bridge"})));
    }

    // invocation-eventfiltering: "For numbers, Lambda also uses string representation. For
    // example, 300, 300.0, and 3.0e2 are not considered equal."
    #[test]
    fn numbers_match_by_representation() {
        let p = r#"{"n": [300]}"#;
        assert!(matches(p, json!({"n": 300})));
        assert!(!matches(p, json!({"n": 300.0})));
        assert!(!matches(p, json!({"n": "300"})));
        assert!(!matches(r#"{"n": ["300"]}"#, json!({"n": 300})));
        assert!(matches(r#"{"b": [true]}"#, json!({"b": true})));
        assert!(!matches(r#"{"b": [true]}"#, json!({"b": "true"})));
    }

    // event-ruler README, Simple matching: "if the value in the event is also an array, the rule
    // matches if the intersection between the event array and rule-array is non-empty"; JSON
    // Array Matching: fields match within one element of an array of objects.
    #[test]
    fn arrays_in_the_event() {
        let p = r#"{"tags": ["urgent", "low"]}"#;
        assert!(matches(p, json!({"tags": ["backend", "urgent"]})));
        assert!(!matches(p, json!({"tags": ["backend"]})));
        assert!(!matches(p, json!({"tags": []})));
        assert!(matches(r#"{"t": [{"exists": false}]}"#, json!({"t": []})));
        let employees = json!({"employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"}]});
        assert!(matches(
            r#"{"employees": {"firstName": ["Anna"]}}"#,
            employees.clone()
        ));
        assert!(matches(
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#,
            employees.clone()
        ));
        assert!(!matches(
            r#"{"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}"#,
            employees
        ));
        // Numeric on an array of numbers: any element (the guide's tire_pressure example of
        // the launch post, `[41, 40, 31, 41]` with `numeric < 32`).
        assert!(matches(
            r#"{"tire_pressure": [{"numeric": ["<", 32]}]}"#,
            json!({"tire_pressure": [41, 40, 31, 41]})
        ));
    }

    // invocation-eventfiltering, multi-level filtering: `{ "dynamodb": { "Keys": { "Number": {
    // "N": [ "4567" ] } } } }`.
    #[test]
    fn nested_objects() {
        let p = r#"{"dynamodb": {"Keys": {"Number": {"N": ["4567"]}}}}"#;
        assert!(matches(
            p,
            json!({"dynamodb": {"Keys": {"ID": {"S": "ABCD"}, "Number": {"N": "4567"}}}})
        ));
        assert!(!matches(
            p,
            json!({"dynamodb": {"Keys": {"ID": {"S": "ABCD"}, "Number": {"N": "1234"}}}})
        ));
        assert!(!matches(p, json!({"dynamodb": "flat"})));
        assert!(!matches(p, json!({})));
    }

    // invocation-eventfiltering: "Your filters are logically ORed together"; an empty Filters
    // list is accepted (LocalStack's AWS-recorded `test_create_event_filter_criteria_validation`:
    // `response-with-empty-filters`) and filters nothing.
    #[test]
    fn filters_are_ored_and_none_passes_everything() {
        let c = FilterCriteria::parse(
            FilterSource::Sqs,
            &[
                Some(r#"{"awsRegion": ["us-east-1"]}"#),
                Some(r#"{"awsRegion": ["eu-west-1"]}"#),
            ],
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert!(c.matches(&json!({"awsRegion": "eu-west-1"})));
        assert!(c.matches(&json!({"awsRegion": "us-east-1"})));
        assert!(!c.matches(&json!({"awsRegion": "ap-south-1"})));
        let none = FilterCriteria::parse::<&str>(FilterSource::Sqs, &[]).unwrap();
        assert!(none.is_empty());
        assert!(none.matches_sqs_record(&json!({"body": "anything"})));
        assert!(FilterCriteria::default().matches(&json!(null)));
    }

    // LocalStack's AWS-recorded `test_lambda_integration_sqs.snapshot.json`,
    // `test_sqs_invalid_event_filter[None]`, `[simple string]`, `[invalid_filter2]`
    // (`{"eventSource": "aws:sqs"}`), `[invalid_filter3]` (`{"eventSource": []}`):
    // InvalidParameterValueException "Invalid filter pattern definition.".
    #[test]
    fn recorded_invalid_patterns() {
        for p in [
            "null",
            "simple string",
            r#"{"eventSource": "aws:sqs"}"#,
            r#"{"eventSource": []}"#,
        ] {
            let err = FilterCriteria::parse(FilterSource::Sqs, &[Some(p)]).unwrap_err();
            assert_eq!(err, FilterError::InvalidPattern, "{p}");
            let err = Error::from(err);
            assert_eq!(err.kind, ErrorKind::InvalidParameterValue);
            assert_eq!(err.message, "Invalid filter pattern definition.");
        }
        // A filter without its Pattern, and an empty one.
        let missing: [Option<&str>; 1] = [None];
        assert_eq!(
            FilterCriteria::parse(FilterSource::Sqs, &missing).unwrap_err(),
            FilterError::InvalidPattern
        );
        assert_eq!(refused(""), FilterError::InvalidPattern);
    }

    // event-ruler's JsonRuleCompiler refusals: "Empty objects are not allowed", "must be an object
    // or an array", "Match value must be String, number, true, false, or null", "Only one key
    // allowed in match expression", "prefix match pattern must be a string", "exists match
    // pattern must be either true or false", anything-but lists of one type, numeric ranges
    // (`Range.between` wants bottom < top), `$or` with at least two objects and no reserved
    // names. Lambda answers each with the one recorded message.
    #[test]
    fn rule_syntax_refusals() {
        for p in [
            "{}",
            "[]",
            r#"{"a": {}}"#,
            r#"{"a": 1}"#,
            r#"{"a": [[1]]}"#,
            r#"{"a": [{}]}"#,
            r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
            r#"{"a": [{"prefix": 1}]}"#,
            r#"{"a": [{"prefix": {"equals-ignore-case": 1}}]}"#,
            r#"{"a": [{"prefix": {"other": "x"}}]}"#,
            r#"{"a": [{"suffix": null}]}"#,
            r#"{"a": [{"equals-ignore-case": ["x"]}]}"#,
            r#"{"a": [{"exists": "true"}]}"#,
            r#"{"a": [{"anything-but": []}]}"#,
            r#"{"a": [{"anything-but": ["x", 1]}]}"#,
            r#"{"a": [{"anything-but": [null]}]}"#,
            r#"{"a": [{"anything-but": true}]}"#,
            r#"{"a": [{"numeric": [">", "1"]}]}"#,
            r#"{"a": [{"numeric": ["=", 1, "<", 2]}]}"#,
            r#"{"a": [{"numeric": ["<", 5, ">", 1]}]}"#,
            r#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#,
            r#"{"a": [{"numeric": [">", 5, "<", 5]}]}"#,
            r#"{"a": [{"numeric": ["!=", 5]}]}"#,
            r#"{"a": [{"numeric": [">"]}]}"#,
            r#"{"a": [{"numeric": 5}]}"#,
            r#"{"a": [{"unknown": "x"}]}"#,
            r#"{"$or": [{"a": ["x"]}]}"#,
            r#"{"$or": {"a": ["x"]}}"#,
            r#"{"$or": [{"a": ["x"]}, "b"]}"#,
            r#"{"$or": [{"a": ["x"]}, {"numeric": ["x"]}]}"#,
            r#"{"$or": [{"a": ["x"]}, {"b": {"prefix": ["x"]}}]}"#,
        ] {
            assert_eq!(refused(p), FilterError::InvalidPattern, "{p}");
        }
    }

    // EventBridge's comparison-operator table marks anything-but (begins with / ends with /
    // ignore case / wildcard) and wildcard "Pipe support: No", and Lambda's table lists none of
    // them (nor `cidr`): refused as Lambda refuses unknown syntax.
    #[test]
    fn operators_lambda_does_not_list_are_refused() {
        for p in [
            r#"{"Region": [{"anything-but": {"prefix": "us-"}}]}"#,
            r#"{"FileName": [{"anything-but": {"suffix": ".png"}}]}"#,
            r#"{"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}"#,
            r#"{"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#,
            r#"{"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#,
            r#"{"source-ip": [{"cidr": "10.0.0.0/24"}]}"#,
        ] {
            assert_eq!(refused(p), FilterError::InvalidPattern, "{p}");
        }
    }

    // invocation-eventfiltering: "By default, you can define up to five different filters for a
    // single event source mapping ... you can request a quota increase for up to 10".
    #[test]
    fn filter_count_limit() {
        let p = Some(r#"{"a": ["x"]}"#);
        assert!(FilterCriteria::parse(FilterSource::Sqs, &[p; 5]).is_ok());
        let err = FilterCriteria::parse(FilterSource::Sqs, &[p; 6]).unwrap_err();
        assert_eq!(err, FilterError::TooManyFilters { count: 6, max: 5 });
        assert_eq!(Error::from(err).kind, ErrorKind::InvalidParameterValue);
        assert!(
            FilterCriteria::parse_with_quota(FilterSource::Sqs, &[p; 10], MAX_FILTERS_QUOTA)
                .is_ok()
        );
    }

    // botocore's lambda model: `Pattern` is a string of at most 4096 characters; AWS's framework
    // names a list member's field `filters.N.member.pattern` (EventBridge's recorded
    // `targets.1.member.id`).
    #[test]
    fn pattern_length_is_a_model_constraint() {
        let long = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(4086));
        assert_eq!(long.chars().count(), 4097);
        let ok = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(4085));
        assert_eq!(ok.chars().count(), 4096);
        let mut v = Violations::new();
        check_pattern_shapes(&mut v, &[Some(ok.as_str()), None]);
        assert!(v.is_empty());
        let mut v = Violations::new();
        check_pattern_shapes(&mut v, &[Some(ok.as_str()), Some(long.as_str())]);
        let err = v.finish().unwrap_err();
        assert_eq!(err.kind, ErrorKind::Validation);
        assert_eq!(
            err.message,
            format!(
                "1 validation error detected: Value '{long}' at \
                 'filterCriteria.filters.2.member.pattern' failed to satisfy constraint: Member \
                 must have length less than or equal to 4096"
            )
        );
    }

    fn sqs_record(body: &str) -> Value {
        // with-sqs-filtering, "An example record for this queue".
        json!({
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185"
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:my-queue",
            "awsRegion": "us-west-2"
        })
    }

    fn criteria(source: FilterSource, patterns: &[&str]) -> FilterCriteria {
        let all: Vec<Option<&str>> = patterns.iter().copied().map(Some).collect();
        FilterCriteria::parse(source, &all).unwrap()
    }

    fn sqs(patterns: &[&str]) -> FilterCriteria {
        criteria(FilterSource::Sqs, patterns)
    }

    // with-sqs-filtering: `{ "body" : { "RequestCode" : [ "BBBB" ] } }` and `{ "body" : {
    // "RecordNumber" : [ { "numeric": [ ">", 9999 ] } ] } }` on JSON bodies.
    #[test]
    fn sqs_json_body() {
        let body = |code: &str, n: u32| {
            format!(
                "{{\n \"RecordNumber\": {n},\n \"TimeStamp\": \"yyyy-mm-ddThh:mm:ss\",\n \"RequestCode\": \"{code}\"\n}}"
            )
        };
        let c = sqs(&[r#"{ "body" : { "RequestCode" : [ "BBBB" ] } }"#]);
        assert!(c.matches_sqs_record(&sqs_record(&body("BBBB", 1234))));
        assert!(!c.matches_sqs_record(&sqs_record(&body("AAAA", 1234))));
        let c = sqs(&[r#"{ "body" : { "RecordNumber" : [ { "numeric": [ ">", 9999 ] } ] } }"#]);
        assert!(c.matches_sqs_record(&sqs_record(&body("AAAA", 10000))));
        assert!(!c.matches_sqs_record(&sqs_record(&body("AAAA", 1234))));
        // The record itself is not changed: the body stays the string it was.
        let record = sqs_record(&body("AAAA", 10000));
        assert!(c.matches_sqs_record(&record));
        assert!(record["body"].is_string());
    }

    // with-sqs-filtering's table: plain string body with a plain string pattern: filtered; plain
    // string body with a JSON pattern: dropped; JSON body with a plain string pattern: dropped;
    // no pattern on the data: the metadata alone decides.
    #[test]
    fn sqs_body_format_table() {
        let plain = sqs(&[r#"{"body": ["plain-string"]}"#]);
        assert!(plain.matches_sqs_record(&sqs_record("plain-string")));
        assert!(!plain.matches_sqs_record(&sqs_record("plain-string-not-matching")));
        let prefix = sqs(&[r#"{"body": [{"prefix": "Result: "}]}"#]);
        assert!(prefix.matches_sqs_record(&sqs_record("Result: ok")));
        // A JSON body against a plain pattern: dropped, even when its text would match.
        let brace = sqs(&[r#"{"body": [{"prefix": "{"}]}"#]);
        assert!(!brace.matches_sqs_record(&sqs_record(r#"{"my-key": "my-value"}"#)));
        assert!(!sqs(&[r#"{"body": [{"exists": true}]}"#])
            .matches_sqs_record(&sqs_record(r#"{"my-key": "my-value"}"#)));
        // A plain body against a JSON pattern: dropped (LocalStack's AWS-validated
        // `test_sqs_event_filter[valid-json-filter]`), even for `exists: false`.
        let json_p = sqs(&[r#"{"body": {"my-key": ["my-value"]}}"#]);
        assert!(json_p.matches_sqs_record(&sqs_record(r#"{"my-key": "my-value"}"#)));
        assert!(!json_p.matches_sqs_record(&sqs_record("plain-string")));
        assert!(!sqs(&[r#"{"body": {"k": [{"exists": false}]}}"#])
            .matches_sqs_record(&sqs_record("plain-string")));
        // A body that is JSON but not an object or array is a plain string here.
        assert!(sqs(&[r#"{"body": ["42"]}"#]).matches_sqs_record(&sqs_record("42")));
        // Broken JSON is a plain string.
        assert!(sqs(&[r#"{"body": [{"prefix": "{\"a\""}]}"#])
            .matches_sqs_record(&sqs_record(r#"{"a": "#)));
        // No data filter: metadata only, whatever the body.
        let meta = sqs(&[
            r#"{"awsRegion": ["us-west-2"], "attributes": {"ApproximateReceiveCount": ["1"]}}"#,
        ]);
        assert!(meta.matches_sqs_record(&sqs_record("plain")));
        assert!(meta.matches_sqs_record(&sqs_record(r#"{"a": 1}"#)));
        assert!(!sqs(&[r#"{"awsRegion": ["us-east-1"]}"#]).matches_sqs_record(&sqs_record("plain")));
    }

    // LocalStack's AWS-validated `test_sqs_event_filter` cases (single, or, and, exists,
    // numeric-bigger, numeric-smaller, numeric-range, prefix): the matching body passes, the other
    // does not.
    #[test]
    fn sqs_recorded_cases() {
        let cases = [
            (
                r#"{"body": {"my-key": ["my-value"]}}"#,
                json!({"my-key": "my-value"}),
                json!({"my-key": "other-value"}),
            ),
            (
                r#"{"body": {"my-key": ["my-value-one", "my-value-two"]}}"#,
                json!({"my-key": "my-value-two"}),
                json!({"my-key": "other-value"}),
            ),
            (
                r#"{"body": {"my-key-one": ["other-filter", "my-value-one"], "my-key-two": ["my-value-two"]}}"#,
                json!({"my-key-one": "my-value-one", "my-key-two": "my-value-two"}),
                json!({"my-key-one": "other-value-", "my-key-two": "my-value-two"}),
            ),
            (
                r#"{"body": {"my-key": [{"exists": true}]}}"#,
                json!({"my-key": "any-value-one"}),
                json!({"other-key": "any-value-two"}),
            ),
            (
                r#"{"body": {"my-number": [{"numeric": [">", 100]}]}}"#,
                json!({"my-number": 101}),
                json!({"my-number": 100}),
            ),
            (
                r#"{"body": {"my-number": [{"numeric": ["<", 100]}]}}"#,
                json!({"my-number": 99}),
                json!({"my-number": 100}),
            ),
            (
                r#"{"body": {"my-number": [{"numeric": [">=", 100, "<", 200]}]}}"#,
                json!({"my-number": 100}),
                json!({"my-number": 200}),
            ),
            (
                r#"{"body": {"my-key": [{"prefix": "yes"}]}}"#,
                json!({"my-key": "yes-value"}),
                json!({"my-key": "no-value"}),
            ),
        ];
        for (p, yes, no) in cases {
            let c = sqs(&[p]);
            assert!(
                c.matches_sqs_record(&sqs_record(&yes.to_string())),
                "{p} {yes}"
            );
            assert!(
                !c.matches_sqs_record(&sqs_record(&no.to_string())),
                "{p} {no}"
            );
        }
    }

    fn kinesis_record(data: &[u8]) -> Value {
        // with-kinesis-filtering, "An example record".
        json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "1",
                "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                "data": base64::engine::general_purpose::STANDARD.encode(data),
                "approximateArrivalTimestamp": 1545084650.987
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
            "awsRegion": "us-east-2",
            "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
        })
    }

    fn kinesis(patterns: &[&str]) -> FilterCriteria {
        criteria(FilterSource::Kinesis, patterns)
    }

    // with-kinesis-filtering: `{ "data" : { "order" : { "type" : [ "buy" ] } } }` on base64 JSON
    // data, and the guide's own record (base64 of `{"RecordNumber": "0001", ..., "RequestCode":
    // "AAAA"}`).
    #[test]
    fn kinesis_json_data() {
        let c = kinesis(&[r#"{ "data" : { "order" : { "type" : [ "buy" ] } } }"#]);
        let buy =
            br#"{"record": 12345, "order": {"type": "buy", "stock": "ANYCO", "quantity": 1000}}"#;
        let sell =
            br#"{"record": 12345, "order": {"type": "sell", "stock": "ANYCO", "quantity": 1000}}"#;
        assert!(c.matches_kinesis_record(&kinesis_record(buy)));
        assert!(!c.matches_kinesis_record(&kinesis_record(sell)));
        let mut guide = kinesis_record(b"");
        guide["kinesis"]["data"] = json!("eyJSZWNvcmROdW1iZXIiOiAiMDAwMSIsICJUaW1lU3RhbXAiOiAieXl5eS1tbS1kZFRoaDptbTpzcyIsICJSZXF1ZXN0Q29kZSI6ICJBQUFBIn0=");
        assert!(kinesis(&[r#"{"data": {"RequestCode": ["AAAA"]}}"#]).matches_kinesis_record(&guide));
        assert!(
            !kinesis(&[r#"{"data": {"RequestCode": ["BBBB"]}}"#]).matches_kinesis_record(&guide)
        );
    }

    // with-kinesis-filtering's table: non-JSON data with a JSON data pattern: dropped; no data
    // pattern: metadata only; a non-JSON pattern for data: refused at create/update.
    // invocation-eventfiltering (2022 edition), Kinesis example: `{ "partitionKey": [ "1" ],
    // "data": { "Location": [ "Los Angeles" ] }}` (metadata keys beside `data`).
    #[test]
    fn kinesis_data_rules() {
        let c = kinesis(&[r#"{"data": {"a": [{"exists": false}]}}"#]);
        assert!(!c.matches_kinesis_record(&kinesis_record(b"not json at all")));
        assert!(c.matches_kinesis_record(&kinesis_record(br#"{"b": 1}"#)));
        let mut broken = kinesis_record(b"");
        broken["kinesis"]["data"] = json!("%%% not base64");
        assert!(!c.matches_kinesis_record(&broken));
        let meta = kinesis(&[r#"{"partitionKey": ["1"], "eventSource": ["aws:kinesis"]}"#]);
        assert!(meta.matches_kinesis_record(&kinesis_record(b"not json")));
        assert!(
            !kinesis(&[r#"{"partitionKey": ["2"]}"#]).matches_kinesis_record(&kinesis_record(b"x"))
        );
        let both =
            kinesis(&[r#"{ "partitionKey": [ "1" ], "data": { "Location": [ "Los Angeles" ] }}"#]);
        assert!(both.matches_kinesis_record(&kinesis_record(br#"{"Location": "Los Angeles"}"#)));
        assert!(!both.matches_kinesis_record(&kinesis_record(br#"{"Location": "Seattle"}"#)));
        for p in [
            r#"{"data": ["x"]}"#,
            r#"{"data": [{"prefix": "x"}]}"#,
            r#"{"$or": [{"data": ["x"]}, {"partitionKey": ["1"]}]}"#,
        ] {
            assert_eq!(
                FilterCriteria::parse(FilterSource::Kinesis, &[Some(p)]).unwrap_err(),
                FilterError::InvalidPattern,
                "{p}"
            );
            // The same pattern is a plain-string filter on an SQS body: accepted there.
            assert!(
                FilterCriteria::parse(FilterSource::Sqs, &[Some(p)]).is_ok(),
                "{p}"
            );
        }
        assert_eq!(
            FilterCriteria::parse_stored(FilterSource::Kinesis, &[r#"{"data": ["x"]}"#])
                .unwrap_err(),
            FilterError::InvalidPattern
        );
    }
}
