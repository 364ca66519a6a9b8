//! The stream operations: CreateStream, DescribeStream(Summary), ListStreams, ListShards,
//! DeleteStream, Increase/DecreaseStreamRetentionPeriod.

use base64::Engine as _;
use hako_model::validation::{Constraint, Violations};

use crate::error::{Code, Error, Result};
use crate::model::{self, limits, shapes, SequenceNumber, StreamMode, StreamStatus};
use crate::storage::{self, StreamRow};
use crate::wire::*;
use crate::Kinesis;

impl Kinesis {
    pub fn create_stream(&self, input: CreateStreamInput) -> Result<Empty> {
        let mut v = Violations::new();
        let name = v.required("streamName", input.stream_name.clone());
        v.opt_string("streamName", name.as_deref(), &shapes::STREAM_NAME);
        v.opt_integer("shardCount", input.shard_count, &shapes::POSITIVE);
        if let Some(m) = &input.stream_mode_details {
            v.string(
                "streamModeDetails.streamMode",
                &m.stream_mode,
                &shapes::STREAM_MODE,
            );
        }
        v.finish()?;
        let name = name.unwrap_or_default();
        let mode = match &input.stream_mode_details {
            Some(m) => StreamMode::parse(&m.stream_mode).unwrap_or(StreamMode::Provisioned),
            None if input.shard_count.is_none() => StreamMode::OnDemand,
            None => StreamMode::Provisioned,
        };
        let shard_count = match mode {
            StreamMode::OnDemand => limits::ON_DEMAND_SHARDS,
            StreamMode::Provisioned => match input.shard_count {
                Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
                // kinesalite's validation (AWS): a provisioned stream names its shards.
                None => {
                    return Err(Error::new(
                        Code::Validation,
                        "1 validation error detected: Value null at 'shardCount' failed to \
                         satisfy constraint: Member must not be null",
                    ))
                }
            },
        };
        let mut tags = Violations::new();
        if let Some(t) = &input.tags {
            check_tags(&mut tags, t);
        }
        tags.finish()?;
        let now = self.now();
        let account = self.account().to_string();
        let region = self.inner.cfg.region.clone();
        let status = |s: &StreamRow| self.status(s);
        self.inner.db.write(|tx| {
            if let Some(old) = storage::stream_by_name(tx, &name)? {
                if status(&old).is_some() {
                    return Ok(Err(Error::stream_exists(&name, &account)));
                }
                storage::forget_stream(tx, old.id)?;
            }
            let total = storage::total_shards(tx)?;
            if total + u64::from(shard_count) > limits::ACCOUNT_SHARD_LIMIT {
                return Ok(Err(shard_limit(&account, &region, total, shard_count)));
            }
            let id = storage::insert_stream(
                tx,
                &StreamRow {
                    id: 0,
                    name: name.clone(),
                    created_ms: now,
                    mode,
                    shard_count,
                    retention_hours: limits::DEFAULT_RETENTION_HOURS,
                    deleted_ms: None,
                },
            )?;
            for (k, val) in input.tags.iter().flatten() {
                storage::put_tag(tx, id, k, val)?;
            }
            Ok(Ok(()))
        })??;
        Ok(Empty {})
    }

    pub fn describe_stream(&self, input: DescribeStreamInput) -> Result<DescribeStreamOutput> {
        let mut v = Violations::new();
        v.opt_integer("limit", input.limit, &shapes::LIMIT_10000);
        v.opt_string(
            "exclusiveStartShardId",
            input.exclusive_start_shard_id.as_deref(),
            &shapes::SHARD_ID,
        );
        let (s, status) = self.find(&input.stream, v)?;
        let limit = input
            .limit
            .map_or(limits::DESCRIBE_SHARDS_DEFAULT, |n| n as usize);
        let after = input
            .exclusive_start_shard_id
            .as_deref()
            .and_then(model::parse_shard_id);
        // A CREATING stream has no shards yet (kinesalite, as AWS answers).
        let all = if status == StreamStatus::Creating {
            Vec::new()
        } else {
            self.shards(&s)
        };
        let from = after.map_or(0, |a| a as usize + 1);
        let page: Vec<Shard> = all.iter().skip(from).take(limit).cloned().collect();
        let has_more = from + page.len() < all.len();
        Ok(DescribeStreamOutput {
            stream_description: StreamDescription {
                stream_name: s.name.clone(),
                stream_arn: self.arn(&s.name),
                stream_status: status.as_str().to_string(),
                stream_mode_details: mode_details(s.mode),
                shards: page,
                has_more_shards: has_more,
                retention_period_hours: s.retention_hours,
                stream_creation_timestamp: Timestamp::from_ms(s.created_ms),
                enhanced_monitoring: vec![EnhancedMetrics {
                    shard_level_metrics: Vec::new(),
                }],
                encryption_type: "NONE".to_string(),
            },
        })
    }

    pub fn describe_stream_summary(
        &self,
        input: StreamOnlyInput,
    ) -> Result<DescribeStreamSummaryOutput> {
        let (s, status) = self.find(&input.stream, Violations::new())?;
        let open = if status == StreamStatus::Creating {
            0
        } else {
            i64::from(s.shard_count)
        };
        Ok(DescribeStreamSummaryOutput {
            stream_description_summary: StreamDescriptionSummary {
                stream_name: s.name.clone(),
                stream_arn: self.arn(&s.name),
                stream_status: status.as_str().to_string(),
                stream_mode_details: mode_details(s.mode),
                retention_period_hours: s.retention_hours,
                stream_creation_timestamp: Timestamp::from_ms(s.created_ms),
                enhanced_monitoring: vec![EnhancedMetrics {
                    shard_level_metrics: Vec::new(),
                }],
                encryption_type: "NONE".to_string(),
                open_shard_count: open,
                consumer_count: 0,
            },
        })
    }

    pub fn list_streams(&self, input: ListStreamsInput) -> Result<ListStreamsOutput> {
        let mut v = Violations::new();
        v.opt_integer("limit", input.limit, &shapes::LIMIT_10000);
        v.opt_string(
            "exclusiveStartStreamName",
            input.exclusive_start_stream_name.as_deref(),
            &shapes::STREAM_NAME,
        );
        v.finish()?;
        // AWS: "The default value is 100. If you specify a value greater than 100, at most 100
        // results are returned." (ListStreams, API reference).
        let limit = input
            .limit
            .map_or(limits::LIST_STREAMS_DEFAULT, |n| n as usize)
            .min(limits::LIST_STREAMS_DEFAULT);
        let after = match &input.next_token {
            Some(t) => Some(decode_token(t).ok_or_else(invalid_token)?),
            None => input.exclusive_start_stream_name.clone(),
        };
        let rows = self
            .inner
            .db
            .read(|c| storage::streams(c, after.as_deref()))?;
        let live: Vec<(StreamRow, StreamStatus)> = rows
            .into_iter()
            .filter_map(|s| self.status(&s).map(|st| (s, st)))
            .collect();
        let page = &live[..live.len().min(limit)];
        let has_more = live.len() > page.len();
        Ok(ListStreamsOutput {
            stream_names: page.iter().map(|(s, _)| s.name.clone()).collect(),
            has_more_streams: has_more,
            next_token: match page.last() {
                Some((s, _)) if has_more => Some(encode_token(&s.name)),
                _ => None,
            },
            stream_summaries: page
                .iter()
                .map(|(s, st)| StreamSummary {
                    stream_name: s.name.clone(),
                    stream_arn: self.arn(&s.name),
                    stream_status: st.as_str().to_string(),
                    stream_mode_details: mode_details(s.mode),
                    stream_creation_timestamp: Timestamp::from_ms(s.created_ms),
                })
                .collect(),
        })
    }

    pub fn list_shards(&self, input: ListShardsInput) -> Result<ListShardsOutput> {
        let mut v = Violations::new();
        v.opt_integer("maxResults", input.max_results, &shapes::LIMIT_10000);
        v.opt_string(
            "exclusiveStartShardId",
            input.exclusive_start_shard_id.as_deref(),
            &shapes::SHARD_ID,
        );
        if let Some(f) = &input.shard_filter {
            match &f.kind {
                Some(k) => v.string("shardFilter.type", k, &shapes::SHARD_FILTER_TYPE),
                None => v.push(None, "shardFilter.type", Constraint::NotNull),
            }
        }
        let named = input.stream.stream_name.is_some() || input.stream.stream_arn.is_some();
        // kinesalite's listShards, tested against AWS.
        let (stream_ref, mut after) = match (&input.next_token, named) {
            (None, false) => {
                v.finish()?;
                return Err(Error::invalid_argument(
                    "Either NextToken or StreamName should be provided.",
                ));
            }
            (Some(_), true) => {
                v.finish()?;
                return Err(Error::invalid_argument(
                    "NextToken and StreamName cannot be provided together.",
                ));
            }
            (Some(t), false) => {
                let (name, after) = decode_shard_token(t).ok_or_else(invalid_token)?;
                (
                    StreamRef {
                        stream_name: Some(name),
                        stream_arn: None,
                    },
                    Some(after),
                )
            }
            (None, true) => (
                input.stream.clone(),
                input
                    .exclusive_start_shard_id
                    .as_deref()
                    .and_then(model::parse_shard_id),
            ),
        };
        if let Some(f) = &input.shard_filter {
            if f.kind.as_deref() == Some("AFTER_SHARD_ID") {
                match f.shard_id.as_deref() {
                    Some(id) => after = model::parse_shard_id(id).or(after),
                    // No AWS-recorded answer; Hako's wording.
                    None => {
                        return Err(Error::invalid_argument(
                            "ShardFilter of type AFTER_SHARD_ID needs a ShardId.",
                        ))
                    }
                }
            }
        }
        let (s, status) = self.find(&stream_ref, v)?;
        let all = if status == StreamStatus::Creating {
            Vec::new()
        } else {
            self.shards(&s)
        };
        let limit = input
            .max_results
            .map_or(limits::LIST_SHARDS_DEFAULT, |n| n as usize);
        let from = after.map_or(0, |a| a as usize + 1);
        let page: Vec<Shard> = all.iter().skip(from).take(limit).cloned().collect();
        let more = from + page.len() < all.len();
        let next_token = more.then(|| encode_shard_token(&s.name, (from + page.len() - 1) as u32));
        Ok(ListShardsOutput {
            shards: page,
            next_token,
        })
    }

    pub fn delete_stream(&self, input: DeleteStreamInput) -> Result<Empty> {
        let (s, status) = self.find(&input.stream, Violations::new())?;
        if status == StreamStatus::Deleting {
            return Ok(Empty {});
        }
        let now = self.now();
        self.inner
            .db
            .write(|tx| storage::mark_deleted(tx, s.id, now))?;
        self.wake(&s.name);
        Ok(Empty {})
    }

    pub fn increase_retention(&self, input: RetentionInput) -> Result<Empty> {
        self.change_retention(input, true)
    }

    pub fn decrease_retention(&self, input: RetentionInput) -> Result<Empty> {
        self.change_retention(input, false)
    }

    fn change_retention(&self, input: RetentionInput, increase: bool) -> Result<Empty> {
        let mut v = Violations::new();
        let hours = v.required("retentionPeriodHours", input.retention_period_hours);
        let (s, status) = self.find(&input.stream, v)?;
        let hours = hours.unwrap_or_default();
        if status != StreamStatus::Active {
            return Err(Error::stream_not_active(
                &s.name,
                self.account(),
                status.as_str(),
            ));
        }
        // kinesalite's increase/decreaseStreamRetentionPeriod (tested against AWS); the upper
        // bound's wording as moto has it.
        if hours < limits::MIN_RETENTION_HOURS {
            return Err(Error::invalid_argument(format!(
                "Minimum allowed retention period is 24 hours. Requested retention period \
                 ({hours} hours) is too short."
            )));
        }
        if hours > limits::MAX_RETENTION_HOURS {
            return Err(Error::invalid_argument(format!(
                "Maximum allowed retention period is 8760 hours. Requested retention period \
                 ({hours} hours) is too long."
            )));
        }
        if increase && hours < s.retention_hours {
            return Err(Error::invalid_argument(format!(
                "Requested retention period ({hours} hours) for stream {} can not be shorter \
                 than existing retention period ({} hours). Use DecreaseRetentionPeriod API.",
                s.name, s.retention_hours
            )));
        }
        if !increase && hours > s.retention_hours {
            return Err(Error::invalid_argument(format!(
                "Requested retention period ({hours} hours) for stream {} can not be longer \
                 than existing retention period ({} hours). Use IncreaseRetentionPeriod API.",
                s.name, s.retention_hours
            )));
        }
        self.inner
            .db
            .write(|tx| storage::set_retention(tx, s.id, hours))?;
        Ok(Empty {})
    }

    /// A stream's shards as the API shows them.
    pub(crate) fn shards(&self, s: &StreamRow) -> Vec<Shard> {
        model::hash_ranges(s.shard_count)
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| Shard {
                shard_id: model::shard_id(i as u32),
                hash_key_range: HashKeyRange {
                    starting_hash_key: start.to_string(),
                    ending_hash_key: end.to_string(),
                },
                sequence_number_range: SequenceNumberRange {
                    starting_sequence_number: SequenceNumber {
                        shard_created_secs: (s.created_ms / 1000) as u64,
                        shard: i as u32,
                        index: 0,
                        arrival_secs: (s.created_ms / 1000) as u64,
                    }
                    .render(),
                    ending_sequence_number: None,
                },
            })
            .collect()
    }
}

fn mode_details(m: StreamMode) -> StreamModeDetails {
    StreamModeDetails {
        stream_mode: m.as_str().to_string(),
    }
}

/// The tag map of CreateStream / AddTagsToStream against botocore's `TagMap`.
pub(crate) fn check_tags(v: &mut Violations, tags: &std::collections::BTreeMap<String, String>) {
    for (k, val) in tags {
        if !shapes::TAG_KEY.broken_by_str(k).is_empty() {
            v.push(Some(k), "tags", Constraint::MapKeys(&shapes::TAG_KEY));
        }
        if !shapes::TAG_VALUE.broken_by_str(val).is_empty() {
            v.push(Some(val), "tags", Constraint::MapValues(&shapes::TAG_VALUE));
        }
    }
}

/// kinesalite's account shard limit answer (tested against AWS).
fn shard_limit(account: &str, region: &str, current: u64, asked: u32) -> Error {
    Error::new(
        Code::LimitExceeded,
        format!(
            "This request would exceed the shard limit for the account {account} in {region}. \
             Current shard count for the account: {current}. Limit: {}. Number of additional \
             shards that would have resulted from this request: {asked}. Refer to the AWS \
             Service Limits page (http://docs.aws.amazon.com/general/latest/gr/\
             aws_service_limits.html) for current limits and how to request higher limits.",
            limits::ACCOUNT_SHARD_LIMIT
        ),
    )
}

/// No AWS-recorded answer for a token Hako did not give; Hako's wording.
fn invalid_token() -> Error {
    Error::invalid_argument("Invalid NextToken.")
}

fn encode_token(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes())
}

fn decode_token(t: &str) -> Option<String> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()?;
    String::from_utf8(b).ok()
}

fn encode_shard_token(stream: &str, last_shard: u32) -> String {
    encode_token(&format!("{last_shard}/{stream}"))
}

fn decode_shard_token(t: &str) -> Option<(String, u32)> {
    let s = decode_token(t)?;
    let (n, name) = s.split_once('/')?;
    Some((name.to_string(), n.parse().ok()?))
}
