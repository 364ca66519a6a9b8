//! The error payloads the platform itself produces (a runtime that exited, ran out of memory...),
//! in the `{"errorMessage", "errorType"}` shape runtimes use.

use bytes::Bytes;
use hako_sandbox::ExitStatus;

pub(crate) fn error_payload(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string())
}

/// The error of a runtime that exited: `Runtime.OutOfMemory` when the sandbox's memory limit
/// killed it, as on AWS.
pub(crate) fn exit_error(request_id: &str, st: ExitStatus, oom: bool) -> (Bytes, String) {
    let msg = exit_message(request_id, st);
    let error_type = if oom {
        "Runtime.OutOfMemory"
    } else {
        "Runtime.ExitError"
    };
    (error_payload(error_type, &msg), msg)
}

fn exit_message(request_id: &str, st: ExitStatus) -> String {
    match st {
        ExitStatus::Code(0) => {
            format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
        }
        ExitStatus::Signal(9) => {
            format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed")
        }
        other => format!("RequestId: {request_id} Error: Runtime exited with error: {other}"),
    }
}
