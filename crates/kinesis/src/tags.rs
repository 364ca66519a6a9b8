//! The tag operations: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream; and the
//! streams' counts for metrics and `hako streams`.

use hako_model::validation::{Constraint, ListShape, Violations};

use crate::error::{Code, Error, Result};
use crate::metrics::StreamCounts;
use crate::model::{limits, shapes};
use crate::storage;
use crate::streams::check_tags;
use crate::wire::*;
use crate::Kinesis;

static TAG_KEY_LIST: ListShape = ListShape {
    max_len: Some(50),
    min_len: Some(1),
    member: &shapes::TAG_KEY,
};

impl Kinesis {
    pub fn add_tags(&self, input: AddTagsInput) -> Result<Empty> {
        let mut v = Violations::new();
        let tags = v.required("tags", input.tags.as_ref());
        if let Some(t) = tags {
            if t.is_empty() {
                v.push(Some("{}"), "tags", Constraint::MinLength(1));
            }
            if t.len() > 200 {
                v.push(Some("{...}"), "tags", Constraint::MaxLength(200));
            }
            check_tags(&mut v, t);
        }
        let (s, _) = self.find(&input.stream, v)?;
        let tags = input.tags.unwrap_or_default();
        let account = self.account().to_string();
        self.inner.db.write(|tx| {
            let existing = storage::tags(tx, s.id)?;
            let added = tags
                .keys()
                .filter(|k| !existing.iter().any(|(e, _)| e == *k))
                .count();
            if existing.len() + added > limits::MAX_TAGS {
                // No AWS-recorded answer found; Hako's wording of AWS's documented limit.
                return Ok(Err(Error::new(
                    Code::InvalidArgument,
                    format!(
                        "Failed to add tags to stream {} under account {account} because a \
                         given stream cannot have more than {} tags.",
                        s.name,
                        limits::MAX_TAGS
                    ),
                )));
            }
            for (k, val) in &tags {
                storage::put_tag(tx, s.id, k, val)?;
            }
            Ok(Ok(()))
        })??;
        Ok(Empty {})
    }

    pub fn remove_tags(&self, input: RemoveTagsInput) -> Result<Empty> {
        let mut v = Violations::new();
        let keys = v.required("tagKeys", input.tag_keys.as_ref());
        if let Some(k) = keys {
            v.list("tagKeys", k, &TAG_KEY_LIST);
        }
        let (s, _) = self.find(&input.stream, v)?;
        self.inner.db.write(|tx| {
            for k in input.tag_keys.iter().flatten() {
                storage::remove_tag(tx, s.id, k)?;
            }
            Ok(())
        })?;
        Ok(Empty {})
    }

    pub fn list_tags(&self, input: ListTagsInput) -> Result<ListTagsOutput> {
        let mut v = Violations::new();
        v.opt_string(
            "exclusiveStartTagKey",
            input.exclusive_start_tag_key.as_deref(),
            &shapes::TAG_KEY,
        );
        v.opt_integer("limit", input.limit, &shapes::LIMIT_50);
        let (s, _) = self.find(&input.stream, v)?;
        let all = self.inner.db.read(|c| storage::tags(c, s.id))?;
        let limit = input
            .limit
            .map_or(limits::LIST_TAGS_DEFAULT, |n| n as usize);
        let after: Vec<(String, String)> = all
            .into_iter()
            .filter(|(k, _)| {
                input
                    .exclusive_start_tag_key
                    .as_deref()
                    .is_none_or(|start| k.as_str() > start)
            })
            .collect();
        let has_more = after.len() > limit;
        Ok(ListTagsOutput {
            tags: after
                .into_iter()
                .take(limit)
                .map(|(key, value)| Tag { key, value })
                .collect(),
            has_more_tags: has_more,
        })
    }

    /// Every live stream with its counts (records and bytes retained), by name.
    pub fn stream_counts(&self) -> Result<Vec<StreamCounts>> {
        let rows = self.inner.db.read(|c| storage::streams(c, None))?;
        let mut out = Vec::new();
        for s in rows {
            let Some(status) = self.status(&s) else {
                continue;
            };
            let (records, bytes) = self.inner.db.read(|c| storage::record_counts(c, s.id))?;
            out.push(StreamCounts {
                name: s.name.clone(),
                status: status.as_str().to_string(),
                mode: s.mode.as_str().to_string(),
                shards: s.shard_count,
                retention_hours: s.retention_hours,
                records,
                bytes,
                created_ms: s.created_ms,
            });
        }
        Ok(out)
    }

    /// The OpenMetrics text of Kinesis's metrics (ends with `# EOF`).
    pub fn render_metrics(&self) -> String {
        let counts = self.stream_counts().unwrap_or_default();
        self.inner.metrics.render(&counts)
    }
}
