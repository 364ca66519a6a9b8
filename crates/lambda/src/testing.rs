//! What the unit tests of the application layer (and, with the `testing` feature, of the crates
//! above it) share: a `Lambda` on an in-memory database and a temporary code store, with a
//! virtual clock; its engine runs on the fake sandbox backend, whose sandboxes run a fake runtime
//! client (`hako_engine::testing`): no process, no root.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hako_engine::testing::FakeRuntime;
use hako_engine::{Engine, EngineConfig, NullSink, Runtimes};
use hako_model::clock::ManualClock;
use hako_model::wire::{CreateFunctionRequest, FunctionCodeIn, UpdateFunctionCodeRequest};
use hako_model::Region;
use hako_store::{CodeStore, Db};

use crate::Lambda;

pub const T0: i64 = 1_700_000_000_000;

pub struct Fixture {
    pub lambda: Arc<Lambda>,
    pub clock: Arc<ManualClock>,
    /// Holds the code store: keep it as long as the `Lambda`.
    pub dir: tempfile::TempDir,
}

/// A `Lambda` whose functions echo their payload.
pub async fn fixture() -> Fixture {
    fixture_with(FakeRuntime::echo())
}

/// A `Lambda` whose functions' sandboxes run `runtime`.
pub fn fixture_with(runtime: FakeRuntime) -> Fixture {
    fixture_with_concurrency(&runtime, 1000)
}

/// A `Lambda` whose functions' sandboxes run `runtime`, with `account_concurrency` slots.
pub fn fixture_with_concurrency(runtime: &FakeRuntime, account_concurrency: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open_in_memory().unwrap());
    let code = Arc::new(CodeStore::open(&dir.path().join("code")).unwrap());
    // Only the `provided` runtimes, which need no interpreter.
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
        runtime.isolation(),
        runtimes,
        Arc::new(NullSink),
    );
    let clock = Arc::new(ManualClock::new(T0));
    let lambda = Lambda::new(db, code, engine, region, clock.clone());
    Fixture { lambda, clock, dir }
}

/// A deployment package holding a `bootstrap` that says `marker`, base64-encoded.
pub fn package(marker: &str) -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        z.start_file("bootstrap", opts).unwrap();
        writeln!(z, "#!/bin/sh\necho {marker}").unwrap();
        z.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

pub fn create_request(name: &str, marker: &str) -> CreateFunctionRequest {
    CreateFunctionRequest {
        function_name: Some(name.into()),
        runtime: Some("provided.al2023".into()),
        role: Some("arn:aws:iam::123456789012:role/lambda-role".into()),
        handler: Some("bootstrap".into()),
        code: Some(FunctionCodeIn {
            zip_file: Some(package(marker)),
            ..FunctionCodeIn::default()
        }),
        ..CreateFunctionRequest::default()
    }
}

pub fn code_request(marker: &str) -> UpdateFunctionCodeRequest {
    UpdateFunctionCodeRequest {
        zip_file: Some(package(marker)),
        ..UpdateFunctionCodeRequest::default()
    }
}

/// Creates function `name` with a package that says `marker`.
pub async fn create(f: &Fixture, name: &str, marker: &str) {
    f.lambda
        .create_function(create_request(name, marker))
        .await
        .unwrap();
}
