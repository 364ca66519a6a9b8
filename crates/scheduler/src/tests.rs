//! The Scheduler's application layer on an in-memory database and a virtual clock.

use std::sync::Arc;

use hako_model::clock::ManualClock;

use crate::error::Code;
use crate::wire::*;
use crate::{Scheduler, SchedulerConfig};

/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;
const ACCOUNT: &str = "000000000000";
const ROLE: &str = "arn:aws:iam::000000000000:role/scheduler";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:q";

fn fixture() -> (Scheduler, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let s =
        Scheduler::in_memory(SchedulerConfig::new("us-east-1", ACCOUNT), clock.clone()).unwrap();
    (s, clock)
}

fn input(expr: &str) -> ScheduleInput {
    ScheduleInput {
        schedule_expression: Some(expr.to_string()),
        target: Some(Target {
            arn: Some(QUEUE.to_string()),
            role_arn: Some(ROLE.to_string()),
            input: Some("{\"key\": \"value\"}".to_string()),
            ..Target::default()
        }),
        flexible_time_window: Some(FlexibleTimeWindow {
            mode: Some("OFF".to_string()),
            maximum_window_in_minutes: None,
        }),
        ..ScheduleInput::default()
    }
}

fn no_delay(_: i64) -> i64 {
    0
}

/// Takes what is due at the clock's time; the deliveries due then.
fn fire(s: &Scheduler, clock: &ManualClock) -> Vec<crate::Delivery> {
    let now = hako_model::clock::Clock::now_ms(clock);
    s.take_due(now, &mut no_delay).unwrap();
    let due = s.due_deliveries(now).unwrap();
    for d in &due {
        s.finish_delivery(d.id).unwrap();
    }
    due
}

#[test]
fn create_get_as_aws_answers() {
    let (s, _) = fixture();
    let out = s.create_schedule("s1", input("rate(1 minute)")).unwrap();
    assert_eq!(
        out.schedule_arn,
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s1"
    );
    let g = s.get_schedule("s1", None).unwrap();
    // LocalStack's AWS-recorded test_get_schedule: defaults filled in.
    assert_eq!(g.group_name, "default");
    assert_eq!(g.schedule_expression_timezone, "UTC");
    assert_eq!(g.state, "ENABLED");
    assert_eq!(g.action_after_completion, "NONE");
    assert_eq!(
        g.target.retry_policy,
        Some(RetryPolicy {
            maximum_event_age_in_seconds: Some(86_400),
            maximum_retry_attempts: Some(185)
        })
    );
    assert_eq!(g.creation_date, T0 as f64 / 1000.0);
    assert_eq!(g.description, None);
    let v = serde_json::to_value(&g).unwrap();
    assert_eq!(v["FlexibleTimeWindow"], serde_json::json!({"Mode": "OFF"}));
    assert!(v.get("Description").is_none());
}

#[test]
fn errors_as_aws_words_them() {
    let (s, _) = fixture();
    // LocalStack's AWS-recorded test_get_schedule_not_found / test_delete_schedule_not_found.
    let e = s
        .get_schedule("not-existing-schedule-name", None)
        .unwrap_err();
    assert_eq!(e.code, Code::ResourceNotFound);
    assert_eq!(
        e.message,
        "Schedule not-existing-schedule-name does not exist."
    );
    let e = s
        .delete_schedule("not-existing-schedule-name", None, None)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Schedule not-existing-schedule-name does not exist."
    );
    // LocalStack's AWS-recorded tests_create_schedule_with_invalid_schedule_expression.
    let e = s
        .create_schedule("x", input("rate(10 seconds)"))
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert_eq!(e.message, "Invalid Schedule Expression rate(10 seconds).");
    // The model's constraints, in the one mechanism's words.
    let mut i = input("rate(1 minute)");
    i.target.as_mut().unwrap().role_arn = Some("not-a-role".to_string());
    i.state = Some("PAUSED".to_string());
    let e = s.create_schedule("bad name", i).unwrap_err();
    assert_eq!(e.code, Code::Validation);
    assert!(e.message.starts_with("3 validation errors detected: Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+"), "{}", e.message);
    assert!(e.message.contains("Value 'PAUSED' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"));
    let mut i = input("rate(1 minute)");
    i.target = None;
    let e = s.create_schedule("x", i).unwrap_err();
    assert_eq!(
        e.message,
        "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null"
    );
    // A group that does not exist.
    let mut i = input("rate(1 minute)");
    i.group_name = Some("nope".to_string());
    assert_eq!(
        s.create_schedule("x", i).unwrap_err().code,
        Code::ResourceNotFound
    );
    // A name in use.
    s.create_schedule("x", input("rate(1 minute)")).unwrap();
    assert_eq!(
        s.create_schedule("x", input("rate(1 minute)"))
            .unwrap_err()
            .code,
        Code::Conflict
    );
    // A time zone that is not one.
    let mut i = input("rate(1 minute)");
    i.schedule_expression_timezone = Some("Mars/Olympus".to_string());
    assert_eq!(
        s.create_schedule("y", i).unwrap_err().code,
        Code::Validation
    );
}

#[test]
fn client_token_makes_create_idempotent() {
    let (s, _) = fixture();
    let mut i = input("rate(1 minute)");
    i.client_token = Some("tok-1".to_string());
    let a = s.create_schedule("s", i.clone()).unwrap();
    let b = s.create_schedule("s", i.clone()).unwrap();
    assert_eq!(a.schedule_arn, b.schedule_arn);
    i.client_token = Some("tok-2".to_string());
    assert_eq!(s.create_schedule("s", i).unwrap_err().code, Code::Conflict);
}

#[test]
fn update_replaces_the_whole_definition() {
    let (s, clock) = fixture();
    let mut i = input("rate(1 minute)");
    i.description = Some("Test description".to_string());
    s.create_schedule("s", i).unwrap();
    clock.advance(5_000);
    let mut u = input("rate(2 minute)");
    u.state = Some("DISABLED".to_string());
    u.action_after_completion = Some("DELETE".to_string());
    u.flexible_time_window = Some(FlexibleTimeWindow {
        mode: Some("FLEXIBLE".to_string()),
        maximum_window_in_minutes: Some(60),
    });
    s.update_schedule("s", u).unwrap();
    let g = s.get_schedule("s", None).unwrap();
    assert_eq!(g.description, None, "left out: gone, as AWS");
    assert_eq!(g.schedule_expression, "rate(2 minute)");
    assert_eq!(g.state, "DISABLED");
    assert_eq!(g.action_after_completion, "DELETE");
    assert_eq!(g.creation_date, T0 as f64 / 1000.0);
    assert_eq!(g.last_modification_date, (T0 + 5_000) as f64 / 1000.0);
    assert_eq!(
        s.update_schedule("missing", input("rate(1 minute)"))
            .unwrap_err()
            .message,
        "Schedule missing does not exist."
    );
}

#[test]
fn lists_filter_and_page() {
    let (s, _) = fixture();
    s.create_schedule_group("g1", CreateScheduleGroupInput::default())
        .unwrap();
    for n in ["a1", "a2", "b1"] {
        s.create_schedule(n, input("rate(1 minute)")).unwrap();
    }
    let mut i = input("rate(1 minute)");
    i.group_name = Some("g1".to_string());
    i.state = Some("DISABLED".to_string());
    s.create_schedule("a3", i).unwrap();
    let all = s.list_schedules(ListSchedulesInput::default()).unwrap();
    let names: Vec<_> = all.schedules.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["a1", "a2", "b1", "a3"]);
    assert_eq!(all.schedules[0].target.arn, QUEUE);
    let a = s
        .list_schedules(ListSchedulesInput {
            name_prefix: Some("a".to_string()),
            state: Some("ENABLED".to_string()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(a.schedules.len(), 2);
    let g = s
        .list_schedules(ListSchedulesInput {
            group_name: Some("g1".to_string()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(g.schedules.len(), 1);
    assert_eq!(g.schedules[0].state, "DISABLED");
    // Pages of one, then the rest.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let p = s
            .list_schedules(ListSchedulesInput {
                max_results: Some(1),
                next_token: token,
                ..Default::default()
            })
            .unwrap();
        seen.extend(p.schedules.into_iter().map(|x| x.name));
        token = p.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["a1", "a2", "b1", "a3"]);
    let e = s
        .list_schedules(ListSchedulesInput {
            group_name: Some("nope".to_string()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code, Code::ResourceNotFound);
}

#[test]
fn groups_and_their_tags() {
    let (s, _) = fixture();
    let d = s.get_schedule_group("default").unwrap();
    assert_eq!(d.state, "ACTIVE");
    let out = s
        .create_schedule_group(
            "g1",
            CreateScheduleGroupInput {
                tags: Some(vec![Tag {
                    key: Some("TagKey".into()),
                    value: Some("TagValue".into()),
                }]),
                client_token: None,
            },
        )
        .unwrap();
    let arn = out.schedule_group_arn;
    assert_eq!(
        arn,
        "arn:aws:scheduler:us-east-1:000000000000:schedule-group/g1"
    );
    assert_eq!(
        s.create_schedule_group("g1", CreateScheduleGroupInput::default())
            .unwrap_err()
            .code,
        Code::Conflict
    );
    let t = s.list_tags_for_resource(&arn).unwrap();
    assert_eq!(t.tags[0].key.as_deref(), Some("TagKey"));
    s.tag_resource(
        &arn,
        Some(vec![
            Tag {
                key: Some("TagKey".into()),
                value: Some("Other".into()),
            },
            Tag {
                key: Some("K2".into()),
                value: Some("V2".into()),
            },
        ]),
    )
    .unwrap();
    let t = s.list_tags_for_resource(&arn).unwrap();
    assert_eq!(t.tags.len(), 2);
    assert_eq!(t.tags[0].value.as_deref(), Some("Other"));
    // LocalStack's AWS-recorded test_untag_resource: `{"Tags": []}`.
    s.untag_resource(&arn, &["TagKey".to_string(), "K2".to_string()])
        .unwrap();
    assert!(s.list_tags_for_resource(&arn).unwrap().tags.is_empty());
    // A schedule's ARN is not taggable (botocore's TagResourceArn pattern).
    let e = s
        .list_tags_for_resource("arn:aws:scheduler:us-east-1:000000000000:schedule/default/x")
        .unwrap_err();
    assert_eq!(e.code, Code::Validation);
    // Deleting a group deletes its schedules.
    let mut i = input("rate(1 minute)");
    i.group_name = Some("g1".to_string());
    s.create_schedule("in-g1", i).unwrap();
    s.delete_schedule_group("g1", None).unwrap();
    assert_eq!(
        s.get_schedule_group("g1").unwrap_err().code,
        Code::ResourceNotFound
    );
    assert_eq!(
        s.get_schedule("in-g1", Some("g1")).unwrap_err().code,
        Code::ResourceNotFound
    );
    assert!(s.delete_schedule_group("default", None).is_err());
    let groups = s
        .list_schedule_groups(ListScheduleGroupsInput::default())
        .unwrap();
    assert_eq!(groups.schedule_groups.len(), 1);
}

#[test]
fn at_fires_once_and_rate_repeatedly_and_disabled_never() {
    let (s, clock) = fixture();
    // at() ten seconds ahead, in UTC.
    s.create_schedule("once", input("at(2025-01-01T00:00:10)"))
        .unwrap();
    let mut d = input("rate(1 minute)");
    d.state = Some("DISABLED".to_string());
    s.create_schedule("off", d).unwrap();
    assert_eq!(s.next_wake().unwrap(), Some(T0 + 10_000));
    assert!(fire(&s, &clock).is_empty());
    clock.advance(10_000);
    let got = fire(&s, &clock);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "once");
    assert_eq!(got[0].due_ms, T0 + 10_000);
    assert_eq!(got[0].target.input.as_deref(), Some("{\"key\": \"value\"}"));
    clock.advance(3_600_000);
    assert!(fire(&s, &clock).is_empty());
    assert_eq!(s.next_wake().unwrap(), None);
    // The one-time schedule stays (ActionAfterCompletion NONE).
    assert!(s.get_schedule("once", None).is_ok());

    // A rate starts at once and repeats.
    s.create_schedule("every", input("rate(1 minute)")).unwrap();
    let now = hako_model::clock::Clock::now_ms(&*clock);
    assert_eq!(fire(&s, &clock).len(), 1);
    clock.advance(60_000);
    let got = fire(&s, &clock);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].due_ms, now + 60_000);
}

#[test]
fn a_missed_schedule_fires_once_when_hako_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scheduler.db");
    let clock = Arc::new(ManualClock::new(T0));
    let cfg = SchedulerConfig::new("us-east-1", ACCOUNT);
    {
        let s = Scheduler::open(&path, cfg.clone(), clock.clone()).unwrap();
        s.create_schedule("every", input("rate(1 minute)")).unwrap();
        s.create_schedule("once", input("at(2025-01-01T00:00:30)"))
            .unwrap();
        assert_eq!(fire(&s, &clock).len(), 1);
    }
    // Down for ten minutes: ten due times of the rate, the at() too.
    clock.advance(600_000 + 5_000);
    let s = Scheduler::open(&path, cfg, clock.clone()).unwrap();
    let got = fire(&s, &clock);
    let mut names: Vec<_> = got.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["every", "once"], "each missed schedule fires once");
    let every = got.iter().find(|d| d.name == "every").unwrap();
    assert_eq!(every.due_ms, T0 + 60_000, "the first missed due time");
    // Then on its own grid again.
    assert_eq!(s.next_wake().unwrap(), Some(T0 + 660_000));
    assert!(fire(&s, &clock).is_empty());
}

#[test]
fn a_taken_firing_survives_a_restart_until_finished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scheduler.db");
    let clock = Arc::new(ManualClock::new(T0));
    let cfg = SchedulerConfig::new("us-east-1", ACCOUNT);
    {
        let s = Scheduler::open(&path, cfg.clone(), clock.clone()).unwrap();
        s.create_schedule("once", input("at(2025-01-01T00:00:00)"))
            .unwrap();
        assert_eq!(s.take_due(T0, &mut no_delay).unwrap(), 1);
        // Crash before delivering.
    }
    let s = Scheduler::open(&path, cfg, clock.clone()).unwrap();
    assert_eq!(
        s.take_due(T0, &mut no_delay).unwrap(),
        0,
        "never taken twice"
    );
    let d = s.due_deliveries(T0).unwrap();
    assert_eq!(d.len(), 1);
    s.retry_delivery(d[0].id, 1, T0 + 1_000, "boom").unwrap();
    assert!(s.due_deliveries(T0).unwrap().is_empty());
    assert_eq!(s.next_wake().unwrap(), Some(T0 + 1_000));
    let d = s.due_deliveries(T0 + 1_000).unwrap();
    assert_eq!(d[0].attempts, 1);
    s.finish_delivery(d[0].id).unwrap();
    assert_eq!(s.next_wake().unwrap(), None);
}

#[test]
fn flexible_window_delays_and_delete_after_completion() {
    let (s, clock) = fixture();
    let mut i = input("at(2025-01-01T00:01:00)");
    i.flexible_time_window = Some(FlexibleTimeWindow {
        mode: Some("FLEXIBLE".to_string()),
        maximum_window_in_minutes: Some(5),
    });
    i.action_after_completion = Some("DELETE".to_string());
    s.create_schedule("flex", i).unwrap();
    clock.advance(60_000);
    let mut asked = 0;
    s.take_due(T0 + 60_000, &mut |w| {
        asked = w;
        90_000
    })
    .unwrap();
    assert_eq!(asked, 300_000, "a delay within the whole window");
    assert!(s.due_deliveries(T0 + 60_000).unwrap().is_empty());
    assert_eq!(s.due_deliveries(T0 + 150_000).unwrap().len(), 1);
    // Done and deleted, its firing still pending.
    assert_eq!(
        s.get_schedule("flex", None).unwrap_err().code,
        Code::ResourceNotFound
    );
}

#[test]
fn changes_wake_subscribers() {
    let (s, _) = fixture();
    let mut rx = s.subscribe();
    let before = *rx.borrow_and_update();
    s.create_schedule("s", input("rate(1 minute)")).unwrap();
    assert!(rx.has_changed().unwrap());
    assert_ne!(*rx.borrow_and_update(), before);
    s.delete_schedule("s", None, None).unwrap();
    assert!(rx.has_changed().unwrap());
}
