//! CreateSchedule, GetSchedule, UpdateSchedule, DeleteSchedule and ListSchedules.

use hako_model::validation::Violations;

use crate::error::{Error, Result};
use crate::expr::{self, Expr, Timing};
use crate::model::{self, shapes};
use crate::storage::{self, ScheduleRow};
use crate::wire::{
    GetScheduleOutput, ListSchedulesInput, ListSchedulesOutput, RetryPolicy, ScheduleArnOutput,
    ScheduleInput, ScheduleSummary, Target, TargetSummary,
};
use crate::{millis, seconds, Scheduler};

/// The members of a schedule request, checked against their shapes in the model's order.
fn check_members(name: &str, i: &ScheduleInput, v: &mut Violations) {
    v.string("name", name, &shapes::NAME);
    v.opt_string("groupName", i.group_name.as_deref(), &shapes::NAME);
    if let Some(e) = v.required("scheduleExpression", i.schedule_expression.as_deref()) {
        v.string("scheduleExpression", e, &shapes::EXPRESSION);
    }
    v.opt_string(
        "description",
        i.description.as_deref(),
        &shapes::DESCRIPTION,
    );
    v.opt_string(
        "scheduleExpressionTimezone",
        i.schedule_expression_timezone.as_deref(),
        &shapes::TIMEZONE,
    );
    v.opt_string("state", i.state.as_deref(), &shapes::STATE);
    v.opt_string("kmsKeyArn", i.kms_key_arn.as_deref(), &shapes::KMS_KEY_ARN);
    if let Some(t) = v.required("target", i.target.as_ref()) {
        check_target(t, v);
    }
    if let Some(w) = v.required("flexibleTimeWindow", i.flexible_time_window.as_ref()) {
        if let Some(m) = v.required("flexibleTimeWindow.mode", w.mode.as_deref()) {
            v.string("flexibleTimeWindow.mode", m, &shapes::WINDOW_MODE);
        }
        v.opt_integer(
            "flexibleTimeWindow.maximumWindowInMinutes",
            w.maximum_window_in_minutes,
            &shapes::MAX_WINDOW_MINUTES,
        );
    }
    v.opt_string(
        "clientToken",
        i.client_token.as_deref(),
        &shapes::CLIENT_TOKEN,
    );
    v.opt_string(
        "actionAfterCompletion",
        i.action_after_completion.as_deref(),
        &shapes::ACTION_AFTER_COMPLETION,
    );
}

fn check_target(t: &Target, v: &mut Violations) {
    if let Some(a) = v.required("target.arn", t.arn.as_deref()) {
        v.string("target.arn", a, &shapes::TARGET_ARN);
    }
    if let Some(a) = v.required("target.roleArn", t.role_arn.as_deref()) {
        v.string("target.roleArn", a, &shapes::ROLE_ARN);
    }
    if let Some(d) = &t.dead_letter_config {
        v.opt_string(
            "target.deadLetterConfig.arn",
            d.arn.as_deref(),
            &shapes::DLQ_ARN,
        );
    }
    if let Some(r) = &t.retry_policy {
        v.opt_integer(
            "target.retryPolicy.maximumEventAgeInSeconds",
            r.maximum_event_age_in_seconds,
            &shapes::MAX_EVENT_AGE,
        );
        v.opt_integer(
            "target.retryPolicy.maximumRetryAttempts",
            r.maximum_retry_attempts,
            &shapes::MAX_RETRY_ATTEMPTS,
        );
    }
    v.opt_string("target.input", t.input.as_deref(), &shapes::TARGET_INPUT);
    if let Some(p) = &t.sqs_parameters {
        v.opt_string(
            "target.sqsParameters.messageGroupId",
            p.message_group_id.as_deref(),
            &shapes::MESSAGE_GROUP_ID,
        );
    }
}

/// A checked request, with its defaults filled in, as it is stored.
struct Checked {
    group: String,
    def: ScheduleInput,
    timing: Timing,
    token: Option<String>,
}

/// How a stored definition is timed, its rate counted from `anchor_ms` without a StartDate.
pub(crate) fn timing_of(def: &ScheduleInput, anchor_ms: i64) -> Result<Timing> {
    let e = def.schedule_expression.as_deref().unwrap_or_default();
    let tz_name = def.schedule_expression_timezone.as_deref();
    Ok(Timing {
        expr: Expr::parse(e)?,
        tz: expr::parse_tz(tz_name)
            .ok_or_else(|| Error::invalid_timezone(tz_name.unwrap_or_default()))?,
        start_ms: def.start_date.map(millis),
        end_ms: def.end_date.map(millis),
        anchor_ms,
    })
}

fn check(name: &str, mut i: ScheduleInput, now: i64) -> Result<Checked> {
    let mut v = Violations::new();
    check_members(name, &i, &mut v);
    v.finish()?;
    let timing = timing_of(&i, now)?;
    let group = i
        .group_name
        .take()
        .unwrap_or_else(|| model::DEFAULT_GROUP.to_string());
    let token = i.client_token.take();
    i.state.get_or_insert_with(|| "ENABLED".to_string());
    i.action_after_completion
        .get_or_insert_with(|| "NONE".to_string());
    if let Some(t) = i.target.as_mut() {
        let r = t.retry_policy.get_or_insert_with(RetryPolicy::default);
        r.maximum_event_age_in_seconds
            .get_or_insert(model::DEFAULT_MAX_EVENT_AGE_SECONDS);
        r.maximum_retry_attempts
            .get_or_insert(model::DEFAULT_MAX_RETRY_ATTEMPTS);
    }
    Ok(Checked {
        group,
        def: i,
        timing,
        token,
    })
}

fn internal(e: serde_json::Error) -> Error {
    Error::internal(format!("a stored schedule does not decode: {e}"))
}

pub(crate) fn decode(row: &ScheduleRow) -> Result<ScheduleInput> {
    serde_json::from_str(&row.def).map_err(internal)
}

impl Scheduler {
    fn row(&self, c: Checked, name: &str, created_ms: i64, now: i64) -> Result<ScheduleRow> {
        let enabled = c.def.state.as_deref() == Some("ENABLED");
        Ok(ScheduleRow {
            group: c.group,
            name: name.to_string(),
            target_arn: c
                .def
                .target
                .as_ref()
                .and_then(|t| t.arn.clone())
                .unwrap_or_default(),
            def: serde_json::to_string(&c.def).map_err(internal)?,
            state: c.def.state.clone().unwrap_or_default(),
            created_ms,
            modified_ms: now,
            next_ms: if enabled {
                c.timing.next(now, true)
            } else {
                None
            },
            token: c.token,
        })
    }

    pub fn create_schedule(&self, name: &str, input: ScheduleInput) -> Result<ScheduleArnOutput> {
        let now = self.now();
        let c = check(name, input, now)?;
        let arn = self.schedule_arn(&c.group, name);
        let token = c.token.clone();
        let group = c.group.clone();
        let row = self.row(c, name, now, now)?;
        let created = self.inner.db.write(|tx| {
            if storage::group(tx, &group)?.is_none() {
                return Ok(Err(Error::group_not_found(&group)));
            }
            if let Some(old) = storage::schedule(tx, &group, name)? {
                // A retry of the same request (its ClientToken) answers as the first did.
                if token.is_some() && old.token == token {
                    return Ok(Ok(false));
                }
                return Ok(Err(Error::schedule_exists(name)));
            }
            storage::put_schedule(tx, &row)?;
            Ok(Ok(true))
        })??;
        if created {
            self.changed();
        }
        Ok(ScheduleArnOutput { schedule_arn: arn })
    }

    /// UpdateSchedule: the whole definition is replaced (members left out take their defaults),
    /// as AWS does.
    pub fn update_schedule(&self, name: &str, input: ScheduleInput) -> Result<ScheduleArnOutput> {
        let now = self.now();
        let c = check(name, input, now)?;
        let arn = self.schedule_arn(&c.group, name);
        let group = c.group.clone();
        let token = c.token.clone();
        let mut row = self.row(c, name, now, now)?;
        self.inner.db.write(|tx| {
            let Some(old) = storage::schedule(tx, &group, name)? else {
                return Ok(Err(Error::schedule_not_found(name)));
            };
            if token.is_some() && old.token == token {
                return Ok(Ok(()));
            }
            row.created_ms = old.created_ms;
            storage::put_schedule(tx, &row)?;
            Ok(Ok(()))
        })??;
        self.changed();
        Ok(ScheduleArnOutput { schedule_arn: arn })
    }

    pub fn get_schedule(&self, name: &str, group: Option<&str>) -> Result<GetScheduleOutput> {
        let mut v = Violations::new();
        v.string("name", name, &shapes::NAME);
        v.opt_string("groupName", group, &shapes::NAME);
        v.finish()?;
        let group = group.unwrap_or(model::DEFAULT_GROUP);
        let row = self
            .inner
            .db
            .read(|c| storage::schedule(c, group, name))?
            .ok_or_else(|| Error::schedule_not_found(name))?;
        let d = decode(&row)?;
        Ok(GetScheduleOutput {
            arn: self.schedule_arn(&row.group, &row.name),
            group_name: row.group.clone(),
            name: row.name.clone(),
            schedule_expression: d.schedule_expression.unwrap_or_default(),
            start_date: d.start_date,
            end_date: d.end_date,
            description: d.description,
            schedule_expression_timezone: d
                .schedule_expression_timezone
                .unwrap_or_else(|| "UTC".to_string()),
            state: row.state.clone(),
            creation_date: seconds(row.created_ms),
            last_modification_date: seconds(row.modified_ms),
            kms_key_arn: d.kms_key_arn,
            target: d.target.unwrap_or_default(),
            flexible_time_window: d.flexible_time_window.unwrap_or_default(),
            action_after_completion: d
                .action_after_completion
                .unwrap_or_else(|| "NONE".to_string()),
        })
    }

    pub fn delete_schedule(
        &self,
        name: &str,
        group: Option<&str>,
        client_token: Option<&str>,
    ) -> Result<()> {
        let mut v = Violations::new();
        v.string("name", name, &shapes::NAME);
        v.opt_string("groupName", group, &shapes::NAME);
        v.opt_string("clientToken", client_token, &shapes::CLIENT_TOKEN);
        v.finish()?;
        let group = group.unwrap_or(model::DEFAULT_GROUP);
        if !self
            .inner
            .db
            .write(|tx| storage::delete_schedule(tx, group, name))?
        {
            return Err(Error::schedule_not_found(name));
        }
        self.changed();
        Ok(())
    }

    pub fn list_schedules(&self, i: ListSchedulesInput) -> Result<ListSchedulesOutput> {
        let mut v = Violations::new();
        v.opt_string("groupName", i.group_name.as_deref(), &shapes::NAME);
        v.opt_string("namePrefix", i.name_prefix.as_deref(), &shapes::NAME);
        v.opt_string("state", i.state.as_deref(), &shapes::STATE);
        v.opt_string("nextToken", i.next_token.as_deref(), &shapes::NEXT_TOKEN);
        v.opt_integer("maxResults", i.max_results, &shapes::MAX_RESULTS);
        v.finish()?;
        let after = match &i.next_token {
            Some(t) => decode_token(t)?,
            None => (String::new(), String::new()),
        };
        let limit = page(i.max_results);
        let group = i.group_name.as_deref();
        let rows = self.inner.db.read(|c| {
            if let Some(g) = group {
                if storage::group(c, g)?.is_none() {
                    return Ok(Err(Error::group_not_found(g)));
                }
            }
            Ok(Ok(storage::schedules(
                c,
                group,
                i.name_prefix.as_deref().unwrap_or_default(),
                i.state.as_deref(),
                (&after.0, &after.1),
                limit + 1,
            )?))
        })??;
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        let next_token = match (more, rows.last()) {
            (true, Some(last)) => Some(encode_token(&last.group, &last.name)),
            _ => None,
        };
        Ok(ListSchedulesOutput {
            next_token,
            schedules: rows
                .iter()
                .map(|r| ScheduleSummary {
                    arn: self.schedule_arn(&r.group, &r.name),
                    name: r.name.clone(),
                    group_name: r.group.clone(),
                    state: r.state.clone(),
                    creation_date: seconds(r.created_ms),
                    last_modification_date: seconds(r.modified_ms),
                    target: TargetSummary {
                        arn: r.target_arn.clone(),
                    },
                })
                .collect(),
        })
    }
}

/// The page size a `MaxResults` asks for (the most when absent).
pub(crate) fn page(max_results: Option<i64>) -> usize {
    max_results
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(model::MAX_PAGE)
        .clamp(1, model::MAX_PAGE)
}

/// A NextToken: the last (group, name) of the page, hex-encoded (opaque to clients).
pub(crate) fn encode_token(group: &str, name: &str) -> String {
    hex::encode(format!("{group}/{name}"))
}

pub(crate) fn decode_token(t: &str) -> Result<(String, String)> {
    let bad = || Error::validation("Invalid NextToken.");
    let s = String::from_utf8(hex::decode(t).map_err(|_| bad())?).map_err(|_| bad())?;
    let (g, n) = s.split_once('/').ok_or_else(bad)?;
    Ok((g.to_string(), n.to_string()))
}
