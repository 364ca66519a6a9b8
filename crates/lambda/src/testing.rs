//! What the unit tests of the application layer share: a `Lambda` on an in-memory database and
//! a temporary code store, with a virtual clock; its engine runs on the fake sandbox backend, whose
//! sandboxes run a fake runtime client (`hako_engine::testing`): no process, no root.

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

pub(crate) const T0: i64 = 1_700_000_000_000;

pub(crate) struct Fixture {
    pub(crate) lambda: Arc<Lambda>,
    pub(crate) clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

/// A `Lambda` whose functions echo their payload.
pub(crate) async fn fixture() -> Fixture {
    fixture_with(FakeRuntime::echo())
}

/// A `Lambda` whose functions' sandboxes run `runtime`.
pub(crate) fn fixture_with(runtime: FakeRuntime) -> Fixture {
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
            account_concurrency: 1000,
            host_path: String::new(),
        },
        runtime.isolation(),
        runtimes,
        Arc::new(NullSink),
    );
    let clock = Arc::new(ManualClock::new(T0));
    let lambda = Lambda::new(db, code, engine, region, clock.clone());
    Fixture {
        lambda,
        clock,
        _dir: dir,
    }
}

/// A deployment package holding a `bootstrap` that says `marker`, base64-encoded.
pub(crate) fn package(marker: &str) -> String {
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

pub(crate) fn create_request(name: &str, marker: &str) -> CreateFunctionRequest {
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

pub(crate) fn code_request(marker: &str) -> UpdateFunctionCodeRequest {
    UpdateFunctionCodeRequest {
        zip_file: Some(package(marker)),
        ..UpdateFunctionCodeRequest::default()
    }
}

/// Creates function `name` with a package that says `marker`.
pub(crate) async fn create(f: &Fixture, name: &str, marker: &str) {
    f.lambda
        .create_function(create_request(name, marker))
        .await
        .unwrap();
}
