//! Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams.

use hako_model::validation::Violations;

use crate::error::{Error, Result};
use crate::model::{self, limits, shapes};
use crate::storage::{self, StreamOrder, StreamRow};
use crate::wire::*;
use crate::Logs;

impl Logs {
    pub(crate) fn check_stream_name(v: &mut Violations, name: Option<&str>) {
        if let Some(n) = v.required("logStreamName", name) {
            v.string("logStreamName", n, &shapes::LOG_STREAM_NAME);
        }
    }

    fn stream_view(&self, group: &str, s: &StreamRow) -> LogStream {
        LogStream {
            log_stream_name: s.name.clone(),
            creation_time: s.created_ms,
            first_event_timestamp: s.first_event_ms,
            last_event_timestamp: s.last_event_ms,
            last_ingestion_time: s.last_ingestion_ms,
            arn: model::stream_arn(
                &self.inner.cfg.region,
                &self.inner.cfg.account_id,
                group,
                &s.name,
            ),
            stored_bytes: s.stored_bytes,
        }
    }

    /// The (group, stream) of a request naming both, which must exist.
    pub(crate) fn find_stream(&self, group: &str, stream: &str) -> Result<(i64, StreamRow)> {
        let g = self.find_group(group)?;
        let s = self
            .inner
            .db
            .read(|c| storage::stream_by_name(c, g.id, stream))?
            .ok_or_else(Error::stream_not_found)?;
        Ok((g.id, s))
    }

    /// The (group, stream) names of a request naming both, checked.
    fn stream_names(&self, i: LogStreamInput) -> Result<(String, String)> {
        let mut v = Violations::new();
        self.check_group_name(&mut v, i.log_group_name.as_deref());
        Self::check_stream_name(&mut v, i.log_stream_name.as_deref());
        v.finish()?;
        let group = i.log_group_name.unwrap_or_default();
        let stream = i.log_stream_name.unwrap_or_default();
        Self::long_name(&group)?;
        Self::long_name(&stream)?;
        Ok((group, stream))
    }

    pub fn create_log_stream(&self, i: LogStreamInput) -> Result<Empty> {
        let (group, stream) = self.stream_names(i)?;
        let g = self.find_group(&group)?;
        let now = self.now();
        self.inner.db.write(|tx| {
            if storage::stream_by_name(tx, g.id, &stream)?.is_some() {
                return Ok(Err(Error::stream_exists()));
            }
            storage::insert_stream(tx, g.id, &stream, now)?;
            Ok(Ok(()))
        })??;
        Ok(Empty {})
    }

    pub fn delete_log_stream(&self, i: LogStreamInput) -> Result<Empty> {
        let (group, stream) = self.stream_names(i)?;
        let (_, s) = self.find_stream(&group, &stream)?;
        self.inner.db.write(|tx| storage::delete_stream(tx, s.id))?;
        self.forget_ids();
        Ok(Empty {})
    }

    pub fn describe_log_streams(
        &self,
        i: DescribeLogStreamsInput,
    ) -> Result<DescribeLogStreamsOutput> {
        let mut v = Violations::new();
        v.opt_string(
            "logStreamNamePrefix",
            i.log_stream_name_prefix.as_deref(),
            &shapes::LOG_STREAM_NAME,
        );
        v.opt_string("orderBy", i.order_by.as_deref(), &shapes::ORDER_BY);
        v.opt_string("nextToken", i.next_token.as_deref(), &shapes::NEXT_TOKEN);
        v.opt_integer("limit", i.limit, &shapes::DESCRIBE_LIMIT);
        v.finish()?;
        let g = self.group_of(
            i.log_group_name.as_deref(),
            i.log_group_identifier.as_deref(),
        )?;
        let order = match i.order_by.as_deref() {
            Some("LastEventTime") => StreamOrder::LastEventTime,
            _ => StreamOrder::Name,
        };
        if order == StreamOrder::LastEventTime && i.log_stream_name_prefix.is_some() {
            // botocore's documentation ("If you order the results by event time, you cannot
            // specify the logStreamNamePrefix parameter"); no AWS-recorded message found,
            // Hako's wording.
            return Err(Error::invalid(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        let descending = i.descending.unwrap_or(false);
        let limit = i.limit.map_or(limits::DESCRIBE_LIMIT, |l| l as usize);
        let after = match &i.next_token {
            Some(t) => match (model::parse_name_token(t), order) {
                (Some((None, name)), StreamOrder::Name) => Some((None, name)),
                (Some((Some(ts), name)), StreamOrder::LastEventTime) => Some((Some(ts), name)),
                _ => return Err(Error::invalid_token()),
            },
            None => None,
        };
        let mut rows = self.inner.db.read(|c| {
            storage::streams_page(
                c,
                g.id,
                order,
                descending,
                i.log_stream_name_prefix.as_deref(),
                after.as_ref().map(|(ts, n)| (*ts, n.as_str())),
                limit + 1,
            )
        })?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_token = if more {
            rows.last().map(|s| match order {
                StreamOrder::Name => model::name_token(None, &s.name),
                StreamOrder::LastEventTime => {
                    model::name_token(Some(s.last_event_ms.unwrap_or(-1)), &s.name)
                }
            })
        } else {
            None
        };
        Ok(DescribeLogStreamsOutput {
            log_streams: rows.iter().map(|s| self.stream_view(&g.name, s)).collect(),
            next_token,
        })
    }
}
