use std::sync::Arc;

use hako_model::clock::{Clock as _, ManualClock};

use super::*;

const T0: i64 = 1_700_000_000_000;
const EP: &str = "http://localhost:9000";

fn caller() -> Caller<'static> {
    Caller {
        endpoint: EP,
        sender_id: "AKIDEXAMPLE",
    }
}

fn setup() -> (Sqs, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let sqs = Sqs::in_memory(Region::default(), clock.clone()).unwrap();
    (sqs, clock)
}

fn create(sqs: &Sqs, name: &str, attrs: &[(&str, &str)]) -> String {
    sqs.create_queue(
        CreateQueueRequest {
            queue_name: Some(name.into()),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tags: Default::default(),
        },
        &caller(),
    )
    .unwrap()
    .queue_url
}

fn send(sqs: &Sqs, url: &str, body: &str) -> SendMessageResult {
    sqs.send(
        SendMessageRequest {
            queue_url: Some(url.into()),
            message_body: Some(body.into()),
            ..Default::default()
        },
        &caller(),
    )
    .unwrap()
}

fn send_fifo(
    sqs: &Sqs,
    url: &str,
    body: &str,
    group: &str,
    dedup: Option<&str>,
) -> SendMessageResult {
    sqs.send(
        SendMessageRequest {
            queue_url: Some(url.into()),
            message_body: Some(body.into()),
            message_group_id: Some(group.into()),
            message_deduplication_id: dedup.map(str::to_string),
            ..Default::default()
        },
        &caller(),
    )
    .unwrap()
}

async fn receive(sqs: &Sqs, url: &str, max: i64) -> Vec<Message> {
    sqs.receive(ReceiveMessageRequest {
        queue_url: Some(url.into()),
        max_number_of_messages: Some(max),
        message_system_attribute_names: vec!["All".into()],
        message_attribute_names: vec!["All".into()],
        ..Default::default()
    })
    .await
    .unwrap()
    .messages
}

fn attrs(sqs: &Sqs, url: &str) -> BTreeMap<String, String> {
    sqs.get_queue_attributes(GetQueueAttributesRequest {
        queue_url: Some(url.into()),
        attribute_names: vec!["All".into()],
    })
    .unwrap()
    .attributes
}

fn delete(sqs: &Sqs, url: &str, handle: &str) -> Result<Empty, SqsError> {
    sqs.delete_message(DeleteMessageRequest {
        queue_url: Some(url.into()),
        receipt_handle: Some(handle.into()),
    })
}

#[test]
fn queues_are_created_idempotently_listed_and_deleted() {
    let (sqs, _) = setup();
    let url = create(&sqs, "q1", &[("DelaySeconds", "0")]);
    assert_eq!(url, "http://localhost:9000/123456789012/q1");
    // Equal attributes (a default given explicitly too): the same queue.
    assert_eq!(create(&sqs, "q1", &[("VisibilityTimeout", "30")]), url);
    let e = sqs
        .create_queue(
            CreateQueueRequest {
                queue_name: Some("q1".into()),
                attributes: [("DelaySeconds".to_string(), "5".to_string())].into(),
                tags: Default::default(),
            },
            &caller(),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::QueueNameExists);
    assert_eq!(
        e.message,
        "A queue already exists with the same name and a different value for attribute DelaySeconds"
    );
    create(&sqs, "q2", &[]);
    create(&sqs, "other", &[]);
    let all = sqs
        .list_queues(ListQueuesRequest::default(), &caller())
        .unwrap();
    assert_eq!(all.queue_urls.len(), 3);
    let page = sqs
        .list_queues(
            ListQueuesRequest {
                queue_name_prefix: Some("q".into()),
                max_results: Some(1),
                next_token: None,
            },
            &caller(),
        )
        .unwrap();
    assert_eq!(page.queue_urls, std::slice::from_ref(&url));
    let page2 = sqs
        .list_queues(
            ListQueuesRequest {
                queue_name_prefix: Some("q".into()),
                max_results: Some(1),
                next_token: page.next_token,
            },
            &caller(),
        )
        .unwrap();
    assert_eq!(page2.queue_urls, ["http://localhost:9000/123456789012/q2"]);
    let a = attrs(&sqs, &url);
    assert_eq!(a["QueueArn"], "arn:aws:sqs:us-east-1:123456789012:q1");
    assert_eq!(a["VisibilityTimeout"], "30");
    assert_eq!(a["MaximumMessageSize"], "1048576");
    assert_eq!(a["CreatedTimestamp"], (T0 / 1000).to_string());
    sqs.delete_queue(QueueUrlRequest {
        queue_url: Some(url.clone()),
    })
    .unwrap();
    let e = sqs
        .get_queue_url(
            GetQueueUrlRequest {
                queue_name: Some("q1".into()),
                queue_owner_account_id: None,
            },
            &caller(),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::QueueDoesNotExist);
}

#[tokio::test]
async fn visibility_timeout_and_receipt_handles_work_in_virtual_time() {
    let (sqs, clock) = setup();
    let url = create(&sqs, "q", &[("VisibilityTimeout", "10")]);
    let sent = send(&sqs, &url, "hello");
    assert_eq!(sent.md5_of_message_body, "5d41402abc4b2a76b9719d911017c592");
    let m = receive(&sqs, &url, 10).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].body, "hello");
    assert_eq!(m[0].message_id, sent.message_id);
    assert_eq!(m[0].attributes["ApproximateReceiveCount"], "1");
    assert_eq!(m[0].attributes["SenderId"], "AKIDEXAMPLE");
    assert_eq!(m[0].attributes["SentTimestamp"], T0.to_string());
    let first = m[0].receipt_handle.clone();
    assert!(receive(&sqs, &url, 10).await.is_empty());
    let a = attrs(&sqs, &url);
    assert_eq!(a["ApproximateNumberOfMessagesNotVisible"], "1");
    assert_eq!(a["ApproximateNumberOfMessages"], "0");
    clock.advance(10_000);
    let m = receive(&sqs, &url, 10).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(
        m[0].attributes["ApproximateFirstReceiveTimestamp"],
        T0.to_string()
    );
    // The first handle no longer changes anything: visibility refused, delete a no-op.
    let e = sqs
        .change_message_visibility(ChangeMessageVisibilityRequest {
            queue_url: Some(url.clone()),
            receipt_handle: Some(first.clone()),
            visibility_timeout: Some(0),
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    delete(&sqs, &url, &first).unwrap();
    assert_eq!(
        attrs(&sqs, &url)["ApproximateNumberOfMessagesNotVisible"],
        "1"
    );
    // Garbage is refused as AWS refuses it.
    let e = delete(&sqs, &url, "garbage").unwrap_err();
    assert_eq!(e.kind, ErrorKind::ReceiptHandleIsInvalid);
    assert_eq!(
        e.message,
        "The input receipt handle \"garbage\" is not a valid receipt handle."
    );
    // The latest handle: visibility 0 makes it visible at once, delete removes it.
    sqs.change_message_visibility(ChangeMessageVisibilityRequest {
        queue_url: Some(url.clone()),
        receipt_handle: Some(m[0].receipt_handle.clone()),
        visibility_timeout: Some(0),
    })
    .unwrap();
    let m = receive(&sqs, &url, 10).await;
    assert_eq!(m.len(), 1);
    delete(&sqs, &url, &m[0].receipt_handle).unwrap();
    let a = attrs(&sqs, &url);
    assert_eq!(a["ApproximateNumberOfMessages"], "0");
    assert_eq!(a["ApproximateNumberOfMessagesNotVisible"], "0");
}

#[tokio::test]
async fn delays_and_retention_run_on_the_clock() {
    let (sqs, clock) = setup();
    let url = create(&sqs, "q", &[("MessageRetentionPeriod", "60")]);
    sqs.send(
        SendMessageRequest {
            queue_url: Some(url.clone()),
            message_body: Some("later".into()),
            delay_seconds: Some(5),
            ..Default::default()
        },
        &caller(),
    )
    .unwrap();
    assert_eq!(attrs(&sqs, &url)["ApproximateNumberOfMessagesDelayed"], "1");
    assert!(receive(&sqs, &url, 1).await.is_empty());
    clock.advance(5_000);
    assert_eq!(attrs(&sqs, &url)["ApproximateNumberOfMessages"], "1");
    clock.advance(60_000);
    assert!(receive(&sqs, &url, 1).await.is_empty());
    assert_eq!(attrs(&sqs, &url)["ApproximateNumberOfMessages"], "0");
}

#[tokio::test]
async fn message_attributes_are_filtered_and_hashed() {
    let (sqs, _) = setup();
    let url = create(&sqs, "q", &[]);
    let mut ma = MessageAttributes::new();
    ma.insert("app.a".into(), MessageAttributeValue::string("x"));
    ma.insert("other".into(), MessageAttributeValue::number(5));
    let sent = sqs
        .send(
            SendMessageRequest {
                queue_url: Some(url.clone()),
                message_body: Some("b".into()),
                message_attributes: ma.clone(),
                ..Default::default()
            },
            &caller(),
        )
        .unwrap();
    assert_eq!(
        sent.md5_of_message_attributes,
        model::md5_of_message_attributes(&ma)
    );
    let m = sqs
        .receive(ReceiveMessageRequest {
            queue_url: Some(url.clone()),
            message_attribute_names: vec!["app.*".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .messages;
    assert_eq!(m[0].message_attributes.len(), 1);
    assert!(m[0].message_attributes.contains_key("app.a"));
    assert!(m[0].attributes.is_empty());
}

#[tokio::test]
async fn fifo_keeps_group_order_blocks_groups_in_flight_and_deduplicates() {
    let (sqs, clock) = setup();
    let url = create(&sqs, "f.fifo", &[("FifoQueue", "true")]);
    let e = sqs
        .send(
            SendMessageRequest {
                queue_url: Some(url.clone()),
                message_body: Some("x".into()),
                message_group_id: Some("g".into()),
                ..Default::default()
            },
            &caller(),
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    );
    let a1 = send_fifo(&sqs, &url, "a1", "a", Some("1"));
    send_fifo(&sqs, &url, "a2", "a", Some("2"));
    send_fifo(&sqs, &url, "b1", "b", Some("3"));
    // A duplicate within 5 minutes is acknowledged with the first message's id, not stored.
    let dup = send_fifo(&sqs, &url, "a1 again", "a", Some("1"));
    assert_eq!(dup.message_id, a1.message_id);
    assert_eq!(dup.sequence_number, a1.sequence_number);
    assert_eq!(attrs(&sqs, &url)["ApproximateNumberOfMessages"], "3");
    let m = receive(&sqs, &url, 1).await;
    assert_eq!(m[0].body, "a1");
    assert_eq!(m[0].attributes["MessageGroupId"], "a");
    assert_eq!(m[0].attributes["MessageDeduplicationId"], "1");
    assert!(m[0].attributes.contains_key("SequenceNumber"));
    // Group a is blocked while a1 is in flight; b is not.
    let m2 = receive(&sqs, &url, 10).await;
    assert_eq!(
        m2.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["b1"]
    );
    delete(&sqs, &url, &m[0].receipt_handle).unwrap();
    let m3 = receive(&sqs, &url, 10).await;
    assert_eq!(
        m3.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["a2"]
    );
    // After the visibility timeout, a FIFO handle has expired.
    clock.advance(31_000);
    let e = delete(&sqs, &url, &m3[0].receipt_handle).unwrap_err();
    assert!(
        e.message
            .ends_with("Reason: The receipt handle has expired."),
        "{e}"
    );
    // Five minutes later the deduplication id is free again.
    clock.advance(5 * 60_000);
    let again = send_fifo(&sqs, &url, "a1", "a", Some("1"));
    assert_ne!(again.message_id, a1.message_id);
    // Content-based deduplication: the body's SHA-256.
    let url2 = create(
        &sqs,
        "c.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    );
    let x = send_fifo(&sqs, &url2, "same", "g", None);
    let y = send_fifo(&sqs, &url2, "same", "g", None);
    assert_eq!(x.message_id, y.message_id);
    let m = receive(&sqs, &url2, 10).await;
    assert_eq!(
        m[0].attributes["MessageDeduplicationId"],
        hex::encode(sha2::Sha256::digest(b"same"))
    );
}

#[tokio::test]
async fn messages_move_to_the_dead_letter_queue_after_max_receives() {
    let (sqs, clock) = setup();
    let dlq = create(&sqs, "dlq", &[]);
    let policy =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":"2"}"#;
    let src = create(
        &sqs,
        "src",
        &[("RedrivePolicy", policy), ("VisibilityTimeout", "1")],
    );
    let mut ma = MessageAttributes::new();
    ma.insert("k".into(), MessageAttributeValue::string("v"));
    let sent = sqs
        .send(
            SendMessageRequest {
                queue_url: Some(src.clone()),
                message_body: Some("poison".into()),
                message_attributes: ma,
                ..Default::default()
            },
            &caller(),
        )
        .unwrap();
    for _ in 0..2 {
        assert_eq!(receive(&sqs, &src, 1).await.len(), 1);
        clock.advance(1_000);
    }
    // The third receive moves it instead of delivering it.
    assert!(receive(&sqs, &src, 1).await.is_empty());
    let m = receive(&sqs, &dlq, 1).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].message_id, sent.message_id);
    assert_eq!(m[0].body, "poison");
    assert_eq!(
        m[0].message_attributes["k"].string_value.as_deref(),
        Some("v")
    );
    assert_eq!(
        m[0].attributes["DeadLetterQueueSourceArn"],
        "arn:aws:sqs:us-east-1:123456789012:src"
    );
    let sources = sqs
        .list_dead_letter_source_queues(
            ListDeadLetterSourceQueuesRequest {
                queue_url: Some(dlq.clone()),
                ..Default::default()
            },
            &caller(),
        )
        .unwrap();
    assert_eq!(sources.queue_urls, std::slice::from_ref(&src));
    // A move task sends it back to its source.
    clock.advance(31_000);
    sqs.start_message_move_task(StartMessageMoveTaskRequest {
        source_arn: Some("arn:aws:sqs:us-east-1:123456789012:dlq".into()),
        ..Default::default()
    })
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let l = sqs
            .list_message_move_tasks(ListMessageMoveTasksRequest {
                source_arn: Some("arn:aws:sqs:us-east-1:123456789012:dlq".into()),
                max_results: None,
            })
            .unwrap();
        if l.results[0].status == "COMPLETED" {
            assert_eq!(l.results[0].approximate_number_of_messages_moved, 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{l:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let m = receive(&sqs, &src, 1).await;
    assert_eq!(m[0].body, "poison");
    assert_eq!(m[0].attributes["ApproximateReceiveCount"], "1");
}

#[tokio::test]
async fn a_long_poll_is_answered_when_a_message_arrives() {
    let (sqs, _) = setup();
    let url = create(&sqs, "q", &[]);
    let waiter = {
        let sqs = sqs.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let m = sqs
                .receive(ReceiveMessageRequest {
                    queue_url: Some(url),
                    wait_time_seconds: Some(20),
                    ..Default::default()
                })
                .await
                .unwrap();
            (m.messages, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    send(&sqs, &url, "wake");
    let (m, waited) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.len(), 1);
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test]
async fn batches_report_each_entry() {
    let (sqs, _) = setup();
    let url = create(&sqs, "q", &[]);
    let r = sqs
        .send_batch(
            SendMessageBatchRequest {
                queue_url: Some(url.clone()),
                entries: vec![
                    SendMessageBatchEntry {
                        id: Some("a".into()),
                        message_body: Some("1".into()),
                        ..Default::default()
                    },
                    SendMessageBatchEntry {
                        id: Some("b".into()),
                        message_body: Some(String::new()),
                        ..Default::default()
                    },
                ],
            },
            &caller(),
        )
        .unwrap();
    assert_eq!(r.successful.len(), 1);
    assert_eq!(r.failed[0].id, "b");
    assert_eq!(r.failed[0].code, "MissingParameter");
    let e = sqs
        .send_batch(
            SendMessageBatchRequest {
                queue_url: Some(url.clone()),
                entries: (0..11)
                    .map(|i| SendMessageBatchEntry {
                        id: Some(i.to_string()),
                        message_body: Some("x".into()),
                        ..Default::default()
                    })
                    .collect(),
            },
            &caller(),
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "Maximum number of entries per request are 10. You have sent 11."
    );
    let m = receive(&sqs, &url, 10).await;
    let d = sqs
        .delete_message_batch(BatchRequest {
            queue_url: Some(url.clone()),
            entries: vec![
                BatchEntry {
                    id: Some("x".into()),
                    receipt_handle: Some(m[0].receipt_handle.clone()),
                    visibility_timeout: None,
                },
                BatchEntry {
                    id: Some("y".into()),
                    receipt_handle: Some("garbage".into()),
                    visibility_timeout: None,
                },
            ],
        })
        .unwrap();
    assert_eq!(d.successful.len(), 1);
    assert_eq!(d.failed[0].code, "ReceiptHandleIsInvalid");
}

#[tokio::test]
async fn send_by_arn_for_other_crates() {
    let (sqs, _) = setup();
    let url = create(&sqs, "dest", &[]);
    let mut a = MessageAttributes::new();
    a.insert("RequestID".into(), MessageAttributeValue::string("r-1"));
    sqs.send_message("arn:aws:sqs:us-east-1:123456789012:dest", "{}".into(), a)
        .unwrap();
    let m = receive(&sqs, &url, 1).await;
    assert_eq!(m[0].body, "{}");
    assert_eq!(
        m[0].message_attributes["RequestID"].string_value.as_deref(),
        Some("r-1")
    );
    let e = sqs
        .send_message(
            "arn:aws:sqs:us-east-1:123456789012:nope",
            "{}".into(),
            MessageAttributes::new(),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::QueueDoesNotExist);
    let e = sqs
        .send_message(
            "arn:aws:sqs:eu-west-1:123456789012:dest",
            "{}".into(),
            MessageAttributes::new(),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::QueueDoesNotExist);
}

#[tokio::test]
async fn everything_acknowledged_survives_a_restart_and_in_flight_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqs.db");
    let clock = Arc::new(ManualClock::new(T0));
    let sqs = Sqs::open(&path, Region::default(), clock.clone()).unwrap();
    let url = create(&sqs, "q", &[("VisibilityTimeout", "30")]);
    let f = create(&sqs, "f.fifo", &[("FifoQueue", "true")]);
    for i in 0..5 {
        send(&sqs, &url, &format!("m{i}"));
    }
    send_fifo(&sqs, &f, "x", "g", Some("d1"));
    let inflight = receive(&sqs, &url, 2).await;
    assert_eq!(inflight.len(), 2);
    drop(sqs);
    // Read-only beside (here: after) the server, as `hako queues` reads it.
    let stats = crate::read_stats(&path, clock.now_ms()).unwrap();
    let q = stats.iter().find(|s| s.name == "q").unwrap();
    assert_eq!((q.visible, q.in_flight, q.delayed), (3, 2, 0));
    let sqs = Sqs::open(&path, Region::default(), clock.clone()).unwrap();
    let a = attrs(&sqs, &url);
    assert_eq!(a["ApproximateNumberOfMessages"], "3");
    assert_eq!(a["ApproximateNumberOfMessagesNotVisible"], "2");
    // The deduplication window survives too.
    let dup = send_fifo(&sqs, &f, "x", "g", Some("d1"));
    assert_eq!(attrs(&sqs, &f)["ApproximateNumberOfMessages"], "1");
    assert!(dup.sequence_number.is_some());
    clock.advance(30_000);
    let all = receive(&sqs, &url, 10).await;
    assert_eq!(all.len(), 5);
    let mut bodies: Vec<_> = all.iter().map(|m| m.body.clone()).collect();
    bodies.sort();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4"]);
    // A handle from before the restart still deletes (the receipt is stored).
    let e = delete(&sqs, &url, &inflight[0].receipt_handle);
    assert!(e.is_ok());
}

#[tokio::test]
async fn receives_beyond_the_in_flight_quota_are_refused_with_over_limit() {
    let (sqs, _) = setup();
    let url = create(&sqs, "f.fifo", &[("FifoQueue", "true")]);
    // AWS's quota is 20,000 for a FIFO queue; the same check with a cap of 30 (one message per
    // group, so every group is in flight at once).
    sqs.cap_inflight(30);
    let n = 30;
    for chunk in 0..n / 10 {
        sqs.send_batch(
            SendMessageBatchRequest {
                queue_url: Some(url.clone()),
                entries: (0..10)
                    .map(|i| {
                        let k = chunk * 10 + i;
                        SendMessageBatchEntry {
                            id: Some(i.to_string()),
                            message_body: Some(k.to_string()),
                            message_group_id: Some(k.to_string()),
                            message_deduplication_id: Some(k.to_string()),
                            ..Default::default()
                        }
                    })
                    .collect(),
            },
            &caller(),
        )
        .unwrap();
    }
    send_fifo(&sqs, &url, "one more", "last", Some("last"));
    let mut received = 0;
    while received < n {
        received += receive(&sqs, &url, 10).await.len();
    }
    assert_eq!(received, n);
    let e = sqs
        .receive(ReceiveMessageRequest {
            queue_url: Some(url.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::OverLimit);
    assert_eq!(e.kind.query_code(), "OverLimit");
    // The quota is AWS's without the cap.
    assert_eq!(model::MAX_INFLIGHT_FIFO, 20_000);
    assert_eq!(model::MAX_INFLIGHT_STANDARD, 120_000);
}

#[test]
fn stats_leave_out_messages_past_their_retention() {
    let (sqs, clock) = setup();
    let url = create(&sqs, "q", &[("MessageRetentionPeriod", "60")]);
    send(&sqs, &url, "x");
    assert_eq!(sqs.stats()[0].0.visible, 1);
    clock.advance(60_000);
    assert_eq!(sqs.stats()[0].0.visible, 0);
}

/// What Lambda's pollers use: receive by ARN with every attribute, delete by handles in one go
/// (a handle received again since deletes nothing).
#[tokio::test]
async fn a_poller_receives_by_arn_and_deletes_what_it_handled() {
    let (sqs, clock) = setup();
    let url = create(&sqs, "q", &[("VisibilityTimeout", "5")]);
    let arn = "arn:aws:sqs:us-east-1:123456789012:q";
    assert_eq!(sqs.queue_is_fifo(arn), Some(false));
    assert_eq!(
        sqs.queue_is_fifo("arn:aws:sqs:us-east-1:123456789012:nope"),
        None
    );
    assert_eq!(
        sqs.queue_is_fifo("arn:aws:sqs:eu-west-1:123456789012:q"),
        None
    );
    create(&sqs, "f.fifo", &[("FifoQueue", "true")]);
    assert_eq!(
        sqs.queue_is_fifo("arn:aws:sqs:us-east-1:123456789012:f.fifo"),
        Some(true)
    );
    for i in 0..3 {
        send(&sqs, &url, &format!("m{i}"));
    }
    let got = sqs.receive_for_poller(arn, 10, 0).await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].attributes["ApproximateReceiveCount"], "1");
    assert!(got[0].attributes.contains_key("SentTimestamp"));
    assert!(got[0]
        .attributes
        .contains_key("ApproximateFirstReceiveTimestamp"));
    // m0's visibility ends and it is received again: its old handle deletes nothing.
    clock.advance(5_000);
    let again = sqs.receive_for_poller(arn, 10, 0).await.unwrap();
    assert_eq!(again.len(), 3);
    let stale: Vec<String> = got.iter().map(|m| m.receipt_handle.clone()).collect();
    assert_eq!(sqs.delete_received(arn, &stale).unwrap(), 0);
    let fresh: Vec<String> = again[..2]
        .iter()
        .map(|m| m.receipt_handle.clone())
        .collect();
    assert_eq!(sqs.delete_received(arn, &fresh).unwrap(), 2);
    clock.advance(5_000);
    let left = sqs.receive_for_poller(arn, 10, 0).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].attributes["ApproximateReceiveCount"], "3");
    assert!(sqs
        .receive_for_poller("arn:aws:sqs:us-east-1:123456789012:nope", 1, 0)
        .await
        .is_err());
}
