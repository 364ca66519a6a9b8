//! Kinesis's metrics, named after AWS's stream-level CloudWatch metrics (namespace AWS/Kinesis,
//! dimension StreamName), rendered for the binary's `GET /metrics`.
//!
//! # Naming spec
//!
//! `hako_kinesis_<AWS metric name in snake_case, its dot an underscore>[_<unit>]`, counters with
//! the `_total` suffix the encoder adds; one label, `stream` (AWS's StreamName dimension):
//!
//! | metric | type | AWS metric |
//! |---|---|---|
//! | `hako_kinesis_incoming_records_total` | counter | IncomingRecords |
//! | `hako_kinesis_incoming_bytes_total` | counter | IncomingBytes |
//! | `hako_kinesis_put_records_success_total` | counter | PutRecords.Success (requests) |
//! | `hako_kinesis_get_records_success_total` | counter | GetRecords.Success (requests) |
//! | `hako_kinesis_get_records_records_total` | counter | GetRecords.Records (OutgoingRecords) |
//! | `hako_kinesis_get_records_iterator_age_milliseconds` | gauge | GetRecords.IteratorAgeMilliseconds (of the last call: the age of its last record, 0 when it read none) |
//! | `hako_kinesis_stream_records` | gauge | (Hako's: records retained, read when rendered) |
//!
//! # Cardinality
//!
//! One series per metric and stream written or read since the start; a deleted stream's series
//! stay (counters keep their history) until the next start.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    stream: String,
}

/// The counts of one stream, read from its database when metrics are rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCounts {
    pub name: String,
    pub status: String,
    pub mode: String,
    pub shards: u32,
    pub retention_hours: i64,
    pub records: u64,
    pub bytes: u64,
    pub created_ms: i64,
}

/// Kinesis's metric families. Recording is an atomic add after a label lookup.
#[derive(Debug, Default)]
pub struct KinesisMetrics {
    incoming_records: Family<StreamLabels, Counter>,
    incoming_bytes: Family<StreamLabels, Counter>,
    put_success: Family<StreamLabels, Counter>,
    get_success: Family<StreamLabels, Counter>,
    get_records: Family<StreamLabels, Counter>,
    iterator_age: Family<StreamLabels, Gauge>,
}

fn labels(stream: &str) -> StreamLabels {
    StreamLabels {
        stream: stream.to_string(),
    }
}

impl KinesisMetrics {
    /// A committed PutRecord(s) of `records` records of `bytes` bytes (data and keys).
    pub(crate) fn incoming(&self, stream: &str, records: u64, bytes: u64) {
        let l = labels(stream);
        self.incoming_records.get_or_create(&l).inc_by(records);
        self.incoming_bytes.get_or_create(&l).inc_by(bytes);
        self.put_success.get_or_create(&l).inc();
    }

    /// A GetRecords that returned `records`, the last of which was `age_ms` old.
    pub(crate) fn read(&self, stream: &str, records: u64, age_ms: i64) {
        let l = labels(stream);
        self.get_success.get_or_create(&l).inc();
        self.get_records.get_or_create(&l).inc_by(records);
        self.iterator_age.get_or_create(&l).set(age_ms);
    }

    /// The OpenMetrics text of these metrics and of `streams`' counts (ends with `# EOF`).
    pub fn render(&self, streams: &[StreamCounts]) -> String {
        let mut r = Registry::default();
        r.register(
            "hako_kinesis_incoming_records",
            "Records stored by PutRecord(s) (AWS: IncomingRecords)",
            self.incoming_records.clone(),
        );
        r.register(
            "hako_kinesis_incoming_bytes",
            "Bytes (data and partition keys) stored by PutRecord(s) (AWS: IncomingBytes)",
            self.incoming_bytes.clone(),
        );
        r.register(
            "hako_kinesis_put_records_success",
            "Successful PutRecord(s) requests (AWS: PutRecords.Success)",
            self.put_success.clone(),
        );
        r.register(
            "hako_kinesis_get_records_success",
            "Successful GetRecords requests (AWS: GetRecords.Success)",
            self.get_success.clone(),
        );
        r.register(
            "hako_kinesis_get_records_records",
            "Records returned by GetRecords (AWS: GetRecords.Records)",
            self.get_records.clone(),
        );
        r.register(
            "hako_kinesis_get_records_iterator_age_milliseconds",
            "Age of the last record the last GetRecords returned (AWS: \
             GetRecords.IteratorAgeMilliseconds)",
            self.iterator_age.clone(),
        );
        let retained = Family::<StreamLabels, Gauge>::default();
        for s in streams {
            retained
                .get_or_create(&labels(&s.name))
                .set(i64::try_from(s.records).unwrap_or(i64::MAX));
        }
        r.register(
            "hako_kinesis_stream_records",
            "Records a stream retains now",
            retained,
        );
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
            return "# EOF\n".to_string();
        }
        out
    }
}
