//! The durable asynchronous invocation queue and the event invoke configurations.
//!
//! An `Event` invocation is a row of `async_events`, committed before the caller gets its 202.
//! A worker claims due rows (`running = 1`), runs them, and then deletes the row, or writes it
//! back with its next due time (the events crate commits that before the run's concurrency slot
//! and sandbox take another event). At start, rows left `running` by a Hako that died are due
//! again: only events claimed and not yet started, or in flight at the crash (at-least-once
//! delivery; a finished event's row is gone or waiting); rows waiting for a retry keep their due
//! time and counters. Handing an event's
//! invocation record to a destination function is one transaction: the event's row goes and the
//! destination's row comes, so a crash loses neither.

use hako_model::event_invoke::EventInvokeRecord;
use hako_model::Error;
use rusqlite::{params, OptionalExtension};

use crate::db::{db_err, json_records, Db};

/// An event to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub request_id: String,
    pub function_name: String,
    /// The qualifier the caller used (`None` for an unqualified invoke).
    pub qualifier: Option<String>,
    pub payload: Vec<u8>,
    pub client_context: Option<String>,
    pub trace_id: Option<String>,
    /// When it was accepted, in milliseconds since the epoch.
    pub received_ms: i64,
}

/// A queued event a worker claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: i64,
    pub event: NewEvent,
    /// Function invocations so far.
    pub attempts: u32,
    /// Throttles and system errors so far (the backoff's exponent).
    pub throttles: u32,
    /// The last response (the worker's JSON), for the invocation record.
    pub last_response: Option<String>,
    /// Set when the event is done and only its invocation record remains to deliver (the
    /// worker's JSON).
    pub delivery: Option<String>,
}

const COLUMNS: &str = "id, request_id, function_name, qualifier, payload, client_context, trace_id,
     received_ms, attempts, throttles, last_response, delivery";

fn claimed(r: &rusqlite::Row<'_>) -> rusqlite::Result<Claimed> {
    Ok(Claimed {
        id: r.get(0)?,
        event: NewEvent {
            request_id: r.get(1)?,
            function_name: r.get(2)?,
            qualifier: r.get(3)?,
            payload: r.get(4)?,
            client_context: r.get(5)?,
            trace_id: r.get(6)?,
            received_ms: r.get(7)?,
        },
        attempts: r.get::<_, i64>(8)?.try_into().unwrap_or(0),
        throttles: r.get::<_, i64>(9)?.try_into().unwrap_or(0),
        last_response: r.get(10)?,
        delivery: r.get(11)?,
    })
}

fn insert(conn: &rusqlite::Connection, e: &NewEvent) -> Result<i64, Error> {
    conn.prepare_cached(
        "INSERT INTO async_events (request_id, function_name, qualifier, payload, client_context,
         trace_id, received_ms, due_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.request_id,
            e.function_name,
            e.qualifier,
            e.payload,
            e.client_context,
            e.trace_id,
            e.received_ms
        ])
    })
    .map_err(db_err)?;
    Ok(conn.last_insert_rowid())
}

fn decode_config(json: &str) -> Result<EventInvokeRecord, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::service(format!("corrupt event invoke config: {e}")))
}

fn encode_config(rec: &EventInvokeRecord) -> Result<String, Error> {
    serde_json::to_string(rec)
        .map_err(|e| Error::service(format!("cannot encode event invoke config: {e}")))
}

/// The queue.
impl Db {
    /// Queues an event; it is durable when this returns (committed in the WAL).
    pub fn enqueue_event(&self, e: &NewEvent) -> Result<i64, Error> {
        insert(&self.conn.lock(), e)
    }

    /// At start: events a dead Hako was running are due now; the others keep their due time.
    pub fn recover_events(&self, now_ms: i64) -> Result<usize, Error> {
        self.conn
            .lock()
            .execute(
                "UPDATE async_events SET running = 0, due_ms = MIN(due_ms, ?1) WHERE running = 1",
                params![now_ms],
            )
            .map_err(db_err)
    }

    /// Claims up to `limit` due events, oldest due first.
    pub fn claim_events(&self, now_ms: i64, limit: usize) -> Result<Vec<Claimed>, Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        let rows: Vec<Claimed> = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM async_events WHERE running = 0 AND due_ms <= ?1
                     ORDER BY due_ms, id LIMIT ?2"
                ))
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![now_ms, limit as i64], claimed)
                .map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)?
        };
        {
            let mut upd = tx
                .prepare_cached("UPDATE async_events SET running = 1 WHERE id = ?1")
                .map_err(db_err)?;
            for r in &rows {
                upd.execute(params![r.id]).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(rows)
    }

    /// The earliest due time of the events waiting (not running).
    pub fn next_due_ms(&self) -> Result<Option<i64>, Error> {
        self.conn
            .lock()
            .query_row(
                "SELECT MIN(due_ms) FROM async_events WHERE running = 0",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)
    }

    /// Events queued (waiting or running).
    pub fn queued_events(&self) -> Result<u64, Error> {
        self.conn
            .lock()
            .query_row("SELECT COUNT(*) FROM async_events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(db_err)
    }

    /// Puts a claimed event back, due at `due_ms`, with its new counters.
    pub fn reschedule_event(
        &self,
        id: i64,
        due_ms: i64,
        attempts: u32,
        throttles: u32,
        last_response: Option<&str>,
        delivery: Option<&str>,
    ) -> Result<(), Error> {
        self.conn
            .lock()
            .execute(
                "UPDATE async_events SET running = 0, due_ms = ?2, attempts = ?3, throttles = ?4,
                 last_response = ?5, delivery = ?6 WHERE id = ?1",
                params![
                    id,
                    due_ms,
                    attempts as i64,
                    throttles as i64,
                    last_response,
                    delivery
                ],
            )
            .map(|_| ())
            .map_err(db_err)
    }

    /// Puts a claimed event back as it is stored, due at `due_ms` with `throttles` (after its
    /// worker failed): its counters, last response and pending delivery stay.
    pub fn release_event(&self, id: i64, due_ms: i64, throttles: u32) -> Result<(), Error> {
        self.conn
            .lock()
            .execute(
                "UPDATE async_events SET running = 0, due_ms = ?2, throttles = ?3 WHERE id = ?1",
                params![id, due_ms, throttles as i64],
            )
            .map(|_| ())
            .map_err(db_err)
    }

    /// Records what a claimed event that ended still has to deliver, leaving it claimed: after
    /// a crash it is due again with that delivery, never run again.
    pub fn pend_delivery(&self, id: i64, delivery: &str) -> Result<(), Error> {
        self.conn
            .lock()
            .execute(
                "UPDATE async_events SET delivery = ?2 WHERE id = ?1",
                params![id, delivery],
            )
            .map(|_| ())
            .map_err(db_err)
    }

    /// Removes a finished event; with `then`, queues that event (an invocation record for a
    /// destination function) in the same transaction. Returns `false`, changing nothing, when
    /// `then`'s function (or its qualifier) does not exist.
    pub fn complete_event(&self, id: i64, then: Option<&NewEvent>) -> Result<bool, Error> {
        self.hand_over(id, then, None)
    }

    /// Queues `then` (an invocation record for a destination function) for an ended event that
    /// still owes other deliveries: in the same transaction, the event's `delivery` becomes
    /// `still_owed` (it stays claimed). `false`, changing nothing, as `complete_event`.
    pub fn hand_over_event(
        &self,
        id: i64,
        then: &NewEvent,
        still_owed: &str,
    ) -> Result<bool, Error> {
        self.hand_over(id, Some(then), Some(still_owed))
    }

    fn hand_over(
        &self,
        id: i64,
        then: Option<&NewEvent>,
        still_owed: Option<&str>,
    ) -> Result<bool, Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        if let Some(e) = then {
            let q = e.qualifier.as_deref().unwrap_or("$LATEST");
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM functions WHERE name = ?1 AND version = ?2
                     UNION ALL SELECT 1 FROM aliases WHERE function_name = ?1 AND name = ?2",
                    params![e.function_name, q],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            if exists.is_none() {
                return Ok(false);
            }
            insert(&tx, e)?;
        }
        match still_owed {
            None => tx.execute("DELETE FROM async_events WHERE id = ?1", params![id]),
            Some(d) => tx.execute(
                "UPDATE async_events SET delivery = ?2 WHERE id = ?1",
                params![id, d],
            ),
        }
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(true)
    }
}

/// Event invoke configurations (one per function and qualifier).
impl Db {
    pub fn get_event_invoke_config(
        &self,
        function_name: &str,
        qualifier: &str,
    ) -> Result<Option<EventInvokeRecord>, Error> {
        let json: Option<String> = self
            .conn
            .lock()
            .query_row(
                "SELECT record FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        json.as_deref().map(decode_config).transpose()
    }

    /// Stores a configuration, replacing any of the same function and qualifier.
    pub fn put_event_invoke_config(&self, rec: &EventInvokeRecord) -> Result<(), Error> {
        let json = encode_config(rec)?;
        self.conn
            .lock()
            .execute(
                "INSERT INTO event_invoke_configs (function_name, qualifier, record) VALUES (?1, ?2, ?3)
                 ON CONFLICT (function_name, qualifier) DO UPDATE SET record = excluded.record",
                params![rec.function_name, rec.qualifier, json],
            )
            .map(|_| ())
            .map_err(db_err)
    }

    /// Reads, changes and writes one configuration in a transaction; `Ok(None)` if there is none.
    pub fn update_event_invoke_config<F>(
        &self,
        function_name: &str,
        qualifier: &str,
        f: F,
    ) -> Result<Option<EventInvokeRecord>, Error>
    where
        F: FnOnce(&mut EventInvokeRecord) -> Result<(), Error>,
    {
        self.update_json(
            "SELECT record FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
            "UPDATE event_invoke_configs SET record = ?3 WHERE function_name = ?1 AND qualifier = ?2",
            (function_name, qualifier),
            (decode_config, encode_config),
            f,
        )
    }

    /// `false` if there was none.
    pub fn delete_event_invoke_config(
        &self,
        function_name: &str,
        qualifier: &str,
    ) -> Result<bool, Error> {
        self.conn
            .lock()
            .execute(
                "DELETE FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
            )
            .map(|n| n == 1)
            .map_err(db_err)
    }

    /// A function's configurations, by qualifier.
    pub fn list_event_invoke_configs(
        &self,
        function_name: &str,
    ) -> Result<Vec<EventInvokeRecord>, Error> {
        json_records(
            &self.conn.lock(),
            "SELECT record FROM event_invoke_configs WHERE function_name = ?1 ORDER BY qualifier",
            rusqlite::params![function_name],
            decode_config,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(dir: &std::path::Path) -> std::sync::Arc<crate::Keyring> {
        let keys = crate::Keyring::open(&dir.join("keys"), hako_model::Region::default());
        std::sync::Arc::new(keys.unwrap())
    }

    fn ev(rid: &str, f: &str, at: i64) -> NewEvent {
        NewEvent {
            request_id: rid.into(),
            function_name: f.into(),
            qualifier: None,
            payload: b"{}".to_vec(),
            client_context: None,
            trace_id: None,
            received_ms: at,
        }
    }

    #[test]
    fn events_survive_a_crash_and_running_ones_are_due_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let db = Db::open(&path, keyring(dir.path())).unwrap();
            db.enqueue_event(&ev("a", "f", 100)).unwrap();
            db.enqueue_event(&ev("b", "f", 100)).unwrap();
            db.enqueue_event(&ev("c", "f", 100)).unwrap();
            let c = db.claim_events(150, 2).unwrap();
            assert_eq!(c.len(), 2);
            // "b" waits for a retry until 10_000; "a" is running when Hako dies.
            db.reschedule_event(c[1].id, 10_000, 1, 0, Some("{}"), None)
                .unwrap();
            assert!(db
                .claim_events(150, 10)
                .unwrap()
                .iter()
                .all(|e| e.event.request_id == "c"));
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        assert_eq!(db.recover_events(200).unwrap(), 2);
        let due: Vec<_> = db
            .claim_events(200, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.event.request_id)
            .collect();
        assert_eq!(due, ["a", "c"]);
        assert_eq!(db.next_due_ms().unwrap(), Some(10_000));
        let b = db.claim_events(10_000, 10).unwrap();
        assert_eq!(b[0].attempts, 1);
        assert_eq!(b[0].last_response.as_deref(), Some("{}"));
        assert_eq!(db.queued_events().unwrap(), 3);
    }

    #[test]
    fn a_pending_delivery_survives_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hako.db");
        {
            let db = Db::open(&path, keyring(dir.path())).unwrap();
            let id = db.enqueue_event(&ev("a", "f", 100)).unwrap();
            db.claim_events(100, 1).unwrap();
            db.pend_delivery(id, "[]").unwrap();
            // Still claimed.
            assert!(db.claim_events(100, 1).unwrap().is_empty());
        }
        let db = Db::open(&path, keyring(dir.path())).unwrap();
        assert_eq!(db.recover_events(200).unwrap(), 1);
        let due = db.claim_events(200, 1).unwrap();
        assert_eq!(due[0].delivery.as_deref(), Some("[]"));
        // Released after a failed worker: still owed, due later.
        db.release_event(due[0].id, 300, 1).unwrap();
        assert!(db.claim_events(299, 1).unwrap().is_empty());
        let again = db.claim_events(300, 1).unwrap();
        assert_eq!(
            (again[0].delivery.as_deref(), again[0].throttles),
            (Some("[]"), 1)
        );
    }

    #[test]
    fn completing_hands_over_to_an_existing_destination_only() {
        let db = Db::open_in_memory().unwrap();
        let id = db.enqueue_event(&ev("a", "f", 1)).unwrap();
        db.claim_events(1, 1).unwrap();
        assert!(!db.complete_event(id, Some(&ev("r", "dest", 2))).unwrap());
        assert_eq!(db.queued_events().unwrap(), 1);
        assert!(db.complete_event(id, None).unwrap());
        assert_eq!(db.queued_events().unwrap(), 0);
    }

    #[test]
    fn handing_over_keeps_what_is_still_owed() {
        let db = Db::open_in_memory().unwrap();
        let id = db.enqueue_event(&ev("a", "f", 1)).unwrap();
        db.claim_events(1, 1).unwrap();
        assert!(!db.hand_over_event(id, &ev("r", "dest", 2), "[1]").unwrap());
        db.conn
            .lock()
            .execute(
                "INSERT INTO functions (name, version, record) VALUES ('dest', '$LATEST', '{}')",
                [],
            )
            .unwrap();
        assert!(db.hand_over_event(id, &ev("r", "dest", 2), "[1]").unwrap());
        // The record is queued; the event stays claimed with what it still owes.
        let due = db.claim_events(10, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event.function_name, "dest");
        assert_eq!(db.recover_events(10).unwrap(), 2);
        let owed = db.claim_events(10, 10).unwrap();
        let a = owed.iter().find(|e| e.event.request_id == "a").unwrap();
        assert_eq!(a.delivery.as_deref(), Some("[1]"));
    }

    #[test]
    fn configs_round_trip() {
        let db = Db::open_in_memory().unwrap();
        let rec = EventInvokeRecord {
            function_name: "f".into(),
            qualifier: "$LATEST".into(),
            maximum_retry_attempts: Some(1),
            maximum_event_age_seconds: None,
            on_success: None,
            on_failure: None,
            last_modified: 1.5,
        };
        db.put_event_invoke_config(&rec).unwrap();
        assert_eq!(
            db.get_event_invoke_config("f", "$LATEST").unwrap(),
            Some(rec.clone())
        );
        let r = db
            .update_event_invoke_config("f", "$LATEST", |r| {
                r.maximum_retry_attempts = Some(0);
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(r.maximum_retry_attempts, Some(0));
        assert_eq!(db.list_event_invoke_configs("f").unwrap().len(), 1);
        assert!(db.delete_event_invoke_config("f", "$LATEST").unwrap());
        assert!(!db.delete_event_invoke_config("f", "$LATEST").unwrap());
    }
}
