//! What the unit tests of this crate share: a `Lambda` on an in-memory database, a temporary
//! code store and a virtual wall clock, whose engine runs the fake sandbox backend with a
//! runtime the test scripts (`hako_engine::testing`), and functions created on it.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hako_engine::testing::FakeRuntime;
use hako_engine::{Engine, EngineConfig, NullSink, Runtimes};
use hako_lambda::Lambda;
use hako_model::clock::ManualClock;
use hako_model::wire::{CreateFunctionRequest, FunctionCodeIn};
use hako_model::Region;
use hako_store::{CodeStore, Db};

pub(crate) const T0: i64 = 1_700_000_000_000;

/// A `Lambda` whose sandboxes run `rt`, with `account_concurrency` slots; its clock reads
/// [`T0`]. The directory holds the code store (keep it as long as the `Lambda`).
pub(crate) fn lambda(
    rt: &FakeRuntime,
    account_concurrency: usize,
) -> (Arc<Lambda>, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open_in_memory().unwrap());
    let code = Arc::new(CodeStore::open(&dir.path().join("code")).unwrap());
    let runtimes = Runtimes::provided_only(&dir.path().join("runtimes"));
    let region = Region::default();
    let engine = Engine::new(
        EngineConfig {
            region: region.region.clone(),
            account_id: region.account_id.clone(),
            api_endpoint: "http://127.0.0.1:9".into(),
            idle_timeout: Duration::from_secs(300),
            account_concurrency,
            host_path: String::new(),
        },
        rt.isolation(),
        runtimes,
        Arc::new(NullSink),
    );
    let clock = Arc::new(ManualClock::new(T0));
    let lambda = Lambda::new(db, code, engine, region, clock.clone());
    (lambda, clock, dir)
}

/// Creates function `name` (runtime `provided.al2023`, a `bootstrap` the fake backend never
/// runs) with execution role `role`.
pub(crate) async fn create_function(lambda: &Lambda, name: &str, role: &str) {
    let req = CreateFunctionRequest {
        function_name: Some(name.into()),
        runtime: Some("provided.al2023".into()),
        role: Some(role.into()),
        handler: Some("bootstrap".into()),
        code: Some(FunctionCodeIn {
            zip_file: Some(package()),
            ..FunctionCodeIn::default()
        }),
        ..CreateFunctionRequest::default()
    };
    lambda.create_function(req).await.unwrap();
}

/// A deployment package holding a `bootstrap`, base64-encoded.
fn package() -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        z.start_file("bootstrap", opts).unwrap();
        writeln!(z, "#!/bin/sh").unwrap();
        z.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

/// The messages waiting in SQS queue `name` of the default account (received at once, with
/// every message attribute, not deleted).
pub(crate) async fn sqs_messages(sqs: &hako_sqs::Sqs, name: &str) -> Vec<hako_sqs::wire::Message> {
    let req = hako_sqs::wire::ReceiveMessageRequest {
        queue_url: Some(format!("http://127.0.0.1:9/123456789012/{name}")),
        message_attribute_names: vec!["All".into()],
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    sqs.receive(req).await.unwrap().messages
}
