//! One queue in memory: its configuration and an index of its stored messages (by the time each
//! becomes visible, the ones in flight, FIFO groups, the deduplication window). Built from the
//! rows at start and kept equal to them: every change is committed first, then applied here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::model::{self, RedrivePolicy};
use crate::store::{Dedup, Msg, QueueRow};

/// A queue's attributes as numbers, read once from its attribute strings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub visibility_ms: i64,
    pub retention_ms: i64,
    pub delay_ms: i64,
    pub wait_s: i64,
    pub max_size: usize,
    pub content_dedup: bool,
    pub dedup_by_group: bool,
    pub redrive: Option<RedrivePolicy>,
}

impl Config {
    pub(crate) fn of(attrs: &BTreeMap<String, String>) -> Config {
        let int = |k: &str, d: i64| {
            attrs
                .get(k)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(d)
        };
        Config {
            visibility_ms: int("VisibilityTimeout", 30) * 1000,
            retention_ms: int("MessageRetentionPeriod", 345_600) * 1000,
            delay_ms: int("DelaySeconds", 0) * 1000,
            wait_s: int("ReceiveMessageWaitTimeSeconds", 0),
            max_size: int("MaximumMessageSize", 1_048_576) as usize,
            content_dedup: attrs
                .get("ContentBasedDeduplication")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            dedup_by_group: attrs
                .get("DeduplicationScope")
                .is_some_and(|v| v == "messageGroup"),
            redrive: attrs
                .get("RedrivePolicy")
                .filter(|v| !v.is_empty())
                .and_then(|v| RedrivePolicy::parse(v).ok()),
        }
    }
}

/// What a receive does with one message it looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Hand it out.
    Deliver(i64),
    /// Past its retention period: delete it.
    Expire(i64),
    /// Received `maxReceiveCount` times: move it to the dead-letter queue.
    Redrive(i64),
}

#[derive(Debug)]
pub(crate) struct Queue {
    pub row: QueueRow,
    pub arn: String,
    pub cfg: Config,
    pub msgs: HashMap<i64, Msg>,
    /// Every message by (the time it becomes visible, seq).
    pub timeline: BTreeSet<(i64, i64)>,
    /// Received messages not yet visible again, by (visible again at, seq).
    pub inflight: BTreeSet<(i64, i64)>,
    /// FIFO: each group's messages in order.
    pub groups: HashMap<String, BTreeSet<i64>>,
    /// FIFO: each group by its first message, oldest first (a receive walks it in order).
    pub heads: BTreeSet<(i64, String)>,
    pub dedup: HashMap<String, Dedup>,
    pub next_seq: i64,
    pub notify: Arc<Notify>,
}

impl Queue {
    pub(crate) fn new(row: QueueRow, arn: String) -> Queue {
        Queue {
            cfg: Config::of(&row.attributes),
            row,
            arn,
            msgs: HashMap::new(),
            timeline: BTreeSet::new(),
            inflight: BTreeSet::new(),
            groups: HashMap::new(),
            heads: BTreeSet::new(),
            dedup: HashMap::new(),
            next_seq: 1,
            notify: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn fifo(&self) -> bool {
        self.row.fifo
    }

    pub(crate) fn max_inflight(&self) -> usize {
        if self.fifo() {
            model::MAX_INFLIGHT_FIFO
        } else {
            model::MAX_INFLIGHT_STANDARD
        }
    }

    /// Adds a stored message to the index. A message loaded at start that was in flight keeps
    /// its time: it becomes visible when its visibility timeout ends.
    pub(crate) fn insert(&mut self, mut m: Msg, now: i64) {
        self.next_seq = self.next_seq.max(m.seq + 1);
        self.timeline.insert((m.visible_at, m.seq));
        m.held = m.receipt != 0 && m.visible_at > now;
        if m.held {
            self.inflight.insert((m.visible_at, m.seq));
        }
        if self.fifo() {
            if let Some(g) = &m.group {
                let set = self.groups.entry(g.clone()).or_default();
                let before = set.first().copied();
                set.insert(m.seq);
                let after = set.first().copied();
                Self::move_head(&mut self.heads, g, before, after);
            }
        }
        self.msgs.insert(m.seq, m);
    }

    /// Removes a message from the index.
    pub(crate) fn remove(&mut self, seq: i64) -> Option<Msg> {
        let m = self.msgs.remove(&seq)?;
        self.timeline.remove(&(m.visible_at, seq));
        if m.held {
            self.inflight.remove(&(m.visible_at, seq));
        }
        if self.fifo() {
            if let Some(g) = &m.group {
                if let Some(set) = self.groups.get_mut(g) {
                    let before = set.first().copied();
                    set.remove(&seq);
                    let after = set.first().copied();
                    if set.is_empty() {
                        self.groups.remove(g);
                    }
                    Self::move_head(&mut self.heads, g, before, after);
                }
            }
        }
        Some(m)
    }

    /// Keeps `heads` right when group `g`'s first message changes from `before` to `after`.
    fn move_head(
        heads: &mut BTreeSet<(i64, String)>,
        g: &str,
        before: Option<i64>,
        after: Option<i64>,
    ) {
        if before == after {
            return;
        }
        if let Some(b) = before {
            heads.remove(&(b, g.to_string()));
        }
        if let Some(a) = after {
            heads.insert((a, g.to_string()));
        }
    }

    /// Moves a message's visibility time (a receive or a visibility change).
    pub(crate) fn set_visible_at(&mut self, seq: i64, at: i64, now: i64) {
        let Some(m) = self.msgs.get_mut(&seq) else {
            return;
        };
        self.timeline.remove(&(m.visible_at, seq));
        if m.held {
            self.inflight.remove(&(m.visible_at, seq));
        }
        m.visible_at = at;
        m.held = at > now;
        self.timeline.insert((at, seq));
        if m.held {
            self.inflight.insert((at, seq));
        }
    }

    /// Lets messages whose visibility timeout ended out of the in-flight index.
    pub(crate) fn settle(&mut self, now: i64) {
        while let Some(&(at, seq)) = self.inflight.first() {
            if at > now {
                break;
            }
            self.inflight.pop_first();
            if let Some(m) = self.msgs.get_mut(&seq) {
                m.held = false;
            }
        }
    }

    /// (visible, in flight, delayed) now. Call [`Queue::settle`] first.
    pub(crate) fn counts(&self, now: i64) -> (usize, usize, usize) {
        let visible = self.timeline.range(..=(now, i64::MAX)).count();
        let inflight = self.inflight.len();
        let delayed = self.timeline.len().saturating_sub(visible + inflight);
        (visible, inflight, delayed)
    }

    /// The next time a message becomes visible, after `now`.
    pub(crate) fn next_due(&self, now: i64) -> Option<i64> {
        self.timeline
            .range((now + 1, i64::MIN)..)
            .next()
            .map(|(at, _)| *at)
    }

    fn step(&self, m: &Msg, now: i64, dlq_ok: bool) -> Step {
        if m.sent_ms + self.cfg.retention_ms <= now {
            Step::Expire(m.seq)
        } else if dlq_ok
            && self
                .cfg
                .redrive
                .as_ref()
                .is_some_and(|r| m.receive_count >= r.max_receive_count)
        {
            Step::Redrive(m.seq)
        } else {
            Step::Deliver(m.seq)
        }
    }

    /// What a receive of at most `max` messages does now (nothing changed yet). `dlq_ok`: the
    /// redrive policy's queue exists and takes the messages.
    pub(crate) fn plan_receive(&self, max: usize, now: i64, dlq_ok: bool) -> Vec<Step> {
        let mut plan = Vec::new();
        let mut delivered = 0;
        if !self.fifo() {
            for &(_, seq) in self.timeline.range(..=(now, i64::MAX)) {
                if delivered == max {
                    break;
                }
                let step = self.step(&self.msgs[&seq], now, dlq_ok);
                delivered += usize::from(matches!(step, Step::Deliver(_)));
                plan.push(step);
            }
            return plan;
        }
        // FIFO: groups whose first message is visible (a group with a message in flight is
        // blocked: its first message is the one in flight), oldest first; from each, its
        // messages in order while they are visible.
        'groups: for (head, g) in &self.heads {
            if self.msgs[head].visible_at > now {
                continue;
            }
            let Some(set) = self.groups.get(g) else {
                continue;
            };
            for seq in set {
                if delivered == max {
                    break 'groups;
                }
                let m = &self.msgs[seq];
                if m.visible_at > now {
                    break;
                }
                let step = self.step(m, now, dlq_ok);
                delivered += usize::from(matches!(step, Step::Deliver(_)));
                plan.push(step);
            }
        }
        plan
    }

    /// Removes expired deduplication entries (FIFO).
    pub(crate) fn prune_dedup(&mut self, now: i64) {
        self.dedup.retain(|_, d| d.expires_ms > now);
    }

    /// The messages past their retention period.
    pub(crate) fn expired(&self, now: i64) -> Vec<i64> {
        self.msgs
            .values()
            .filter(|m| m.sent_ms + self.cfg.retention_ms <= now)
            .map(|m| m.seq)
            .collect()
    }

    /// The queue's attributes with the computed ones, for GetQueueAttributes.
    pub(crate) fn all_attributes(&self, now: i64) -> BTreeMap<String, String> {
        let mut a = self.row.attributes.clone();
        let (visible, inflight, delayed) = self.counts(now);
        a.insert("ApproximateNumberOfMessages".into(), visible.to_string());
        a.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            inflight.to_string(),
        );
        a.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            delayed.to_string(),
        );
        a.insert(
            "CreatedTimestamp".into(),
            (self.row.created_ms / 1000).to_string(),
        );
        a.insert(
            "LastModifiedTimestamp".into(),
            (self.row.modified_ms / 1000).to_string(),
        );
        a.insert("QueueArn".into(), self.arn.clone());
        a
    }
}
