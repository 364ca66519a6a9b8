//! Lambda's limits, with AWS's current figures.

pub const TIMEOUT_MIN_SECONDS: i64 = 1;
pub const TIMEOUT_MAX_SECONDS: i64 = 900;
pub const TIMEOUT_DEFAULT_SECONDS: i64 = 3;
pub const MEMORY_MIN_MB: i64 = 128;
pub const MEMORY_MAX_MB: i64 = 10_240;
pub const MEMORY_DEFAULT_MB: i64 = 128;
pub const EPHEMERAL_MIN_MB: i64 = 512;
pub const EPHEMERAL_MAX_MB: i64 = 10_240;
pub const EPHEMERAL_DEFAULT_MB: i64 = 512;
/// Zipped deployment package uploaded directly (AWS: 50 MB).
pub const ZIP_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Unzipped deployment package, with layers (AWS: 250 MB).
pub const UNZIPPED_MAX_BYTES: u64 = 250 * 1024 * 1024;
/// Synchronous invocation request payload (AWS: 6 MB).
pub const INVOKE_REQUEST_MAX_BYTES: usize = 6_291_456;
/// Synchronous invocation response payload (AWS: 6 MB).
pub const INVOKE_RESPONSE_MAX_BYTES: usize = 6_291_556;
/// Asynchronous invocation payload (AWS: 1 MB since late 2025).
pub const ASYNC_REQUEST_MAX_BYTES: usize = 1_048_576;
/// Environment variables, keys and values together (AWS: 4 KB).
pub const ENV_MAX_BYTES: usize = 4096;
/// Description length.
pub const DESCRIPTION_MAX_CHARS: usize = 256;
/// Handler length.
pub const HANDLER_MAX_CHARS: usize = 128;
/// Function name length.
pub const FUNCTION_NAME_MAX_CHARS: usize = 64;
/// ListFunctions page size cap.
pub const LIST_MAX_ITEMS: usize = 50;
/// The tail of the log returned with LogType=Tail.
pub const LOG_TAIL_BYTES: usize = 4096;
/// Account-wide concurrency (AWS default).
pub const ACCOUNT_CONCURRENCY_DEFAULT: u32 = 1000;
/// Code storage per account (AWS: 75 GB).
pub const CODE_STORAGE_BYTES: u64 = 80_530_636_800;
/// Memory that gives a function one full vCPU: Lambda allocates CPU in proportion to memory ("At
/// 1,769 MB, a function has the equivalent of one vCPU", AWS docs, "Configuring Lambda function
/// memory").
pub const MB_PER_VCPU: u64 = 1769;
/// The user a function runs as in Lambda's execution environment (`id` there prints
/// `uid=993(sbx_user1051) gid=990`).
pub const SANDBOX_UID: u32 = 993;
/// The group a function runs as (see [`SANDBOX_UID`]).
pub const SANDBOX_GID: u32 = 990;
/// The name of [`SANDBOX_UID`].
pub const SANDBOX_USER_NAME: &str = "sbx_user1051";

/// CreateFunction and UpdateFunctionCode request bodies (AWS's figure: a 50 MB zip, base64).
pub const CODE_REQUEST_MAX_BYTES: usize = 70_167_211;
/// PublishLayerVersion request bodies (as CreateFunction's).
pub const LAYER_REQUEST_MAX_BYTES: usize = CODE_REQUEST_MAX_BYTES;
/// Control-plane request bodies other than code uploads.
pub const CONFIG_REQUEST_MAX_BYTES: usize = 1024 * 1024;
/// Request bodies of a few fields (concurrency, provisioned concurrency, event invoke
/// configurations).
pub const SMALL_REQUEST_MAX_BYTES: usize = 64 * 1024;
