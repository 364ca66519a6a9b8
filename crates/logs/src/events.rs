//! Log events: PutLogEvents, GetLogEvents, FilterLogEvents.

use hako_model::validation::{Constraint, Violations};

use crate::error::{Error, Result};
use crate::filter;
use crate::model::{self, limits, shapes, Key, StreamToken};
use crate::storage::{self, EventRow, Range};
use crate::wire::*;
use crate::Logs;

/// Rows FilterLogEvents reads from the database at a time.
const SCAN_BATCH: usize = 2048;
/// Rows one FilterLogEvents call examines at most before it answers with a token (AWS also
/// answers partial, even empty, pages with a token).
const SCAN_MAX: usize = 1_000_000;

impl Logs {
    pub fn put_log_events(&self, i: PutLogEventsInput) -> Result<PutLogEventsOutput> {
        let mut v = Violations::new();
        self.check_group_name(&mut v, i.log_group_name.as_deref());
        Self::check_stream_name(&mut v, i.log_stream_name.as_deref());
        let events = v.required("logEvents", i.log_events);
        if let Some(ev) = &events {
            if ev.len() > limits::MAX_BATCH_EVENTS {
                v.push(
                    Some(&format!("[{} events]", ev.len())),
                    "logEvents",
                    Constraint::MaxLength(limits::MAX_BATCH_EVENTS),
                );
            }
            if ev.is_empty() {
                v.push(Some("[]"), "logEvents", Constraint::MinLength(1));
            }
            for (n, e) in ev.iter().enumerate() {
                let path = format!("logEvents.{}.member", n + 1);
                if let Some(t) = v.required(&format!("{path}.timestamp"), e.timestamp) {
                    v.integer(&format!("{path}.timestamp"), t, &shapes::TIMESTAMP);
                }
                if let Some(m) = v.required(&format!("{path}.message"), e.message.as_deref()) {
                    v.string(&format!("{path}.message"), m, &shapes::EVENT_MESSAGE);
                }
            }
        }
        v.finish()?;
        let events = events.unwrap_or_default();
        let group = i.log_group_name.unwrap_or_default();
        let stream = i.log_stream_name.unwrap_or_default();
        Self::long_name(&group)?;
        Self::long_name(&stream)?;
        let size: usize = events
            .iter()
            .map(|e| e.message.as_deref().unwrap_or("").len() + limits::EVENT_OVERHEAD_BYTES)
            .sum();
        if size > limits::MAX_BATCH_BYTES {
            // botocore's documentation names the limit; no AWS-recorded message found.
            return Err(Error::invalid(format!(
                "Upload too large: {size} bytes exceeds the limit of {} bytes.",
                limits::MAX_BATCH_BYTES
            )));
        }
        let ts: Vec<i64> = events.iter().map(|e| e.timestamp.unwrap_or(0)).collect();
        if ts.windows(2).any(|w| w[1] < w[0]) {
            return Err(Error::not_chronological());
        }
        let g = self.find_group(&group)?;
        let s = self
            .inner
            .db
            .read(|c| storage::stream_by_name(c, g.id, &stream))?
            .ok_or_else(Error::stream_not_found)?;
        let now = self.now();
        // Events are in order, so the rejected ones are a prefix (too old, expired) and a
        // suffix (too new).
        let too_new_from = ts.iter().position(|t| *t > now + limits::TOO_NEW_MS);
        let too_old_to = ts.iter().rposition(|t| *t < now - limits::TOO_OLD_MS);
        let expired_to = g
            .retention_days
            .and_then(|d| ts.iter().rposition(|t| *t < now - d * 86_400_000));
        let start = too_old_to.max(expired_to).map_or(0, |i| i + 1);
        let end = too_new_from.unwrap_or(ts.len()).max(start);
        if end > start && ts[end - 1] - ts[start] > limits::MAX_SPAN_MS {
            // botocore's documentation ("the time span in a single batch cannot exceed 24
            // hours. Otherwise, the operation fails"); no AWS-recorded message found.
            return Err(Error::invalid(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
            ));
        }
        let accepted: Vec<(i64, &str)> = events[start..end]
            .iter()
            .map(|e| (e.timestamp.unwrap_or(0), e.message.as_deref().unwrap_or("")))
            .collect();
        if !accepted.is_empty() {
            let stored = self
                .inner
                .db
                .write(|tx| storage::insert_events(tx, g.id, s.id, &accepted, now))?;
            if !stored {
                // Deleted since it was looked up.
                return Err(Error::stream_not_found());
            }
            let bytes: usize = accepted.iter().map(|(_, m)| m.len()).sum();
            self.inner
                .metrics
                .incoming(&group, accepted.len() as u64, bytes as u64);
        }
        let rejected = RejectedLogEventsInfo {
            too_new_log_event_start_index: too_new_from.map(|i| i as i64),
            too_old_log_event_end_index: too_old_to.map(|i| i as i64),
            expired_log_event_end_index: expired_to.map(|i| i as i64),
        };
        Ok(PutLogEventsOutput {
            // Sequence tokens are ignored (botocore's documentation); the answer still carries
            // one, as AWS's does (`test_put_log_events_too_old`).
            next_sequence_token: format!("{:056}", now),
            rejected_log_events_info: (rejected != RejectedLogEventsInfo::default())
                .then_some(rejected),
        })
    }

    pub fn get_log_events(&self, i: GetLogEventsInput) -> Result<GetLogEventsOutput> {
        let mut v = Violations::new();
        Self::check_stream_name(&mut v, i.log_stream_name.as_deref());
        v.opt_integer("startTime", i.start_time, &shapes::TIMESTAMP);
        v.opt_integer("endTime", i.end_time, &shapes::TIMESTAMP);
        v.opt_string("nextToken", i.next_token.as_deref(), &shapes::NEXT_TOKEN);
        v.opt_integer("limit", i.limit, &shapes::EVENTS_LIMIT);
        v.finish()?;
        let token = match &i.next_token {
            Some(t) => Some(StreamToken::parse(t).ok_or_else(Error::invalid_token)?),
            None => None,
        };
        let g = self.group_of(
            i.log_group_name.as_deref(),
            i.log_group_identifier.as_deref(),
        )?;
        let stream = i.log_stream_name.unwrap_or_default();
        Self::long_name(&stream)?;
        let s = self
            .inner
            .db
            .read(|c| storage::stream_by_name(c, g.id, &stream))?
            .ok_or_else(Error::stream_not_found)?;
        let range = Range {
            start: i.start_time.unwrap_or(i64::MIN),
            end: i.end_time.unwrap_or(i64::MAX),
        };
        let limit = i.limit.map_or(limits::EVENTS_LIMIT, |l| l as usize);
        let (from, forward) = match token {
            Some(StreamToken::Forward(k)) => (k, true),
            Some(StreamToken::Backward(k)) => (k, false),
            None if i.start_from_head.unwrap_or(false) => (Key::START, true),
            None => (Key::END, false),
        };
        let mut rows = self
            .inner
            .db
            .read(|c| storage::stream_events(c, s.id, range, from, forward, limit))?;
        if !forward {
            rows.reverse();
        }
        cap_bytes(&mut rows, forward);
        // Tokens: forward from the last event returned, backward from the first; at the end
        // of the stream the token passed in comes back unchanged (GetLogEvents' documentation).
        let (next_forward, next_backward) = match (rows.first(), rows.last()) {
            (Some(first), Some(last)) => (
                StreamToken::Forward(last.key()),
                StreamToken::Backward(first.key()),
            ),
            _ => {
                let at = match token {
                    Some(StreamToken::Forward(k) | StreamToken::Backward(k)) => k,
                    None => from,
                };
                let f = match token {
                    Some(t @ StreamToken::Forward(_)) => t,
                    _ => StreamToken::Forward(at),
                };
                let b = match token {
                    Some(t @ StreamToken::Backward(_)) => t,
                    _ => StreamToken::Backward(at),
                };
                (f, b)
            }
        };
        Ok(GetLogEventsOutput {
            events: rows
                .into_iter()
                .map(|r| OutputLogEvent {
                    timestamp: r.ts_ms,
                    message: r.message,
                    ingestion_time: r.ingest_ms,
                })
                .collect(),
            next_forward_token: next_forward.render(),
            next_backward_token: next_backward.render(),
        })
    }

    pub fn filter_log_events(&self, i: FilterLogEventsInput) -> Result<FilterLogEventsOutput> {
        let mut v = Violations::new();
        if let Some(names) = &i.log_stream_names {
            if names.is_empty() || names.len() > 100 {
                v.push(
                    Some(&hako_model::validation::list_value(names)),
                    "logStreamNames",
                    if names.is_empty() {
                        Constraint::MinLength(1)
                    } else {
                        Constraint::MaxLength(100)
                    },
                );
            }
        }
        v.opt_string(
            "logStreamNamePrefix",
            i.log_stream_name_prefix.as_deref(),
            &shapes::LOG_STREAM_NAME,
        );
        v.opt_integer("startTime", i.start_time, &shapes::TIMESTAMP);
        v.opt_integer("endTime", i.end_time, &shapes::TIMESTAMP);
        v.opt_string(
            "filterPattern",
            i.filter_pattern.as_deref(),
            &shapes::FILTER_PATTERN,
        );
        v.opt_string("nextToken", i.next_token.as_deref(), &shapes::NEXT_TOKEN);
        v.opt_integer("limit", i.limit, &shapes::EVENTS_LIMIT);
        v.finish()?;
        let g = self.group_of(
            i.log_group_name.as_deref(),
            i.log_group_identifier.as_deref(),
        )?;
        if i.log_stream_names.is_some() && i.log_stream_name_prefix.is_some() {
            // botocore's documentation: "If you specify a value for both logStreamNames and
            // logStreamNamePrefix, the action returns an InvalidParameterException error."
            // No AWS-recorded message found; Hako's wording.
            return Err(Error::invalid(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
            ));
        }
        let after = match &i.next_token {
            Some(t) => model::parse_filter_token(t).ok_or_else(Error::invalid_token)?,
            None => Key::START,
        };
        let pattern = filter::parse(i.filter_pattern.as_deref().unwrap_or(""))?;
        let must = pattern.prefilter();
        let streams: Option<Vec<(i64, String)>> =
            match (&i.log_stream_names, &i.log_stream_name_prefix) {
                (Some(names), _) => {
                    let all = self.inner.db.read(|c| storage::stream_ids(c, g.id, None))?;
                    Some(all.into_iter().filter(|(_, n)| names.contains(n)).collect())
                }
                (None, Some(prefix)) => Some(
                    self.inner
                        .db
                        .read(|c| storage::stream_ids(c, g.id, Some(prefix)))?,
                ),
                (None, None) => None,
            };
        // endTime: "Events with a timestamp later than this time are not returned".
        let range = Range {
            start: i.start_time.unwrap_or(i64::MIN),
            end: i.end_time.map_or(i64::MAX, |e| e.saturating_add(1)),
        };
        let limit = i.limit.map_or(limits::EVENTS_LIMIT, |l| l as usize);
        let ids: Option<Vec<i64>> = streams
            .as_ref()
            .map(|s| s.iter().map(|(id, _)| *id).collect());
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut cursor = after;
        let mut scanned = 0usize;
        let mut more = false;
        if ids.as_ref().is_none_or(|ids| !ids.is_empty()) {
            'scan: loop {
                let rows = self.inner.db.read(|c| {
                    storage::group_events(c, g.id, ids.as_deref(), &must, range, cursor, SCAN_BATCH)
                })?;
                let n = rows.len();
                for r in rows {
                    scanned += 1;
                    if pattern.matches(&r.message) {
                        if out.len() >= limit || bytes + r.message.len() > limits::PAGE_BYTES {
                            more = true;
                            break 'scan;
                        }
                        bytes += r.message.len();
                        cursor = r.key();
                        out.push(r);
                    } else {
                        cursor = r.key();
                    }
                    if scanned >= SCAN_MAX {
                        more = true;
                        break 'scan;
                    }
                }
                if n < SCAN_BATCH {
                    break;
                }
            }
        }
        let searched_log_streams = match &streams {
            Some(s) => s
                .iter()
                .map(|(_, n)| SearchedLogStream {
                    log_stream_name: n.clone(),
                    searched_completely: !more,
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(FilterLogEventsOutput {
            events: out
                .into_iter()
                .map(|r: EventRow| FilteredLogEvent {
                    event_id: format!("{:056}", r.id),
                    log_stream_name: r.stream,
                    timestamp: r.ts_ms,
                    message: r.message,
                    ingestion_time: r.ingest_ms,
                })
                .collect(),
            searched_log_streams,
            next_token: more.then(|| model::filter_token(cursor)),
        })
    }
}

/// Keeps a page within 1 MB of messages (GetLogEvents' documentation): from the start of a
/// forward page, from the end of a backward one.
fn cap_bytes(rows: &mut Vec<EventRow>, forward: bool) {
    let total: usize = rows.iter().map(|r| r.message.len()).sum();
    if total <= limits::PAGE_BYTES {
        return;
    }
    let mut bytes = 0;
    if forward {
        let keep = rows
            .iter()
            .take_while(|r| {
                bytes += r.message.len();
                bytes <= limits::PAGE_BYTES
            })
            .count();
        rows.truncate(keep.max(1));
    } else {
        let keep = rows
            .iter()
            .rev()
            .take_while(|r| {
                bytes += r.message.len();
                bytes <= limits::PAGE_BYTES
            })
            .count()
            .max(1);
        let drop = rows.len() - keep;
        rows.drain(..drop);
    }
}
