//! The old home of function logs: the `logs` table of `hako.db`, written by Hako before the
//! CloudWatch-Logs-compatible service (`hako-logs`, its own `logs.db`) owned log data. Nothing
//! writes it any more; the binary moves its rows into `logs.db` once (`legacy_logs`, then
//! `delete_legacy_logs` up to what was imported) and `hako logs` reads what is still here
//! beside `logs.db` until then.

use hako_model::Error;
use rusqlite::params;

use super::{db_err, Db};

/// One line of a function's log, as the old table kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub log_group: String,
    pub log_stream: String,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub message: String,
}

/// Rows deleted from the old table in one transaction at most.
const DELETE_CHUNK: i64 = 10_000;

impl Db {
    /// Lines of the old table after the id `after` (0 for all), at most `limit`, by id; of one
    /// group when `log_group` is given.
    pub fn legacy_logs(
        &self,
        log_group: Option<&str>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, LogLine)>, Error> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, log_group, log_stream, ts_ms, message FROM logs
                 WHERE (?1 IS NULL OR log_group = ?1) AND id > ?2 ORDER BY id LIMIT ?3",
            )
            .map_err(db_err)?;
        let rows = stmt
            .query_map(params![log_group, after, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    LogLine {
                        log_group: r.get(1)?,
                        log_stream: r.get(2)?,
                        timestamp_ms: r.get(3)?,
                        message: r.get(4)?,
                    },
                ))
            })
            .map_err(db_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
    }

    /// Deletes the old table's lines up to the id `upto`, in short transactions; the number
    /// deleted.
    pub fn delete_legacy_logs(&self, upto: i64) -> Result<usize, Error> {
        let mut total = 0;
        loop {
            let conn = self.conn.lock();
            let n = conn
                .execute(
                    "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE id <= ?1 LIMIT ?2)",
                    params![upto, DELETE_CHUNK],
                )
                .map_err(db_err)?;
            parking_lot::MutexGuard::unlock_fair(conn);
            total += n;
            if n < DELETE_CHUNK as usize {
                return Ok(total);
            }
        }
    }

    /// Writes lines into the old table (tests of the move only: nothing else writes it).
    #[doc(hidden)]
    pub fn insert_legacy_logs(&self, lines: &[LogLine]) -> Result<(), Error> {
        let conn = self.conn.lock();
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        for l in lines {
            tx.execute(
                "INSERT INTO logs (log_group, log_stream, ts_ms, message) VALUES (?1, ?2, ?3, ?4)",
                params![l.log_group, l.log_stream, l.timestamp_ms, l.message],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_lines_are_read_by_id_and_deleted_up_to_an_id() {
        let db = Db::open_in_memory().unwrap();
        let line = |g: &str, m: &str| LogLine {
            log_group: g.into(),
            log_stream: "s".into(),
            timestamp_ms: 1,
            message: m.into(),
        };
        db.insert_legacy_logs(&[
            line("/aws/lambda/f", "a"),
            line("/aws/lambda/g", "b"),
            line("/aws/lambda/f", "c"),
        ])
        .unwrap();
        let all = db.legacy_logs(None, 0, 10).unwrap();
        assert_eq!(all.len(), 3);
        let f = db.legacy_logs(Some("/aws/lambda/f"), all[0].0, 10).unwrap();
        assert_eq!(
            f.iter()
                .map(|(_, l)| l.message.as_str())
                .collect::<Vec<_>>(),
            ["c"]
        );
        assert_eq!(db.delete_legacy_logs(all[1].0).unwrap(), 2);
        let left = db.legacy_logs(None, 0, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1.message, "c");
    }
}
