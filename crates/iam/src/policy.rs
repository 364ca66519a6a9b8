//! IAM policy documents: parsed once into [`Policy`], then evaluated with IAM's rules (AWS's
//! "Policy evaluation logic" and the IAM JSON policy element reference):
//!
//! - a statement applies when its `Action`/`NotAction`, `Resource`/`NotResource`,
//!   `Principal`/`NotPrincipal` (resource policies) and every `Condition` match;
//! - `*` matches any run of characters and `?` one, actions case-insensitively, ARNs
//!   component by component (a wildcard never crosses the `:` between an ARN's first five
//!   components);
//! - an explicit `Deny` wins over every `Allow`; without an `Allow` the answer is the implicit
//!   deny;
//! - conditions: every operator of a block must match, every key of an operator, and a key
//!   matches when any of its values does (for the negated operators, when none does); the
//!   `...IfExists` forms match a missing key, `Null` tests presence, `ForAnyValue:` /
//!   `ForAllValues:` take multi-valued keys. A condition key or operator Hako cannot evaluate
//!   fails closed: an `Allow` statement with one never applies, a `Deny` statement always does.

use std::collections::HashMap;

use serde_json::Value;

/// Why a policy document was refused (IAM's `MalformedPolicyDocument`), with AWS's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

/// AWS's message for a document that is no JSON (LocalStack's AWS-recorded `test_iam`
/// snapshot, `invalid-json`).
pub const INVALID_JSON: &str = "This policy contains invalid Json";
const SYNTAX: &str = "Syntax errors in policy.";

/// What a document is for: an identity policy names no principal; a resource or trust policy
/// must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Identity,
    Resource,
    Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, or its negation (`NotAction`, `NotResource`, `NotPrincipal`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Patterns {
    items: Vec<String>,
    negated: bool,
}

/// A statement's principals: `*`, or by type (`AWS`, `Service`, `Federated`, `CanonicalUser`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Principals {
    any: bool,
    aws: Vec<String>,
    service: Vec<String>,
    negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Bool,
    ArnLike,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    /// `None`: an operator Hako does not evaluate.
    op: Option<Op>,
    negated: bool,
    if_exists: bool,
    set: SetOp,
    /// Lower case (condition keys are case-insensitive).
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    actions: Patterns,
    resources: Option<Patterns>,
    principals: Option<Principals>,
    conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Who is asking, as a policy sees it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The principal's ARN (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, `...:root`).
    pub arn: String,
    pub account: String,
    /// The role of an assumed-role session (`arn:aws:iam::ACCOUNT:role/ROLE`).
    pub role_arn: Option<String>,
    /// An AWS service principal (`s3.amazonaws.com`) calling on its own behalf.
    pub service: Option<String>,
}

/// A request's condition keys. Keys are matched case-insensitively; a key Hako can supply but
/// did not for this request is missing (standard IAM semantics); a key outside Hako's
/// vocabulary ([`Context::knows`]) fails closed.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

/// The condition keys Hako can supply (global keys of the request and principal, and Lambda's).
const KNOWN_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principaltype",
    "aws:principalorgid",
    "aws:principalservicename",
    "aws:userid",
    "aws:securetransport",
    "aws:currenttime",
    "aws:epochtime",
    "aws:requestedregion",
    "aws:viaawsservice",
    "lambda:functionurlauthtype",
    "lambda:invokedviafunctionurl",
    "lambda:functionarn",
    "lambda:eventsourcetoken",
    "lambda:principal",
];

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets `key` to one value.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Context {
        self.set(key, vec![value.into()]);
        self
    }

    /// Sets `key` to its values (a multi-valued key).
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }

    fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// Whether Hako can supply `key` (lower case) at all.
    fn knows(&self, key: &str) -> bool {
        self.values.contains_key(key) || KNOWN_KEYS.contains(&key)
    }
}

/// What a policy (or a set of them) says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No statement applies.
    NotApplicable,
    Allow,
    Deny,
}

fn strings(v: &Value) -> Result<Vec<String>, Malformed> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => Err(Malformed(SYNTAX.into())),
            })
            .collect(),
        _ => Err(Malformed(SYNTAX.into())),
    }
}

/// A condition value as text (`true`, `12` are accepted unquoted, as IAM does).
fn condition_values(v: &Value) -> Result<Vec<String>, Malformed> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(Malformed(SYNTAX.into())),
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

fn parse_op(name: &str) -> (Option<Op>, bool) {
    use Op::*;
    let (op, negated) = match name {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        "NumericEquals" => (NumericEquals, false),
        "NumericNotEquals" => (NumericEquals, true),
        "NumericLessThan" => (NumericLessThan, false),
        "NumericLessThanEquals" => (NumericLessThanEquals, false),
        "NumericGreaterThan" => (NumericGreaterThan, false),
        "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
        "Bool" => (Bool, false),
        "ArnEquals" | "ArnLike" => (ArnLike, false),
        "ArnNotEquals" | "ArnNotLike" => (ArnLike, true),
        "Null" => (Null, false),
        _ => return (None, false),
    };
    (Some(op), negated)
}

fn parse_principals(v: &Value, negated: bool) -> Result<Principals, Malformed> {
    let mut p = Principals {
        any: false,
        aws: Vec::new(),
        service: Vec::new(),
        negated,
    };
    match v {
        Value::String(s) if s == "*" => p.any = true,
        Value::Object(m) => {
            for (k, v) in m {
                let vals = strings(v)?;
                match k.as_str() {
                    "AWS" => {
                        if vals.iter().any(|a| a == "*") {
                            p.any = true;
                        }
                        p.aws.extend(vals);
                    }
                    "Service" => p.service.extend(vals),
                    // Federated and canonical users never call Hako: kept as never matching.
                    "Federated" | "CanonicalUser" => {}
                    _ => return Err(Malformed(SYNTAX.into())),
                }
            }
        }
        _ => return Err(Malformed(SYNTAX.into())),
    }
    Ok(p)
}

fn parse_statement(v: &Value, kind: Kind) -> Result<Statement, Malformed> {
    let Value::Object(m) = v else {
        return Err(Malformed(SYNTAX.into()));
    };
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(Malformed(SYNTAX.into()));
        }
    }
    let sid = match m.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Malformed(SYNTAX.into())),
    };
    let effect = match m.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(Malformed(SYNTAX.into())),
    };
    let actions = match (m.get("Action"), m.get("NotAction")) {
        (Some(a), None) => Patterns {
            items: strings(a)?,
            negated: false,
        },
        (None, Some(a)) => Patterns {
            items: strings(a)?,
            negated: true,
        },
        (None, None) => return Err(Malformed("Policy statement must contain actions.".into())),
        _ => return Err(Malformed(SYNTAX.into())),
    };
    let resources = match (m.get("Resource"), m.get("NotResource")) {
        (Some(r), None) => Some(Patterns {
            items: strings(r)?,
            negated: false,
        }),
        (None, Some(r)) => Some(Patterns {
            items: strings(r)?,
            negated: true,
        }),
        (None, None) if kind == Kind::Identity => {
            return Err(Malformed("Policy statement must contain resources.".into()))
        }
        (None, None) => None,
        _ => return Err(Malformed(SYNTAX.into())),
    };
    let principals = match (m.get("Principal"), m.get("NotPrincipal")) {
        (None, None) if kind == Kind::Identity => None,
        (Some(_), _) | (_, Some(_)) if kind == Kind::Identity => {
            return Err(Malformed(
                "Policy document should not specify a principal.".into(),
            ))
        }
        (Some(p), None) => Some(parse_principals(p, false)?),
        (None, Some(p)) => Some(parse_principals(p, true)?),
        (None, None) => return Err(Malformed("Missing required field Principal".into())),
        _ => return Err(Malformed(SYNTAX.into())),
    };
    let mut conditions = Vec::new();
    if let Some(c) = m.get("Condition") {
        let Value::Object(ops) = c else {
            return Err(Malformed(SYNTAX.into()));
        };
        for (name, keys) in ops {
            let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
                (SetOp::ForAnyValue, r)
            } else if let Some(r) = name.strip_prefix("ForAllValues:") {
                (SetOp::ForAllValues, r)
            } else {
                (SetOp::Single, name.as_str())
            };
            let (base, if_exists) = match rest.strip_suffix("IfExists") {
                Some(b) => (b, true),
                None => (rest, false),
            };
            let (op, negated) = parse_op(base);
            let Value::Object(keys) = keys else {
                return Err(Malformed(SYNTAX.into()));
            };
            for (key, values) in keys {
                conditions.push(Condition {
                    op,
                    negated,
                    if_exists,
                    set,
                    key: key.to_ascii_lowercase(),
                    values: condition_values(values)?,
                });
            }
        }
    }
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        principals,
        conditions,
    })
}

impl Policy {
    /// Parses and checks a document of `kind`.
    pub fn parse(text: &str, kind: Kind) -> Result<Policy, Malformed> {
        let v: Value = serde_json::from_str(text).map_err(|_| Malformed(INVALID_JSON.into()))?;
        Policy::from_value(&v, kind)
    }

    pub fn from_value(v: &Value, kind: Kind) -> Result<Policy, Malformed> {
        let Value::Object(m) = v else {
            return Err(Malformed(SYNTAX.into()));
        };
        for k in m.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(Malformed(SYNTAX.into()));
            }
        }
        match m.get("Version") {
            None => {}
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            Some(_) => return Err(Malformed("The policy failed legacy parsing".into())),
        }
        let statements = match m.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|s| parse_statement(s, kind))
                .collect::<Result<Vec<_>, _>>()?,
            Some(s @ Value::Object(_)) => vec![parse_statement(s, kind)?],
            _ => return Err(Malformed(SYNTAX.into())),
        };
        Ok(Policy { statements })
    }

    /// The statement ids of the document, in order (`None` for a statement without one).
    pub fn sids(&self) -> Vec<Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref()).collect()
    }

    /// What this document says about `action` on `resource` by `caller` (principals are
    /// checked only when the document names them: resource and trust policies).
    pub fn evaluate(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        ctx: &Context,
    ) -> Verdict {
        let mut verdict = Verdict::NotApplicable;
        for s in &self.statements {
            if !s.matches_request(caller, action, resource) {
                continue;
            }
            let conditions = s.conditions_hold(ctx);
            match (s.effect, conditions) {
                (Effect::Deny, Some(true) | None) => return Verdict::Deny,
                (Effect::Allow, Some(true)) => verdict = Verdict::Allow,
                _ => {}
            }
        }
        verdict
    }
}

impl Statement {
    fn matches_request(&self, caller: &Caller, action: &str, resource: &str) -> bool {
        let action_hit = self
            .actions
            .items
            .iter()
            .any(|p| glob(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()));
        if action_hit == self.actions.negated {
            return false;
        }
        if let Some(r) = &self.resources {
            let hit = r.items.iter().any(|p| arn_like(p, resource));
            if hit == r.negated {
                return false;
            }
        }
        if let Some(p) = &self.principals {
            if p.matches(caller) == p.negated {
                return false;
            }
        }
        true
    }

    /// `Some(true)` when every condition holds, `Some(false)` when one does not, `None` when
    /// one cannot be evaluated by Hako (an unknown key or operator).
    fn conditions_hold(&self, ctx: &Context) -> Option<bool> {
        let mut all = true;
        for c in &self.conditions {
            match c.holds(ctx) {
                Some(true) => {}
                Some(false) => all = false,
                None => return None,
            }
        }
        Some(all)
    }
}

impl Principals {
    fn matches(&self, caller: &Caller) -> bool {
        if self.any {
            return true;
        }
        if let Some(svc) = &caller.service {
            return self.service.iter().any(|s| s == svc);
        }
        self.aws.iter().any(|p| {
            if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                return *p == caller.account;
            }
            if let Some(acct) = p
                .strip_prefix("arn:aws:iam::")
                .and_then(|r| r.strip_suffix(":root"))
            {
                return acct == caller.account;
            }
            *p == caller.arn || caller.role_arn.as_deref() == Some(p.as_str())
        })
    }
}

impl Condition {
    fn holds(&self, ctx: &Context) -> Option<bool> {
        let op = self.op?;
        if !ctx.knows(&self.key) {
            return None;
        }
        let present = ctx.get(&self.key);
        if op == Op::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return Some(present.is_none_or(<[String]>::is_empty) == want_absent);
        }
        let Some(actual) = present.filter(|a| !a.is_empty()) else {
            // A missing key: the ...IfExists forms and the negated operators match, as does
            // ForAllValues (vacuously); the rest do not.
            return Some(self.if_exists || self.negated || self.set == SetOp::ForAllValues);
        };
        let one = |a: &str| {
            let hit = self.values.iter().any(|v| op.compare(v, a));
            hit != self.negated
        };
        Some(match self.set {
            SetOp::Single => one(&actual[0]),
            SetOp::ForAnyValue => actual.iter().any(|a| one(a)),
            SetOp::ForAllValues => actual.iter().all(|a| one(a)),
        })
    }
}

impl Op {
    /// Whether policy value `p` matches request value `a`.
    fn compare(self, p: &str, a: &str) -> bool {
        let num = |s: &str| s.trim().parse::<f64>().ok();
        match self {
            Op::StringEquals => p == a,
            Op::StringEqualsIgnoreCase => p.to_lowercase() == a.to_lowercase(),
            Op::StringLike => glob(p, a),
            Op::Bool => p.eq_ignore_ascii_case(a),
            Op::ArnLike => arn_like(p, a),
            Op::Null => false,
            Op::NumericEquals
            | Op::NumericLessThan
            | Op::NumericLessThanEquals
            | Op::NumericGreaterThan
            | Op::NumericGreaterThanEquals => match (num(a), num(p)) {
                (Some(a), Some(p)) => match self {
                    Op::NumericEquals => a == p,
                    Op::NumericLessThan => a < p,
                    Op::NumericLessThanEquals => a <= p,
                    Op::NumericGreaterThan => a > p,
                    _ => a >= p,
                },
                _ => false,
            },
        }
    }
}

/// `pattern` (with `*` and `?`) against all of `text`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// An ARN pattern against an ARN: `*` matches everything; otherwise the first five
/// `:`-separated components are matched one by one and the rest (the resource, which may hold
/// `:` and `/`) as a whole.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        // An ARN pattern of fewer components matches no ARN (its components are matched one by
        // one); two values that are no ARNs compare as strings.
        return !pattern.starts_with("arn:") && !arn.starts_with("arn:") && glob(pattern, arn);
    }
    p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "123456789012";

    fn role_caller() -> Caller {
        Caller {
            arn: format!("arn:aws:sts::{ACCT}:assumed-role/r/f"),
            account: ACCT.into(),
            role_arn: Some(format!("arn:aws:iam::{ACCT}:role/r")),
            service: None,
        }
    }

    fn identity(doc: &str) -> Policy {
        Policy::parse(doc, Kind::Identity).unwrap()
    }

    fn fn_arn(name: &str) -> String {
        format!("arn:aws:lambda:us-east-1:{ACCT}:function:{name}")
    }

    #[test]
    fn wildcards_follow_iam() {
        assert!(glob("lambda:Get*", "lambda:GetFunction"));
        assert!(glob("lambda:Get?unction", "lambda:GetFunction"));
        assert!(!glob("lambda:Get?", "lambda:GetFunction"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        // A wildcard does not cross an ARN's component boundary...
        assert!(!arn_like("arn:aws:lambda:*", &fn_arn("f")));
        assert!(arn_like("arn:aws:lambda:*:*:function:*", &fn_arn("f")));
        // ...but does cross the resource's own separators.
        assert!(arn_like(
            "arn:aws:logs:*:*:log-group:/aws/lambda/f:*",
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:s"
        ));
        assert!(!arn_like(
            "arn:aws:lambda:us-east-1:*:function:f",
            &fn_arn("g")
        ));
    }

    /// Table of AWS's "Policy evaluation logic" cases on identity policies: (document, action,
    /// resource, expected verdict).
    #[test]
    fn evaluation_table() {
        let allow_list = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}}"#;
        let allow_get_f = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"lambda:Get*","Resource":"{}"}}]}}"#,
            fn_arn("f")
        );
        let deny_wins = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"lambda:*","Resource":"*"}},
                {{"Effect":"Deny","Action":"lambda:DeleteFunction","Resource":"{}"}}]}}"#,
            fn_arn("f")
        );
        let not_action =
            r#"{"Statement":[{"Effect":"Allow","NotAction":"lambda:Delete*","Resource":"*"}]}"#;
        let not_resource = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"lambda:*","NotResource":"{}"}}]}}"#,
            fn_arn("secret")
        );
        let case =
            r#"{"Statement":[{"Effect":"Allow","Action":"LAMBDA:getfunction","Resource":"*"}]}"#;
        let cases: Vec<(&str, &str, String, Verdict)> = vec![
            (
                allow_list,
                "lambda:ListFunctions",
                "*".into(),
                Verdict::Allow,
            ),
            (
                allow_list,
                "lambda:GetFunction",
                fn_arn("g"),
                Verdict::NotApplicable,
            ),
            (
                &allow_get_f,
                "lambda:GetFunction",
                fn_arn("f"),
                Verdict::Allow,
            ),
            (
                &allow_get_f,
                "lambda:GetFunction",
                fn_arn("g"),
                Verdict::NotApplicable,
            ),
            (
                &allow_get_f,
                "lambda:UpdateFunctionCode",
                fn_arn("f"),
                Verdict::NotApplicable,
            ),
            (
                &deny_wins,
                "lambda:DeleteFunction",
                fn_arn("f"),
                Verdict::Deny,
            ),
            (
                &deny_wins,
                "lambda:DeleteFunction",
                fn_arn("g"),
                Verdict::Allow,
            ),
            (
                not_action,
                "lambda:DeleteFunction",
                fn_arn("f"),
                Verdict::NotApplicable,
            ),
            (
                not_action,
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:1:q".into(),
                Verdict::Allow,
            ),
            (
                &not_resource,
                "lambda:GetFunction",
                fn_arn("secret"),
                Verdict::NotApplicable,
            ),
            (
                &not_resource,
                "lambda:GetFunction",
                fn_arn("other"),
                Verdict::Allow,
            ),
            (case, "lambda:GetFunction", fn_arn("x"), Verdict::Allow),
        ];
        for (doc, action, resource, want) in cases {
            let got = identity(doc).evaluate(&role_caller(), action, &resource, &Context::new());
            assert_eq!(got, want, "{doc} {action} {resource}");
        }
    }

    #[test]
    fn conditions() {
        let c = role_caller();
        let doc = |cond: &str| {
            identity(&format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{cond}}}]}}"#
            ))
        };
        let eval = |p: &Policy, ctx: &Context| p.evaluate(&c, "lambda:InvokeFunction", "*", ctx);
        let src = Context::new().with("aws:SourceArn", "arn:aws:s3:::bucket");
        let p = doc(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::buck*"}}"#);
        assert_eq!(eval(&p, &src), Verdict::Allow);
        assert_eq!(eval(&p, &Context::new()), Verdict::NotApplicable);
        // Condition keys are case-insensitive.
        let p = doc(r#"{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}"#);
        assert_eq!(eval(&p, &src), Verdict::Allow);
        let p = doc(r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::other"}}"#);
        assert_eq!(eval(&p, &Context::new()), Verdict::Allow);
        assert_eq!(eval(&p, &src), Verdict::NotApplicable);
        let p = doc(r#"{"StringNotEquals":{"aws:SourceAccount":"111111111111"}}"#);
        assert_eq!(
            eval(&p, &Context::new().with("aws:SourceAccount", ACCT)),
            Verdict::Allow
        );
        assert_eq!(
            eval(
                &p,
                &Context::new().with("aws:SourceAccount", "111111111111")
            ),
            Verdict::NotApplicable
        );
        let p = doc(r#"{"StringEquals":{"lambda:FunctionUrlAuthType":["NONE","AWS_IAM"]}}"#);
        assert_eq!(
            eval(
                &p,
                &Context::new().with("lambda:FunctionUrlAuthType", "NONE")
            ),
            Verdict::Allow
        );
        let p = doc(r#"{"Bool":{"lambda:InvokedViaFunctionUrl":true}}"#);
        assert_eq!(
            eval(
                &p,
                &Context::new().with("lambda:InvokedViaFunctionUrl", "true")
            ),
            Verdict::Allow
        );
        assert_eq!(eval(&p, &Context::new()), Verdict::NotApplicable);
        let p = doc(r#"{"NumericLessThan":{"aws:EpochTime":"100"}}"#);
        assert_eq!(
            eval(&p, &Context::new().with("aws:EpochTime", "99")),
            Verdict::Allow
        );
        assert_eq!(
            eval(&p, &Context::new().with("aws:EpochTime", "100")),
            Verdict::NotApplicable
        );
        let p = doc(r#"{"Null":{"aws:SourceArn":"true"}}"#);
        assert_eq!(eval(&p, &Context::new()), Verdict::Allow);
        assert_eq!(eval(&p, &src), Verdict::NotApplicable);
        let p = doc(r#"{"StringLike":{"aws:PrincipalArn":"arn:aws:sts::*:assumed-role/r/*"}}"#);
        assert_eq!(
            eval(&p, &Context::new().with("aws:PrincipalArn", c.arn.clone())),
            Verdict::Allow
        );
        // Unknown keys and operators fail closed: an Allow never applies...
        let p = doc(r#"{"StringNotEquals":{"ec2:Vpc":"vpc-1"}}"#);
        assert_eq!(eval(&p, &Context::new()), Verdict::NotApplicable);
        let p = doc(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#);
        assert_eq!(eval(&p, &Context::new()), Verdict::NotApplicable);
        // ...and a Deny always does.
        let deny = identity(
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
                {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"ec2:Vpc":"vpc-1"}}}]}"#,
        );
        assert_eq!(eval(&deny, &Context::new()), Verdict::Deny);
        let any = doc(r#"{"ForAnyValue:StringEquals":{"aws:PrincipalServiceName":["a","b"]}}"#);
        let mut ctx = Context::new();
        ctx.set("aws:PrincipalServiceName", vec!["x".into(), "b".into()]);
        assert_eq!(eval(&any, &ctx), Verdict::Allow);
        let all = doc(r#"{"ForAllValues:StringEquals":{"aws:PrincipalServiceName":["a","b"]}}"#);
        assert_eq!(eval(&all, &ctx), Verdict::NotApplicable);
    }

    #[test]
    fn resource_policies_match_principals() {
        let p = Policy::parse(
            &format!(
                r#"{{"Version":"2012-10-17","Id":"default","Statement":[
                {{"Sid":"a","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:role/r"}},"Action":"lambda:InvokeFunction","Resource":"{f}"}},
                {{"Sid":"s","Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":"{f}"}}]}}"#,
                f = fn_arn("f")
            ),
            Kind::Resource,
        )
        .unwrap();
        let ctx = Context::new();
        assert_eq!(
            p.evaluate(&role_caller(), "lambda:InvokeFunction", &fn_arn("f"), &ctx),
            Verdict::Allow
        );
        let other = Caller {
            arn: format!("arn:aws:sts::{ACCT}:assumed-role/other/g"),
            role_arn: Some(format!("arn:aws:iam::{ACCT}:role/other")),
            ..role_caller()
        };
        assert_eq!(
            p.evaluate(&other, "lambda:InvokeFunction", &fn_arn("f"), &ctx),
            Verdict::NotApplicable
        );
        let s3 = Caller {
            service: Some("s3.amazonaws.com".into()),
            ..Caller::default()
        };
        assert_eq!(
            p.evaluate(&s3, "lambda:InvokeFunction", &fn_arn("f"), &ctx),
            Verdict::Allow
        );
        let root = Policy::parse(
            &format!(r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ACCT}"}},"Action":"*","Resource":"*"}}]}}"#),
            Kind::Resource,
        )
        .unwrap();
        assert_eq!(
            root.evaluate(&other, "lambda:GetFunction", "x", &ctx),
            Verdict::Allow
        );
    }

    #[test]
    fn malformed_documents_are_named() {
        let m = |d: &str, k| Policy::parse(d, k).unwrap_err().0;
        assert_eq!(m("{nope", Kind::Identity), INVALID_JSON);
        assert_eq!(m(r#"{"Statement":[]}"#, Kind::Identity), SYNTAX);
        assert_eq!(
            m(
                r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#,
                Kind::Identity
            ),
            "Policy statement must contain actions."
        );
        assert_eq!(
            m(
                r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#,
                Kind::Identity
            ),
            "Policy statement must contain resources."
        );
        assert_eq!(
            m(
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}]}"#,
                Kind::Identity
            ),
            "Policy document should not specify a principal."
        );
        assert_eq!(
            m(
                r#"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
                Kind::Identity
            ),
            SYNTAX
        );
        // A trust policy needs no Resource.
        assert!(Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            Kind::Trust
        )
        .is_ok());
    }
}
