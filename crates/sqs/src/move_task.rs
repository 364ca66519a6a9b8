//! Message move tasks (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask): a
//! dead-letter queue's messages moved back to the queues they came from (each message's
//! `DeadLetterQueueSourceArn`) or to a chosen queue, in the background, at most
//! `MaxNumberOfMessagesPerSecond`. Errors and answers as AWS's recorded in LocalStack's
//! `tests/aws/services/sqs/test_sqs_move_task.snapshot.json`.

use std::time::Duration;

use base64::Engine as _;

use crate::app::Sqs;
use crate::error::{ErrorKind, SqsError};
use crate::model;
use crate::store::{self, Msg, TaskRow};
use crate::wire::*;

fn not_found(parameter: &str) -> SqsError {
    SqsError::new(
        ErrorKind::ResourceNotFound,
        format!("The resource that you specified for the {parameter} parameter doesn't exist."),
    )
}

/// AWS's handles are base64 of `{"taskId": ..., "sourceArn": ...}`.
fn encode_task_handle(task_id: &str, source_arn: &str) -> String {
    let j = serde_json::json!({ "taskId": task_id, "sourceArn": source_arn });
    base64::engine::general_purpose::STANDARD.encode(j.to_string())
}

fn decode_task_handle(h: &str) -> Option<(String, String)> {
    let b = base64::engine::general_purpose::STANDARD.decode(h).ok()?;
    let j: serde_json::Value = serde_json::from_slice(&b).ok()?;
    Some((
        j.get("taskId")?.as_str()?.to_string(),
        j.get("sourceArn")?.as_str()?.to_string(),
    ))
}

/// Messages moved per transaction when no rate is given.
const BATCH: usize = 100;

impl Sqs {
    pub fn start_message_move_task(
        &self,
        req: StartMessageMoveTaskRequest,
    ) -> Result<TaskHandleResult, SqsError> {
        let source = req
            .source_arn
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SqsError::missing("SourceArn"))?;
        let now = self.now_ms();
        let task = self.with_state(|st| {
            let name = self.existing(st, &source, "SourceArn")?;
            let is_dlq = st.queues.values().any(|q| {
                q.cfg
                    .redrive
                    .as_ref()
                    .is_some_and(|r| r.dead_letter_target_arn == source)
            });
            if !is_dlq {
                return Err(SqsError::param(
                    "Source queue must be configured as a Dead Letter Queue.",
                ));
            }
            if let Some(d) = &req.destination_arn {
                self.existing(st, d, "DestinationArn")?;
            }
            if let Some(r) = req.max_number_of_messages_per_second {
                if !(1..=500).contains(&r) {
                    return Err(SqsError::invalid_value(
                        r,
                        "MaxNumberOfMessagesPerSecond",
                        "Must be between 1 and 500, if provided.",
                    ));
                }
            }
            if st
                .tasks
                .iter()
                .any(|t| t.source_arn == source && t.status == "RUNNING")
            {
                return Err(SqsError::param(
                    "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
                ));
            }
            let q = st.queues.get_mut(&name).ok_or_else(|| not_found("SourceArn"))?;
            q.settle(now);
            let (visible, _, _) = q.counts(now);
            let task = TaskRow {
                handle: encode_task_handle(&uuid::Uuid::new_v4().to_string(), &source),
                source_arn: source.clone(),
                destination_arn: req.destination_arn.clone(),
                max_per_second: req.max_number_of_messages_per_second,
                status: "RUNNING".into(),
                moved: 0,
                to_move: visible as i64,
                failure_reason: None,
                started_ms: now,
            };
            self.db_write(|tx| store::put_task(tx, &task))?;
            st.tasks.push(task.clone());
            Ok(task)
        })?;
        let sqs = self.clone();
        let handle = task.handle.clone();
        tokio::spawn(async move { sqs.run_move_task(handle).await });
        Ok(TaskHandleResult {
            task_handle: task.handle,
        })
    }

    pub fn cancel_message_move_task(
        &self,
        req: CancelMessageMoveTaskRequest,
    ) -> Result<CancelMessageMoveTaskResult, SqsError> {
        let handle = req
            .task_handle
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SqsError::missing("TaskHandle"))?;
        let (_, source) = decode_task_handle(&handle)
            .ok_or_else(|| SqsError::param("Value for parameter TaskHandle is invalid."))?;
        self.with_state(|st| {
            self.existing(st, &source, "SourceArn")?;
            let t = st
                .tasks
                .iter_mut()
                .find(|t| t.handle == handle && t.status == "RUNNING")
                .ok_or_else(|| {
                    SqsError::new(ErrorKind::ResourceNotFound, "Task does not exist.")
                })?;
            let mut row = t.clone();
            row.status = "CANCELLED".into();
            self.db_write(|tx| store::put_task(tx, &row))?;
            *t = row;
            Ok(CancelMessageMoveTaskResult {
                approximate_number_of_messages_moved: t.moved,
            })
        })
    }

    pub fn list_message_move_tasks(
        &self,
        req: ListMessageMoveTasksRequest,
    ) -> Result<ListMessageMoveTasksResult, SqsError> {
        let source = req
            .source_arn
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SqsError::missing("SourceArn"))?;
        let max = req.max_results.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(SqsError::invalid_value(
                max,
                "MaxResults",
                "Must be between 1 and 10, if provided.",
            ));
        }
        self.with_state(|st| {
            self.existing(st, &source, "SourceArn")?;
            let results = st
                .tasks
                .iter()
                .rev()
                .filter(|t| t.source_arn == source)
                .take(max as usize)
                .map(|t| MessageMoveTask {
                    task_handle: (t.status == "RUNNING").then(|| t.handle.clone()),
                    status: t.status.clone(),
                    source_arn: t.source_arn.clone(),
                    destination_arn: t.destination_arn.clone(),
                    max_number_of_messages_per_second: t.max_per_second,
                    approximate_number_of_messages_moved: t.moved,
                    approximate_number_of_messages_to_move: t.to_move,
                    failure_reason: t.failure_reason.clone(),
                    started_timestamp: t.started_ms,
                })
                .collect();
            Ok(ListMessageMoveTasksResult { results })
        })
    }

    /// Moves the task's messages until all it counted at its start are moved, the source has
    /// none left, it is cancelled, or a queue it needs is gone (FAILED).
    async fn run_move_task(&self, handle: String) {
        loop {
            let per_step = match self.move_step(&handle) {
                Ok(Some(n)) => n,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "sqs message move task");
                    return;
                }
            };
            // A rated task moves `rate` messages a second; one without moves batches back to
            // back, letting other requests in between.
            let pause = match per_step {
                Some(_) => Duration::from_secs(1),
                None => Duration::ZERO,
            };
            tokio::select! {
                _ = self.stopped() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One step of a task: `Ok(None)` when it has ended, else the rate to keep.
    #[allow(clippy::type_complexity)]
    fn move_step(&self, handle: &str) -> Result<Option<Option<i64>>, SqsError> {
        let now = self.now_ms();
        self.with_state(|st| {
            let Some(ti) = st
                .tasks
                .iter()
                .position(|t| t.handle == handle && t.status == "RUNNING")
            else {
                return Ok(None);
            };
            let task = st.tasks[ti].clone();
            let finish = |st: &mut crate::app::State, status: &str, reason: Option<&str>| {
                let mut row = st.tasks[ti].clone();
                row.status = status.into();
                row.failure_reason = reason.map(str::to_string);
                self.db_write(|tx| store::put_task(tx, &row))?;
                st.tasks[ti] = row;
                Ok::<_, SqsError>(None)
            };
            let Some(src_name) = self
                .queue_of_arn(&task.source_arn)
                .filter(|n| st.queues.contains_key(n))
            else {
                return finish(
                    st,
                    "FAILED",
                    Some("AWS.SimpleQueueService.NonExistentQueue"),
                );
            };
            let remaining = (task.to_move - task.moved).max(0) as usize;
            let take = remaining.min(task.max_per_second.map_or(BATCH, |r| r as usize));
            let src = st
                .queues
                .get_mut(&src_name)
                .ok_or_else(SqsError::no_queue)?;
            src.settle(now);
            let seqs: Vec<i64> = src
                .timeline
                .range(..=(now, i64::MAX))
                .take(take)
                .map(|(_, s)| *s)
                .collect();
            if seqs.is_empty() {
                return finish(st, "COMPLETED", None);
            }
            // Each message's destination: the task's, or the queue it was dead-lettered from.
            let mut moves: Vec<(String, Msg)> = Vec::with_capacity(seqs.len());
            for seq in &seqs {
                let m = src.msgs[seq].clone();
                let dest = task
                    .destination_arn
                    .clone()
                    .or_else(|| m.dlq_source.clone());
                let Some(dest) = dest.and_then(|d| self.queue_of_arn(&d)) else {
                    return finish(st, "FAILED", Some("CouldNotDetermineMessageSource"));
                };
                moves.push((dest, m));
            }
            let src_id = st.queues[&src_name].row.id;
            let mut next: std::collections::HashMap<String, (i64, i64)> = Default::default();
            for (d, m) in &mut moves {
                let Some(dq) = st.queues.get(d.as_str()) else {
                    return finish(
                        st,
                        "FAILED",
                        Some("AWS.SimpleQueueService.NonExistentQueue"),
                    );
                };
                let e = next.entry(d.clone()).or_insert((dq.row.id, dq.next_seq));
                m.seq = e.1;
                e.1 += 1;
                m.receive_count = 0;
                m.first_receive_ms = None;
                m.receipt = 0;
                m.visible_at = now;
                m.held = false;
                m.dlq_source = None;
            }
            let mut row = task.clone();
            row.moved += moves.len() as i64;
            if row.moved >= row.to_move {
                row.status = "COMPLETED".into();
            }
            self.db_write(|tx| {
                for seq in &seqs {
                    store::delete_message(tx, src_id, *seq)?;
                }
                for (d, m) in &moves {
                    store::insert_message(tx, next[d].0, m)?;
                }
                store::put_task(tx, &row)
            })?;
            if let Some(src) = st.queues.get_mut(&src_name) {
                for seq in &seqs {
                    src.remove(*seq);
                }
            }
            for (d, m) in moves {
                if let Some(dq) = st.queues.get_mut(&d) {
                    dq.insert(m, now);
                    dq.notify.notify_waiters();
                }
            }
            let done = row.status != "RUNNING";
            let rate = row.max_per_second;
            st.tasks[ti] = row;
            Ok((!done).then_some(rate))
        })
    }

    /// The name of the existing queue `arn`, else ResourceNotFoundException for `parameter`.
    fn existing(
        &self,
        st: &crate::app::State,
        arn: &str,
        parameter: &str,
    ) -> Result<String, SqsError> {
        self.queue_of_arn(arn)
            .filter(|n| st.queues.contains_key(n))
            .ok_or_else(|| not_found(parameter))
    }

    fn queue_of_arn(&self, arn: &str) -> Option<String> {
        let name = model::name_of_arn(arn)?;
        (self.queue_arn(name) == arn).then(|| name.to_string())
    }
}
