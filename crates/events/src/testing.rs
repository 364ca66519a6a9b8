//! What the unit tests of this crate share: `hako_lambda::testing`'s `Lambda` (an in-memory
//! database, a temporary code store, a virtual wall clock, an engine on the fake sandbox backend
//! with a runtime the test scripts), functions created on it, and SQS helpers.

use std::sync::Arc;

use hako_engine::testing::FakeRuntime;
use hako_lambda::testing::{create_request, fixture_with_concurrency, Fixture};
use hako_lambda::Lambda;
use hako_model::clock::ManualClock;
use hako_model::wire::CreateFunctionRequest;

pub(crate) use hako_lambda::testing::T0;

/// A `Lambda` whose sandboxes run `rt`, with `account_concurrency` slots; its clock reads
/// [`T0`]. The directory holds the code store (keep it as long as the `Lambda`).
pub(crate) fn lambda(
    rt: &FakeRuntime,
    account_concurrency: usize,
) -> (Arc<Lambda>, Arc<ManualClock>, tempfile::TempDir) {
    let Fixture { lambda, clock, dir } = fixture_with_concurrency(rt, account_concurrency);
    (lambda, clock, dir)
}

/// Creates function `name` (runtime `provided.al2023`, a `bootstrap` the fake backend never
/// runs) with execution role `role`.
pub(crate) async fn create_function(lambda: &Lambda, name: &str, role: &str) {
    let req = CreateFunctionRequest {
        role: Some(role.into()),
        ..create_request(name, "")
    };
    lambda.create_function(req).await.unwrap();
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
