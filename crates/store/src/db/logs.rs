//! Function logs: lines appended in bounded transactions, read back by group after an id.

use hako_model::Error;
use rusqlite::params;

use super::{db_err, Db};

/// Log lines written in one transaction at most (see [`Db::append_logs`]).
const LOG_CHUNK: usize = 512;

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub log_group: String,
    pub log_stream: String,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub message: String,
}

impl Db {
    /// Appends log lines, in transactions of at most [`LOG_CHUNK`] lines. Between two, the
    /// connection goes straight to whoever waits for it (`unlock_fair`): a flood of function
    /// output delays an API call by one chunk's insert (a few ms), never by the whole backlog.
    pub fn append_logs(&self, lines: &[LogLine]) -> Result<(), Error> {
        for chunk in lines.chunks(LOG_CHUNK) {
            let conn = self.conn.lock();
            let tx = conn.unchecked_transaction().map_err(db_err)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO logs (log_group, log_stream, ts_ms, message) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(db_err)?;
                for l in chunk {
                    stmt.execute(params![
                        l.log_group,
                        l.log_stream,
                        l.timestamp_ms,
                        l.message
                    ])
                    .map_err(db_err)?;
                }
            }
            tx.commit().map_err(db_err)?;
            parking_lot::MutexGuard::unlock_fair(conn);
        }
        Ok(())
    }

    /// Log lines of a group after the id `after` (0 for all), at most `limit`, oldest first.
    pub fn read_logs(
        &self,
        log_group: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, LogLine)>, Error> {
        let conn = self.conn.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, log_group, log_stream, ts_ms, message FROM logs
                 WHERE log_group = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_read_in_order_after_an_id() {
        let db = Db::open_in_memory().unwrap();
        let line = |m: &str| LogLine {
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            timestamp_ms: 1,
            message: m.into(),
        };
        db.append_logs(&[line("a"), line("b"), line("c")]).unwrap();
        let all = db.read_logs("/aws/lambda/f", 0, 10).unwrap();
        assert_eq!(all.len(), 3);
        let after = db.read_logs("/aws/lambda/f", all[0].0, 10).unwrap();
        assert_eq!(
            after
                .iter()
                .map(|(_, l)| l.message.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
    }
}
