//! One validation mechanism for every request: the constraints of the Lambda model (required,
//! length, range, pattern, enum; on a member, a list's members or a map's keys and values),
//! checked by [`Violations`] and rendered, only here, in AWS's words.
//!
//! AWS checks a request in two steps, and so does Hako:
//! 1. The framework checks every member against its shape's constraints and reports all that
//!    fail at once, as a `ValidationException`: `1 validation error detected: Value '901' at
//!    'timeout' failed to satisfy constraint: Member must have value less than or equal to 900`,
//!    or `2 validation errors detected: Value ... ; Value ...`. [`Violations`] collects them
//!    (member order as in botocore's request shape) and [`Violations::finish`] renders them.
//! 2. Lambda itself then checks what the model cannot say (a reserved environment key, a runtime
//!    that is deprecated, a function name longer than 64 characters) and answers
//!    `InvalidParameterValueException`; those messages are named constructors beside the check
//!    (e.g. [`crate::runtime::invalid_runtime`]). A service check worded like a constraint
//!    (`functionName` longer than 64) goes through [`Violations::finish_as`].
//!
//! The shapes themselves (bounds, patterns, value sets) are in [`shapes`], taken from botocore's
//! model.

pub mod function;
pub mod shapes;
pub mod tags;

use std::fmt;
use std::sync::OnceLock;

use crate::error::{Error, ErrorKind};

/// A regular expression of the model: shown as AWS shows it, matched against the whole value (as
/// Java's `String.matches` does).
pub struct Pattern {
    text: &'static str,
    /// What is matched when `text` uses lookaround the `regex` crate lacks in a place
    /// [`NOT_ALL_DIGITS`] does not cover: an equivalent expression without it.
    matcher: Option<&'static str>,
    re: OnceLock<regex::Regex>,
}

/// The negative lookahead the `Alias` shape starts with; the `regex` crate has no lookaround, so
/// it is checked by hand.
const NOT_ALL_DIGITS: &str = "(?!^[0-9]+$)";

impl Pattern {
    pub const fn new(text: &'static str) -> Pattern {
        Pattern {
            text,
            matcher: None,
            re: OnceLock::new(),
        }
    }

    /// A pattern shown as `text` (AWS's, with lookaround) and matched as `matcher`, an
    /// equivalent expression the `regex` crate can run.
    pub const fn equivalent(text: &'static str, matcher: &'static str) -> Pattern {
        Pattern {
            text,
            matcher: Some(matcher),
            re: OnceLock::new(),
        }
    }

    /// The pattern as AWS prints it.
    pub fn text(&self) -> &'static str {
        self.text
    }

    /// Whether the whole of `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        let text = self.matcher.unwrap_or(self.text);
        let (body, not_all_digits) = match text.strip_prefix(NOT_ALL_DIGITS) {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        if not_all_digits && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        self.re
            .get_or_init(|| {
                regex::Regex::new(&format!("^(?:{body})$")).expect("the model's pattern compiles")
            })
            .is_match(s)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// A scalar shape of the model (a string or a number): its bounds, pattern and value set.
/// Bounds on a string are lengths in characters; on a number, values.
#[derive(Debug)]
pub struct Shape {
    pub max_len: Option<usize>,
    pub min_len: Option<usize>,
    pub max: Option<Bound>,
    pub min: Option<Bound>,
    pub pattern: Option<&'static Pattern>,
    pub values: Option<&'static [&'static str]>,
}

impl Shape {
    /// A shape with no constraint; fill in what the model says.
    pub const NONE: Shape = Shape {
        max_len: None,
        min_len: None,
        max: None,
        min: None,
        pattern: None,
        values: None,
    };

    /// Every constraint of the shape, in the order AWS lists them (`[Member must have length
    /// less than or equal to 2048, Member must have length greater than or equal to 1, Member
    /// must satisfy regular expression pattern: ...]`).
    pub fn constraints(&'static self) -> Vec<Constraint> {
        let mut out = Vec::new();
        out.extend(self.max_len.map(Constraint::MaxLength));
        out.extend(self.min_len.map(Constraint::MinLength));
        out.extend(self.max.map(Constraint::Max));
        out.extend(self.min.map(Constraint::Min));
        out.extend(self.pattern.map(Constraint::Pattern));
        out.extend(self.values.map(Constraint::Enum));
        out
    }

    /// The constraints a string breaks, in AWS's order.
    pub fn broken_by_str(&'static self, s: &str) -> Vec<Constraint> {
        let len = s.chars().count();
        let mut out = Vec::new();
        if self.max_len.is_some_and(|m| len > m) {
            out.extend(self.max_len.map(Constraint::MaxLength));
        }
        if self.min_len.is_some_and(|m| len < m) {
            out.extend(self.min_len.map(Constraint::MinLength));
        }
        if self.pattern.is_some_and(|p| !p.matches(s)) {
            out.extend(self.pattern.map(Constraint::Pattern));
        }
        if self.values.is_some_and(|v| !v.contains(&s)) {
            out.extend(self.values.map(Constraint::Enum));
        }
        out
    }

    /// The constraints a number breaks.
    pub fn broken_by_number(&'static self, n: f64) -> Vec<Constraint> {
        let mut out = Vec::new();
        if self.max.is_some_and(|m| n > m.value() || n.is_nan()) {
            out.extend(self.max.map(Constraint::Max));
        }
        if self.min.is_some_and(|m| n < m.value() || n.is_nan()) {
            out.extend(self.min.map(Constraint::Min));
        }
        out
    }
}

/// A numeric bound, printed as AWS prints it (`900`, `1.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Int(i64),
    Float(f64),
}

impl Bound {
    fn value(self) -> f64 {
        match self {
            // Every bound of the model is far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            Bound::Int(n) => n as f64,
            Bound::Float(x) => x,
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Int(n) => write!(f, "{n}"),
            Bound::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// A list shape: its length bounds and its members' shape.
#[derive(Debug)]
pub struct ListShape {
    pub max_len: Option<usize>,
    pub min_len: Option<usize>,
    pub member: &'static Shape,
}

/// One constraint of the model, worded as AWS words it.
#[derive(Debug, Clone, Copy)]
pub enum Constraint {
    NotNull,
    MaxLength(usize),
    MinLength(usize),
    Max(Bound),
    Min(Bound),
    Pattern(&'static Pattern),
    Enum(&'static [&'static str]),
    /// Every member of a list must satisfy the shape (and not be null).
    Members(&'static Shape),
    /// Every key of a map must satisfy the shape.
    MapKeys(&'static Shape),
    /// Every value of a map must satisfy the shape (and not be null).
    MapValues(&'static Shape),
}

fn write_nested(f: &mut fmt::Formatter<'_>, shape: &'static Shape, not_null: bool) -> fmt::Result {
    let mut parts: Vec<String> = shape.constraints().iter().map(|c| c.to_string()).collect();
    if not_null {
        parts.push(Constraint::NotNull.to_string());
    }
    write!(f, "[{}]", parts.join(", "))
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::NotNull => f.write_str("Member must not be null"),
            Constraint::MaxLength(n) => {
                write!(f, "Member must have length less than or equal to {n}")
            }
            Constraint::MinLength(n) => {
                write!(f, "Member must have length greater than or equal to {n}")
            }
            Constraint::Max(b) => write!(f, "Member must have value less than or equal to {b}"),
            Constraint::Min(b) => write!(f, "Member must have value greater than or equal to {b}"),
            Constraint::Pattern(p) => {
                write!(
                    f,
                    "Member must satisfy regular expression pattern: {}",
                    p.text()
                )
            }
            Constraint::Enum(v) => {
                write!(f, "Member must satisfy enum value set: [{}]", v.join(", "))
            }
            Constraint::Members(s) => {
                f.write_str("Member must satisfy constraint: ")?;
                write_nested(f, s, true)
            }
            Constraint::MapKeys(s) => {
                f.write_str("Map keys must satisfy constraint: ")?;
                write_nested(f, s, false)
            }
            Constraint::MapValues(s) => {
                f.write_str("Map value must satisfy constraint: ")?;
                write_nested(f, s, true)
            }
        }
    }
}

/// A value as a violation shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    /// `Value null`.
    Null,
    /// A sensitive member (environment variables): AWS does not echo it (`Value at`).
    Hidden,
    /// `Value '...'`.
    Value(String),
}

/// One failed constraint of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    value: Shown,
    /// The member's path, in AWS's lower camel case (`ephemeralStorage.size`).
    path: String,
    constraint: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Shown::Null => write!(f, "Value null at '{}'", self.path)?,
            Shown::Hidden => write!(f, "Value at '{}'", self.path)?,
            Shown::Value(v) => write!(f, "Value '{v}' at '{}'", self.path)?,
        }
        write!(f, " failed to satisfy constraint: {}", self.constraint)
    }
}

/// A list as Java prints it: `[a, b]`.
pub fn list_value<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", items.join(", "))
}

/// Every broken constraint of a request, collected in member order, then rendered at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Violations {
        Violations::default()
    }

    /// Records that `value` (`None`: null) at `path` breaks `constraint`.
    pub fn push(&mut self, value: Option<&str>, path: &str, constraint: Constraint) {
        let value = match value {
            Some(v) => Shown::Value(v.to_string()),
            None => Shown::Null,
        };
        self.push_shown(value, path, constraint);
    }

    /// Records that a sensitive member breaks `constraint`, without its value.
    pub fn push_hidden(&mut self, path: &str, constraint: Constraint) {
        self.push_shown(Shown::Hidden, path, constraint);
    }

    fn push_shown(&mut self, value: Shown, path: &str, constraint: Constraint) {
        self.0.push(Violation {
            value,
            path: path.to_string(),
            constraint: constraint.to_string(),
        });
    }

    /// A required member: records `Member must not be null` when it is absent.
    pub fn required<T>(&mut self, path: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.push(None, path, Constraint::NotNull);
        }
        value
    }

    /// A string member against its shape.
    pub fn string(&mut self, path: &str, value: &str, shape: &'static Shape) {
        for c in shape.broken_by_str(value) {
            self.push(Some(value), path, c);
        }
    }

    /// An optional string member against its shape.
    pub fn opt_string(&mut self, path: &str, value: Option<&str>, shape: &'static Shape) {
        if let Some(v) = value {
            self.string(path, v, shape);
        }
    }

    /// An integer member against its shape.
    pub fn integer(&mut self, path: &str, value: i64, shape: &'static Shape) {
        #[allow(clippy::cast_precision_loss)]
        let broken = shape.broken_by_number(value as f64);
        for c in broken {
            self.push(Some(&value.to_string()), path, c);
        }
    }

    /// An optional integer member against its shape.
    pub fn opt_integer(&mut self, path: &str, value: Option<i64>, shape: &'static Shape) {
        if let Some(v) = value {
            self.integer(path, v, shape);
        }
    }

    /// A list member: its length, then its members (one violation for the whole list, which AWS
    /// prints as `[a, b]`).
    pub fn list<S: AsRef<str>>(&mut self, path: &str, items: &[S], shape: &'static ListShape) {
        let shown = list_value(items);
        if shape.max_len.is_some_and(|m| items.len() > m) {
            self.push(
                Some(&shown),
                path,
                Constraint::MaxLength(shape.max_len.unwrap_or(0)),
            );
        }
        if shape.min_len.is_some_and(|m| items.len() < m) {
            self.push(
                Some(&shown),
                path,
                Constraint::MinLength(shape.min_len.unwrap_or(0)),
            );
        }
        if items
            .iter()
            .any(|i| !shape.member.broken_by_str(i.as_ref()).is_empty())
        {
            self.push(Some(&shown), path, Constraint::Members(shape.member));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The framework's answer: `Ok` when nothing broke, else one `ValidationException` that
    /// names every violation.
    pub fn finish(self) -> Result<(), Error> {
        self.finish_as(ErrorKind::Validation)
    }

    /// The same message under another exception type (Lambda words some of its own checks
    /// this way, as `InvalidParameterValueException`).
    pub fn finish_as(self, kind: ErrorKind) -> Result<(), Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(Error::new(kind, render(&self.0)))
    }
}

/// AWS's framework message for violations: `N validation error(s) detected: A; B`.
fn render(violations: &[Violation]) -> String {
    let n = violations.len();
    let list: Vec<String> = violations.iter().map(ToString::to_string).collect();
    format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        list.join("; ")
    )
}

/// One violation as a `ValidationException` (`value` `None`: `Value null`).
pub fn violation(value: Option<&str>, path: &str, constraint: Constraint) -> Error {
    let value = match value {
        Some(v) => Shown::Value(v.to_string()),
        None => Shown::Null,
    };
    Error::validation(render(&[Violation {
        value,
        path: path.to_string(),
        constraint: constraint.to_string(),
    }]))
}

/// A query-string integer member (`MaxItems`) against its shape; `None` when absent. A value that
/// is not an integer breaks every constraint of the shape.
pub fn query_integer(
    path: &str,
    raw: Option<&str>,
    shape: &'static Shape,
) -> Result<Option<i64>, Error> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let mut v = Violations::new();
    match raw.parse::<i64>() {
        Ok(n) => {
            v.integer(path, n, shape);
            v.finish().map(|()| Some(n))
        }
        Err(_) => {
            for c in shape.constraints() {
                v.push(Some(raw), path, c);
            }
            v.finish().map(|()| None)
        }
    }
}

/// A query-string or header member with a value set (`FunctionVersion`, `X-Amz-Invocation-Type`)
/// against its shape; `None` when absent.
pub fn query_string<'a>(
    path: &str,
    raw: Option<&'a str>,
    shape: &'static Shape,
) -> Result<Option<&'a str>, Error> {
    let mut v = Violations::new();
    v.opt_string(path, raw, shape);
    v.finish().map(|()| raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind::{InvalidParameterValue, Validation};

    /// The mechanism on its own: what each constraint renders, null and hidden values, the count
    /// and the joining of several violations.
    #[test]
    fn renders_aws_words() {
        static P: Pattern = Pattern::new(r"[0-9]+");
        static S: Shape = Shape {
            max_len: Some(3),
            min_len: Some(1),
            pattern: Some(&P),
            ..Shape::NONE
        };
        let cases: &[(Constraint, &str)] = &[
            (Constraint::NotNull, "Member must not be null"),
            (Constraint::MaxLength(64), "Member must have length less than or equal to 64"),
            (Constraint::MinLength(1), "Member must have length greater than or equal to 1"),
            (Constraint::Max(Bound::Int(900)), "Member must have value less than or equal to 900"),
            (Constraint::Min(Bound::Float(0.0)), "Member must have value greater than or equal to 0.0"),
            (Constraint::Pattern(&P), "Member must satisfy regular expression pattern: [0-9]+"),
            (Constraint::Enum(&["a", "b"]), "Member must satisfy enum value set: [a, b]"),
            (Constraint::Members(&S), "Member must satisfy constraint: [Member must have length less than or equal to 3, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+, Member must not be null]"),
            (Constraint::MapKeys(&S), "Map keys must satisfy constraint: [Member must have length less than or equal to 3, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]"),
            (Constraint::MapValues(&shapes::WEIGHT), "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"),
        ];
        for (c, want) in cases {
            assert_eq!(c.to_string(), *want);
        }
        let mut v = Violations::new();
        v.string("f", "abcd", &S);
        v.push(None, "g", Constraint::NotNull);
        v.push_hidden("h", Constraint::Pattern(&P));
        assert_eq!(
            v.finish().unwrap_err().message,
            "4 validation errors detected: \
             Value 'abcd' at 'f' failed to satisfy constraint: Member must have length less than or equal to 3; \
             Value 'abcd' at 'f' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+; \
             Value null at 'g' failed to satisfy constraint: Member must not be null; \
             Value at 'h' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+"
        );
        assert!(Violations::new().finish().is_ok());
        let e = violation(None, "tagKeys", Constraint::NotNull);
        assert_eq!((e.kind, e.message.as_str()), (Validation, "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"));
        assert_eq!(crate::error::missing("tagKeys"), e);
    }

    #[test]
    fn patterns_match_whole_values_and_the_alias_lookahead() {
        assert!(shapes::ALIAS.broken_by_str("prod").is_empty());
        assert!(shapes::ALIAS.broken_by_str("v1").is_empty());
        assert!(!shapes::ALIAS.broken_by_str("2024").is_empty());
        assert!(!shapes::ALIAS.broken_by_str("a b").is_empty());
        assert!(shapes::VERSION.broken_by_str("$LATEST").is_empty());
        assert!(!shapes::VERSION.broken_by_str("1a").is_empty());
        assert!(shapes::DESTINATION_ARN.broken_by_str("").is_empty());
    }

    fn publish(runtimes: &[&str], archs: &[&str]) -> crate::layer::PublishLayerVersionRequest {
        crate::layer::PublishLayerVersionRequest {
            content: Some(crate::layer::LayerVersionContentIn {
                zip_file: Some("UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==".into()),
                ..Default::default()
            }),
            compatible_runtimes: Some(runtimes.iter().map(|s| s.to_string()).collect()),
            compatible_architectures: Some(archs.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn routing(version: &str, weight: f64) -> crate::alias::AliasRoutingConfiguration {
        crate::alias::AliasRoutingConfiguration {
            additional_version_weights: Some([(version.to_string(), weight)].into()),
        }
    }

    const SUPPORTED: &str = "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]";

    /// The other resources' checks, each with the exception and message AWS answered
    /// (LocalStack's AWS-recorded `tests/aws/services/lambda_/test_lambda_api.snapshot.json`,
    /// named by test and key).
    #[test]
    fn other_resources_answer_as_aws_recorded() {
        type Check = fn() -> Result<(), Error>;
        let cases: &[(&str, Check, crate::ErrorKind, String)] = &[
            ("test_alias_naming/create_alias_number_exception",
             || crate::alias::validate_alias_name("2024"), Validation,
             r"1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)".into()),
            ("test_notfound_and_invalid_routingconfigs/routing_config_exc_toohigh",
             || crate::alias::validate_routing("1", Some(&routing("2", 2.0))).map(drop), Validation,
             "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]".into()),
            ("test_notfound_and_invalid_routingconfigs/routing_config_exc_subzero",
             || crate::alias::validate_routing("1", Some(&routing("2", -1.0))).map(drop), Validation,
             "1 validation error detected: Value '{2=-1.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]".into()),
            ("test_notfound_and_invalid_routingconfigs/routing_config_exc_version_latest",
             || crate::alias::validate_routing("1", Some(&routing("$LATEST", 0.5))).map(drop), Validation,
             "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]".into()),
            ("test_layer_exceptions/publish_layer_version_exc_invalid_runtime_arch",
             || crate::layer::validate_publish(publish(&["invalidruntime"], &["invalidarch"])).map(drop), Validation,
             format!("2 validation errors detected: Value '[invalidruntime]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: {SUPPORTED}; Value '[invalidarch]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")),
            ("test_layer_exceptions/publish_layer_version_exc_partially_invalid_values",
             || crate::layer::validate_publish(publish(&["invalidruntime", "invalidruntime2", "nodejs20.x"], &["invalidarch", "x86_64"])).map(drop), Validation,
             format!("2 validation errors detected: Value '[invalidruntime, invalidruntime2, nodejs20.x]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: {SUPPORTED}; Value '[invalidarch, x86_64]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")),
            ("test_layer_exceptions/list_layers_exc_compatiblearchitecture_invalid",
             || crate::layer::validate_filters(None, Some("archdoesnotexist")), Validation,
             "1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]".into()),
            ("test_layer_exceptions/get_layer_version_exc_layer_version_doesnotexist_zero",
             || crate::layer::parse_version_number("0").map(drop), InvalidParameterValue,
             "Layer Version Cannot be less than 1".into()),
            ("test_layer_exceptions/get_layer_version_exc_layer_version_doesnotexist_negative",
             || crate::layer::parse_version_number("-1").map(drop), InvalidParameterValue,
             "Layer Version Cannot be less than 1".into()),
            ("test_layer_exceptions/get_layer_version_by_arn_exc_invalidarn",
             || crate::layer::parse_layer_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:l", &crate::Region::default()).map(drop), Validation,
             r"1 validation error detected: Value 'arn:aws:lambda:us-east-1:123456789012:layer:l' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)".into()),
            ("test_layer_function_exceptions/two_layer_versions_single_function_exc",
             || crate::layer::validate_function_layers(&["arn:aws:lambda:us-east-1:123456789012:layer:l:1".into(), "arn:aws:lambda:us-east-1:123456789012:layer:l:2".into()]), InvalidParameterValue,
             "Two different versions of the same layer are not allowed to be referenced in the same function. arn:aws:lambda:us-east-1:123456789012:layer:l:1 and arn:aws:lambda:us-east-1:123456789012:layer:l:2 are versions of the same layer.".into()),
        ];
        for (what, check, kind, message) in cases {
            let e = check().expect_err(what);
            assert_eq!(
                (e.kind, e.message.as_str()),
                (*kind, message.as_str()),
                "{what}"
            );
        }
    }
}
