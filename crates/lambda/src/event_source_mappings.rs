//! Create/Get/List/Update/DeleteEventSourceMapping, tags on a mapping's ARN, and what the
//! pollers' supervisor (`hako-events`) needs: every mapping, a wake-up on every change, the
//! settling of transient states and the mapping's `LastProcessingResult`.
//!
//! Whether a queue or stream exists is asked of [`EventSources`], which the binary provides
//! (this crate knows neither SQS nor Kinesis). Shapes and validation: `hako_model::esm`.
//!
//! States: a user's change writes the transient state AWS shows (`Creating`, `Enabling`,
//! `Disabling`, `Updating`, `Deleting`) with a new revision and wakes the supervisor, which
//! starts or stops the mapping's poller and then settles the state (`Enabled`, `Disabled`) or,
//! for `Deleting`, removes the mapping. A deleted function's mappings stay, as on AWS.

use std::sync::Arc;

use hako_model::clock::epoch_seconds;
use hako_model::esm::{
    self, EsmRecord, EsmRequest, EsmState, EventSourceMappingConfiguration,
    ListEventSourceMappingsResponse, SourceKind,
};
use hako_model::{alias, Error, FunctionRef};

use crate::versions::{page, Paging};
use crate::Lambda;

/// A queue as a mapping needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSource {
    pub fifo: bool,
}

/// The queues and streams a mapping may name (the binary answers from its SQS and Kinesis).
pub trait EventSources: Send + Sync + std::fmt::Debug {
    /// The queue `arn` names, if it exists.
    fn queue(&self, arn: &str) -> Option<QueueSource>;
    /// Whether the stream `arn` names exists.
    fn stream_exists(&self, arn: &str) -> bool;
    /// Whether `arn` names a queue or stream outside Hako that a configured source serves (then
    /// it may be of another region or account).
    fn external(&self, arn: &str) -> bool {
        let _ = arn;
        false
    }
}

impl Lambda {
    /// Tells the application layer where queues and streams are (once, at start).
    pub fn set_event_sources(&self, sources: Arc<dyn EventSources>) {
        // A second call keeps the first: the sources of one server never change.
        let _ = self.event_sources.set(sources);
    }

    /// Signalled on every change to a mapping (the supervisor waits on it).
    pub fn esm_changes(&self) -> &tokio::sync::Notify {
        &self.esm_changed
    }

    fn esm_config(&self, r: &EsmRecord) -> EventSourceMappingConfiguration {
        EventSourceMappingConfiguration::from_record(r, &self.region)
    }

    /// The function (and qualifier) a mapping invokes must exist: AWS's "Function does not
    /// exist" otherwise (test_event_source_mapping_exceptions: `create_unknown_params`).
    fn require_mapped_function(&self, name: &str, qualifier: Option<&str>) -> Result<(), Error> {
        let exists = match qualifier {
            None | Some("$LATEST") => self.db.get_function(name, "$LATEST")?.is_some(),
            Some(v) if alias::is_version_number(v) => self.db.get_function(name, v)?.is_some(),
            Some(a) => {
                self.db.get_function(name, "$LATEST")?.is_some()
                    && self.db.get_alias(name, a)?.is_some()
            }
        };
        if !exists {
            return Err(esm::function_does_not_exist());
        }
        Ok(())
    }

    /// The source must exist (and a FIFO queue takes batches of at most 10).
    fn require_source(&self, rec: &EsmRecord) -> Result<(), Error> {
        let sources = self.event_sources.get();
        match rec.source {
            SourceKind::Sqs => {
                let q = sources
                    .and_then(|s| s.queue(&rec.event_source_arn))
                    .ok_or_else(esm::queue_does_not_exist)?;
                if q.fifo {
                    esm::check_fifo_batch(rec)?;
                }
            }
            SourceKind::Kinesis => {
                if !sources.is_some_and(|s| s.stream_exists(&rec.event_source_arn)) {
                    return Err(esm::stream_not_found(&rec.event_source_arn));
                }
            }
        }
        Ok(())
    }

    /// One mapping per function and source.
    fn refuse_duplicate(&self, rec: &EsmRecord, function_as_given: &str) -> Result<(), Error> {
        let arn = rec.function_arn(&self.region);
        let all = self.db.list_event_source_mappings()?;
        if let Some(other) = all.iter().find(|m| {
            m.uuid != rec.uuid
                && m.event_source_arn == rec.event_source_arn
                && m.function_arn(&self.region) == arn
        }) {
            return Err(esm::duplicate(
                rec.source,
                &rec.event_source_arn,
                function_as_given,
                &other.uuid,
            ));
        }
        Ok(())
    }

    fn mapping(&self, uuid: &str) -> Result<EsmRecord, Error> {
        esm::check_uuid(uuid)?;
        self.db
            .get_event_source_mapping(uuid)?
            .ok_or_else(esm::mapping_not_found)
    }

    /// CreateEventSourceMapping.
    pub async fn create_event_source_mapping(
        &self,
        req: EsmRequest,
    ) -> Result<EventSourceMappingConfiguration, Error> {
        let now = epoch_seconds(self.clock.now_ms());
        let uuid = uuid::Uuid::new_v4().to_string();
        let mut rec = esm::new_record(&req, &self.region, uuid, now)?;
        let external = self
            .event_sources
            .get()
            .is_some_and(|s| s.external(&rec.event_source_arn));
        if !external {
            esm::require_own_source(&rec.event_source_arn, &self.region)?;
        }
        rec.revision = crate::revision();
        if !rec.enabled {
            // Created disabled: nothing to start (test_fifo_message_group_parallelism's
            // create_esm_disabled shows `Disabled` at once).
            rec.state = EsmState::Disabled;
        }
        let _w = self.writes.lock().await;
        self.require_mapped_function(&rec.function_name, rec.qualifier.as_deref())?;
        self.require_source(&rec)?;
        self.refuse_duplicate(&rec, req.function_name.as_deref().unwrap_or_default())?;
        self.db.insert_event_source_mapping(&rec)?;
        self.esm_changed.notify_one();
        tracing::info!(uuid = %rec.uuid, function = %rec.function_name, source = %rec.event_source_arn, "event source mapping created");
        Ok(self.esm_config(&rec))
    }

    /// GetEventSourceMapping.
    pub fn get_event_source_mapping(
        &self,
        uuid: &str,
    ) -> Result<EventSourceMappingConfiguration, Error> {
        Ok(self.esm_config(&self.mapping(uuid)?))
    }

    /// ListEventSourceMappings, by function and/or by source (neither needs to exist).
    pub fn list_event_source_mappings(
        &self,
        function: Option<&str>,
        source: Option<&str>,
        paging: &Paging,
    ) -> Result<ListEventSourceMappingsResponse, Error> {
        let mut v = hako_model::validation::Violations::new();
        v.opt_string("eventSourceArn", source, &esm::EVENT_SOURCE_ARN);
        v.opt_string("functionName", function, &esm::NAMESPACED_FUNCTION_NAME);
        v.finish()?;
        let f = function
            .map(|f| FunctionRef::parse(f, &self.region))
            .transpose()?;
        let all: Vec<EsmRecord> = self
            .db
            .list_event_source_mappings()?
            .into_iter()
            .filter(|m| source.is_none_or(|s| m.event_source_arn == s))
            .filter(|m| {
                f.as_ref().is_none_or(|f| {
                    m.function_name == f.name
                        && (f.qualifier.is_none() || f.qualifier == m.qualifier)
                })
            })
            .collect();
        let (items, next_marker) = page(&all, |m| m.uuid.clone(), paging)?;
        Ok(ListEventSourceMappingsResponse {
            next_marker,
            event_source_mappings: items.into_iter().map(|m| self.esm_config(m)).collect(),
        })
    }

    /// UpdateEventSourceMapping.
    pub async fn update_event_source_mapping(
        &self,
        uuid: &str,
        req: EsmRequest,
    ) -> Result<EventSourceMappingConfiguration, Error> {
        esm::check_uuid(uuid)?;
        esm::check_update(&req)?;
        let _w = self.writes.lock().await;
        let mut rec = self.mapping(uuid)?;
        let was_enabled = rec.enabled;
        if let Some(function) = &req.function_name {
            let f = FunctionRef::parse(function, &self.region)
                .map_err(|_| esm::function_does_not_exist())?;
            self.require_mapped_function(&f.name, f.qualifier.as_deref())?;
            rec.function_name = f.name;
            rec.qualifier = f.qualifier;
            self.refuse_duplicate(&rec, function)?;
        }
        esm::apply(&mut rec, &req)?;
        if rec.source == SourceKind::Sqs {
            if let Some(q) = self
                .event_sources
                .get()
                .and_then(|s| s.queue(&rec.event_source_arn))
            {
                if q.fifo {
                    esm::check_fifo_batch(&rec)?;
                }
            }
        }
        rec.state = match (was_enabled, rec.enabled) {
            (false, true) => EsmState::Enabling,
            (true, false) => EsmState::Disabling,
            _ => EsmState::Updating,
        };
        rec.state_transition_reason = rec.source.user_reason().to_string();
        rec.last_modified = epoch_seconds(self.clock.now_ms());
        rec.revision = crate::revision();
        let stored = rec.clone();
        self.db
            .update_event_source_mapping(uuid, move |m| {
                // The processing result is the pollers': keep theirs.
                let result = m.last_processing_result.take();
                *m = stored;
                m.last_processing_result = result;
                Ok(())
            })?
            .ok_or_else(esm::mapping_not_found)?;
        self.esm_changed.notify_one();
        tracing::info!(uuid = %uuid, state = rec.state.as_str(), "event source mapping updated");
        Ok(self.esm_config(&rec))
    }

    /// DeleteEventSourceMapping: answered `Deleting`; the supervisor stops its poller and
    /// removes it.
    pub async fn delete_event_source_mapping(
        &self,
        uuid: &str,
    ) -> Result<EventSourceMappingConfiguration, Error> {
        esm::check_uuid(uuid)?;
        let _w = self.writes.lock().await;
        let revision = crate::revision();
        let rec = self
            .db
            .update_event_source_mapping(uuid, |m| {
                m.state = EsmState::Deleting;
                m.revision = revision;
                Ok(())
            })?
            .ok_or_else(esm::mapping_not_found)?;
        self.esm_changed.notify_one();
        tracing::info!(uuid = %uuid, "event source mapping deleting");
        Ok(self.esm_config(&rec))
    }

    /// Every mapping (the supervisor's view).
    pub fn event_source_mappings(&self) -> Result<Vec<EsmRecord>, Error> {
        self.db.list_event_source_mappings()
    }

    /// The supervisor did what the mapping's state at `revision` asked: its transient state
    /// settles (`Enabled`/`Disabled`), or, when it was being deleted, it goes. Nothing happens
    /// when a user changed it since (a newer revision awaits the supervisor).
    pub fn settle_event_source_mapping(&self, uuid: &str, revision: &str) -> Result<(), Error> {
        let mut deleting = false;
        self.db.update_event_source_mapping(uuid, |m| {
            if m.revision == revision {
                deleting = m.state == EsmState::Deleting;
                let settled = m.state.settled(m.enabled);
                if settled != m.state {
                    m.state = settled;
                    m.last_modified = epoch_seconds(self.clock.now_ms());
                }
            }
            Ok(())
        })?;
        if deleting {
            self.db.delete_event_source_mapping(uuid)?;
            tracing::info!(uuid = %uuid, "event source mapping deleted");
        }
        Ok(())
    }

    /// Records a mapping's `LastProcessingResult` (the pollers call it when it changes).
    pub fn set_last_processing_result(&self, uuid: &str, result: &str) -> Result<(), Error> {
        self.db.update_event_source_mapping(uuid, |m| {
            m.last_processing_result = Some(result.to_string());
            Ok(())
        })?;
        Ok(())
    }

    /// The mapping a taggable resource ARN names (`...:event-source-mapping:<uuid>`).
    pub(crate) fn tagged_mapping(&self, arn: &str, uuid: &str) -> Result<EsmRecord, Error> {
        let ours = esm::mapping_arn(&self.region, uuid) == arn;
        match self.db.get_event_source_mapping(uuid)? {
            Some(m) if ours => Ok(m),
            _ => Err(esm::tagged_mapping_not_found(arn)),
        }
    }

    /// Changes a mapping's tags.
    pub(crate) fn update_mapping_tags<F>(&self, uuid: &str, f: F) -> Result<(), Error>
    where
        F: FnOnce(&mut std::collections::BTreeMap<String, String>) -> Result<(), Error>,
    {
        self.db
            .update_event_source_mapping(uuid, |m| f(&mut m.tags))?
            .ok_or_else(esm::mapping_not_found)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hako_model::alias::TagResourceRequest;
    use hako_model::esm::{
        DestinationConfig, EsmRequest, EsmState, Filter, FilterCriteria, ScalingConfig,
    };
    use hako_model::ErrorKind;

    use super::{EventSources, QueueSource};
    use crate::testing::{create, fixture, Fixture};
    use crate::Paging;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:q";
    const FIFO: &str = "arn:aws:sqs:us-east-1:123456789012:q.fifo";
    const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

    #[derive(Debug)]
    struct Sources;
    impl EventSources for Sources {
        fn queue(&self, arn: &str) -> Option<QueueSource> {
            match arn {
                QUEUE => Some(QueueSource { fifo: false }),
                FIFO => Some(QueueSource { fifo: true }),
                _ => None,
            }
        }
        fn stream_exists(&self, arn: &str) -> bool {
            arn == STREAM
        }
    }

    async fn setup() -> Fixture {
        let f = fixture().await;
        f.lambda.set_event_sources(Arc::new(Sources));
        create(&f, "f", "one").await;
        f
    }

    fn req(function: &str, source: &str) -> EsmRequest {
        EsmRequest {
            function_name: Some(function.into()),
            event_source_arn: Some(source.into()),
            ..EsmRequest::default()
        }
    }

    #[tokio::test]
    async fn lifecycle_moves_through_awss_states() {
        let f = setup().await;
        let l = &f.lambda;
        let c = l
            .create_event_source_mapping(req("f", QUEUE))
            .await
            .unwrap();
        assert_eq!(c.state, "Creating");
        assert_eq!(c.batch_size, 10);
        let rec = l.db.get_event_source_mapping(&c.uuid).unwrap().unwrap();
        // The supervisor settles the revision it acted on.
        l.settle_event_source_mapping(&c.uuid, &rec.revision)
            .unwrap();
        assert_eq!(
            l.get_event_source_mapping(&c.uuid).unwrap().state,
            "Enabled"
        );
        let disable = EsmRequest {
            enabled: Some(false),
            ..EsmRequest::default()
        };
        let u = l
            .update_event_source_mapping(&c.uuid, disable)
            .await
            .unwrap();
        assert_eq!(u.state, "Disabling");
        // A stale settle (the older revision) changes nothing.
        l.settle_event_source_mapping(&c.uuid, &rec.revision)
            .unwrap();
        assert_eq!(
            l.get_event_source_mapping(&c.uuid).unwrap().state,
            "Disabling"
        );
        let rec = l.db.get_event_source_mapping(&c.uuid).unwrap().unwrap();
        l.settle_event_source_mapping(&c.uuid, &rec.revision)
            .unwrap();
        assert_eq!(
            l.get_event_source_mapping(&c.uuid).unwrap().state,
            "Disabled"
        );
        let d = l.delete_event_source_mapping(&c.uuid).await.unwrap();
        assert_eq!(d.state, "Deleting");
        let rec = l.db.get_event_source_mapping(&c.uuid).unwrap().unwrap();
        assert_eq!(rec.state, EsmState::Deleting);
        l.settle_event_source_mapping(&c.uuid, &rec.revision)
            .unwrap();
        let e = l.get_event_source_mapping(&c.uuid).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::ResourceNotFound,
                "The resource you requested does not exist."
            )
        );
    }

    /// LocalStack's AWS-recorded snapshots (test_lambda_api's test_event_source_mapping_exceptions,
    /// test_lambda_integration_sqs's and _kinesis's duplicates and unknown sources).
    #[tokio::test]
    async fn refusals_that_need_state_are_awss() {
        let f = setup().await;
        let l = &f.lambda;
        let e = l
            .create_event_source_mapping(req("doesnotexist", QUEUE))
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::InvalidParameterValue, "Function does not exist")
        );
        let e = l
            .create_event_source_mapping(req("f", "arn:aws:sqs:us-east-1:123456789012:nope"))
            .await
            .unwrap_err();
        assert_eq!(e.message, "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.");
        let mut k = req("f", "arn:aws:kinesis:us-east-1:123456789012:stream/nope");
        k.starting_position = Some("LATEST".into());
        let e = l.create_event_source_mapping(k).await.unwrap_err();
        assert_eq!(
            e.message,
            "Stream not found: arn:aws:kinesis:us-east-1:123456789012:stream/nope"
        );
        let first = l
            .create_event_source_mapping(req("f", QUEUE))
            .await
            .unwrap();
        let e = l
            .create_event_source_mapping(req("f", QUEUE))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::ResourceConflict);
        assert_eq!(e.message, format!("An event source mapping with SQS arn (\" {QUEUE} \") and function (\" f \") already exists. Please update or delete the existing mapping with UUID {}", first.uuid));
        let mut k = req("f", STREAM);
        k.starting_position = Some("TRIM_HORIZON".into());
        let s = l.create_event_source_mapping(k.clone()).await.unwrap();
        assert_eq!(s.batch_size, 100);
        let e = l.create_event_source_mapping(k).await.unwrap_err();
        assert_eq!(e.message, format!("The event source arn (\" {STREAM} \") and function (\" f \") provided mapping already exists. Please update or delete the existing mapping with UUID {}", s.uuid));
        // test_event_source_mapping_default_batch_size: invalid-update-event-source-mapping.
        let big = EsmRequest {
            batch_size: Some(20),
            ..EsmRequest::default()
        };
        let e = l
            .update_event_source_mapping(&first.uuid, big)
            .await
            .unwrap_err();
        assert_eq!(e.message, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10");
        assert_eq!(
            l.get_event_source_mapping(&first.uuid).unwrap().batch_size,
            10
        );
        // A FIFO queue takes at most 10.
        let mut fifo = req("f", FIFO);
        fifo.batch_size = Some(20);
        fifo.maximum_batching_window_in_seconds = Some(1);
        let e = l.create_event_source_mapping(fifo).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
        for op in ["get", "update", "delete"] {
            let uuid = "00000000-0000-0000-0000-000000000000";
            let e = match op {
                "get" => l.get_event_source_mapping(uuid).unwrap_err(),
                "update" => l
                    .update_event_source_mapping(uuid, EsmRequest::default())
                    .await
                    .unwrap_err(),
                _ => l.delete_event_source_mapping(uuid).await.unwrap_err(),
            };
            assert_eq!(
                e.message, "The resource you requested does not exist.",
                "{op}"
            );
        }
    }

    #[tokio::test]
    async fn lists_by_function_and_by_source_and_pages() {
        let f = setup().await;
        let l = &f.lambda;
        create(&f, "g", "two").await;
        let a = l
            .create_event_source_mapping(req("f", QUEUE))
            .await
            .unwrap();
        let b = l
            .create_event_source_mapping(req("g", QUEUE))
            .await
            .unwrap();
        let mut k = req("f", STREAM);
        k.starting_position = Some("LATEST".into());
        l.create_event_source_mapping(k).await.unwrap();
        let all = Paging::default();
        assert_eq!(
            l.list_event_source_mappings(None, None, &all)
                .unwrap()
                .event_source_mappings
                .len(),
            3
        );
        let by_f = l.list_event_source_mappings(Some("f"), None, &all).unwrap();
        assert_eq!(by_f.event_source_mappings.len(), 2);
        let by_q = l
            .list_event_source_mappings(None, Some(QUEUE), &all)
            .unwrap();
        let mut uuids: Vec<String> = by_q
            .event_source_mappings
            .iter()
            .map(|m| m.uuid.clone())
            .collect();
        uuids.sort();
        let mut want = vec![a.uuid.clone(), b.uuid.clone()];
        want.sort();
        assert_eq!(uuids, want);
        let both = l
            .list_event_source_mappings(Some("g"), Some(QUEUE), &all)
            .unwrap();
        assert_eq!(both.event_source_mappings[0].uuid, b.uuid);
        // Neither filter needs to exist (test_event_source_mapping_exceptions).
        assert!(l
            .list_event_source_mappings(Some("doesnotexist"), None, &all)
            .unwrap()
            .event_source_mappings
            .is_empty());
        let one = Paging {
            marker: None,
            max_items: Some("1".into()),
        };
        let p = l.list_event_source_mappings(None, None, &one).unwrap();
        assert_eq!(p.event_source_mappings.len(), 1);
        assert!(p.next_marker.is_some());
    }

    #[tokio::test]
    async fn update_changes_what_it_names_and_keeps_the_rest() {
        let f = setup().await;
        let l = &f.lambda;
        create(&f, "g", "two").await;
        let mut r = req("f", QUEUE);
        r.filter_criteria = Some(FilterCriteria {
            filters: Some(vec![Filter {
                pattern: Some("{\"body\": {\"a\": [\"1\"]}}".into()),
            }]),
        });
        r.scaling_config = Some(ScalingConfig {
            maximum_concurrency: Some(5),
        });
        r.function_response_types = Some(vec!["ReportBatchItemFailures".into()]);
        let c = l.create_event_source_mapping(r).await.unwrap();
        assert_eq!(c.function_response_types, ["ReportBatchItemFailures"]);
        let u = EsmRequest {
            function_name: Some("g".into()),
            batch_size: Some(100),
            maximum_batching_window_in_seconds: Some(2),
            ..EsmRequest::default()
        };
        let c = l.update_event_source_mapping(&c.uuid, u).await.unwrap();
        assert_eq!(c.state, "Updating");
        assert_eq!(c.batch_size, 100);
        assert!(c.function_arn.ends_with(":function:g"));
        assert_eq!(c.scaling_config.unwrap().maximum_concurrency, Some(5));
        assert!(c.filter_criteria.is_some());
        // SQS has no destinations.
        let d = EsmRequest {
            destination_config: Some(DestinationConfig::default()),
            ..EsmRequest::default()
        };
        assert!(l.update_event_source_mapping(&c.uuid, d).await.is_ok());
    }

    #[tokio::test]
    async fn mappings_outlive_their_function_and_carry_tags() {
        let f = setup().await;
        let l = &f.lambda;
        let mut r = req("f", QUEUE);
        r.tags = Some([("a".to_string(), "1".to_string())].into());
        let c = l.create_event_source_mapping(r).await.unwrap();
        let arn = c.event_source_mapping_arn.clone();
        assert_eq!(l.list_tags(&arn).unwrap().tags["a"], "1");
        let tag = TagResourceRequest {
            tags: Some([("b".to_string(), "2".to_string())].into()),
        };
        l.tag_resource(&arn, tag).await.unwrap();
        l.untag_resource(&arn, &["a".into()]).await.unwrap();
        let tags = l.list_tags(&arn).unwrap().tags;
        assert_eq!(tags.len(), 1);
        assert_eq!(tags["b"], "2");
        l.delete_function("f", None).await.unwrap();
        // AWS keeps the mapping (test_event_source_mapping_lifecycle_delete_function).
        assert_eq!(l.get_event_source_mapping(&c.uuid).unwrap().uuid, c.uuid);
        let gone = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:00000000-0000-0000-0000-000000000000";
        let e = l.list_tags(gone).unwrap_err();
        assert_eq!(
            (e.kind, e.message),
            (
                ErrorKind::ResourceNotFound,
                format!("Event source mapping not found: {gone}")
            )
        );
    }
}
