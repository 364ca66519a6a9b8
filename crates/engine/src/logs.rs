//! Function logs: capturing a sandbox's output line by line, the platform's START/END/REPORT
//! lines, and the 4 KB tail returned with `LogType=Tail`.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::unix::pipe;

use crate::logformat::{self, LogControls, Report};

/// One line of a function's log.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub group: Arc<str>,
    pub stream: Arc<str>,
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    pub message: String,
    /// A line of the platform's (START, END, REPORT...), not of the function's output.
    pub platform: bool,
}

/// Where log lines go (the binary wires it to the store).
pub trait LogSink: Send + Sync + std::fmt::Debug {
    /// Takes one line. Must not block: a sink that cannot keep up drops and counts.
    fn emit(&self, rec: LogRecord);
}

/// A sink that drops everything (tests).
#[derive(Debug, Default)]
pub struct NullSink;

impl LogSink for NullSink {
    fn emit(&self, _rec: LogRecord) {}
}

/// The longest line kept as one log event (CloudWatch: 256 KB); longer ones are split.
const MAX_LINE: usize = 256 * 1024;

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Default)]
struct CaptureState {
    /// The read buffer, allocated once (zeroing a fresh one per read showed in profiles).
    buf: Vec<u8>,
    partial: Vec<u8>,
    /// The current invocation's log, when a tail was asked for.
    tail: Option<String>,
    eof: bool,
}

/// Captures one sandbox's output into its log stream.
#[derive(Debug)]
pub(crate) struct LogCapture {
    rx: pipe::Receiver,
    state: Mutex<CaptureState>,
    sink: Arc<dyn LogSink>,
    pub(crate) group: Arc<str>,
    pub(crate) stream: Arc<str>,
    /// The function version's `LoggingConfig`: the platform lines' format and the levels.
    pub(crate) controls: LogControls,
}

impl LogCapture {
    pub(crate) fn new(
        fd: OwnedFd,
        sink: Arc<dyn LogSink>,
        group: Arc<str>,
        stream: Arc<str>,
        controls: LogControls,
    ) -> std::io::Result<Arc<LogCapture>> {
        let rx = pipe::Receiver::from_owned_fd(fd)?;
        Ok(Arc::new(LogCapture {
            rx,
            state: Mutex::new(CaptureState::default()),
            sink,
            group,
            stream,
            controls,
        }))
    }

    /// Reads the pipe until the sandbox closes it.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            if self.rx.readable().await.is_err() {
                return;
            }
            if self.drain() {
                return;
            }
        }
    }

    /// Reads whatever the pipe holds now and emits complete lines. Returns true at end of file.
    pub(crate) fn drain(&self) -> bool {
        let mut st = self.state.lock();
        if st.eof {
            return true;
        }
        let mut buf = std::mem::take(&mut st.buf);
        if buf.is_empty() {
            buf.resize(16 * 1024, 0);
        }
        let eof = self.read_available(&mut st, &mut buf);
        st.buf = buf;
        eof
    }

    fn read_available(&self, st: &mut CaptureState, buf: &mut [u8]) -> bool {
        loop {
            match self.rx.try_read(buf) {
                Ok(0) => {
                    st.eof = true;
                    if !st.partial.is_empty() {
                        let rest = std::mem::take(&mut st.partial);
                        self.emit_output(st, String::from_utf8_lossy(&rest).into_owned());
                    }
                    return true;
                }
                Ok(n) => {
                    let mut chunk = &buf[..n];
                    while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
                        let line = if st.partial.is_empty() {
                            String::from_utf8_lossy(&chunk[..pos]).into_owned()
                        } else {
                            st.partial.extend_from_slice(&chunk[..pos]);
                            let l = std::mem::take(&mut st.partial);
                            String::from_utf8_lossy(&l).into_owned()
                        };
                        self.emit_output(st, line);
                        chunk = &chunk[pos + 1..];
                    }
                    st.partial.extend_from_slice(chunk);
                    if st.partial.len() >= MAX_LINE {
                        let l = std::mem::take(&mut st.partial);
                        self.emit_output(st, String::from_utf8_lossy(&l).into_owned());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    st.eof = true;
                    return true;
                }
            }
        }
    }

    /// A line of the function's output: kept unless `ApplicationLogLevel` drops it.
    fn emit_output(&self, st: &mut CaptureState, message: String) {
        if self.controls.keeps(&message) {
            self.emit_locked(st, message, false);
        }
    }

    fn emit_locked(&self, st: &mut CaptureState, message: String, platform: bool) {
        if let Some(t) = st.tail.as_mut() {
            t.push_str(&message);
            t.push('\n');
            trim_front(t, hako_model::limits::LOG_TAIL_BYTES * 2);
        }
        self.sink.emit(LogRecord {
            group: self.group.clone(),
            stream: self.stream.clone(),
            timestamp_ms: now_ms(),
            message,
            platform,
        });
    }

    /// Emits a platform line (START, END, REPORT...), in order with the function's output.
    pub(crate) fn platform(&self, message: String) {
        let mut st = self.state.lock();
        self.emit_locked(&mut st, message, true);
    }

    /// Emits a platform line when the format and `SystemLogLevel` have one.
    pub(crate) fn platform_opt(&self, message: Option<String>) {
        if let Some(m) = message {
            self.platform(m);
        }
    }

    /// `START` / `platform.start`.
    pub(crate) fn start(&self, request_id: &str, version: &str, function_arn: &str) {
        self.platform_opt(logformat::start(
            &self.controls,
            now_ms(),
            request_id,
            version,
            function_arn,
        ));
    }

    /// `END` (Text only).
    pub(crate) fn end(&self, request_id: &str) {
        self.platform_opt(logformat::end(&self.controls, request_id));
    }

    /// `REPORT` / `platform.report`.
    pub(crate) fn report(&self, r: &Report<'_>) {
        self.platform_opt(logformat::report(&self.controls, now_ms(), r));
    }

    /// Starts collecting the tail of the current invocation.
    pub(crate) fn begin_tail(&self) {
        self.state.lock().tail = Some(String::new());
    }

    /// Stops collecting and returns the last 4 KB.
    pub(crate) fn end_tail(&self) -> Option<String> {
        let mut t = self.state.lock().tail.take()?;
        trim_front(&mut t, hako_model::limits::LOG_TAIL_BYTES);
        Some(t)
    }
}

/// Keeps the last `max` bytes of `s`, cut at a character boundary.
fn trim_front(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = s.len() - max;
        while !s.is_char_boundary(cut) {
            cut += 1;
        }
        s.drain(..cut);
    }
}

/// AWS's log stream name: `YYYY/MM/DD/[VERSION]<32 hex>`.
pub(crate) fn stream_name(version: &str) -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}/{:02}/{:02}/[{}]{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        version,
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        let mut s = "é".repeat(3000);
        trim_front(&mut s, 4096);
        assert!(s.len() <= 4096);
        assert!(s.chars().all(|c| c == 'é'));
    }

    #[test]
    fn stream_names_have_aws_shape() {
        let s = stream_name("$LATEST");
        let (date, rest) = s.split_at(11);
        assert_eq!(date.len(), 11);
        assert!(rest.starts_with("[$LATEST]"));
        assert_eq!(rest.len(), "[$LATEST]".len() + 32);
    }
}
