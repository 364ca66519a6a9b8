//! Authentication: who a request comes from.
//!
//! - [`Principal`]: the verified caller, which the front door puts in every verified
//!   request's extensions (STS answers GetCallerIdentity from it; IAM authorizes with it).
//! - [`Verifier`]: SigV4 verification of a request (header or presigned query form) against
//!   the root key pair and the sandboxes' sessions, with AWS's refusals ([`AuthError`]).
//! - [`KeyPair`]: the root credentials' format, generation and file form (the binary decides
//!   where they come from).
//! - [`Authority`]: the temporary credentials of functions' sandboxes (`ASIA...`), bound to
//!   the function: refused once it is deleted.
//!
//! No IO here: the binary reads the environment and the data dir and hands the results in.

mod authority;
mod credentials;
mod principal;
mod verify;

pub use authority::{Authority, FunctionExists, SessionCredentials, SESSION_LIFETIME};
pub use credentials::KeyPair;
pub use principal::{role_id, Identity, Principal, PrincipalKind};
pub use verify::{AuthError, Verifier, ALLOWED_SKEW, MAX_PRESIGNED_EXPIRES, SIGNATURE_MISMATCH};

/// What the front door (and function URLs' `AWS_IAM` check) asks: who signed this request.
/// [`Verifier`] is the implementation; tests may bring their own.
pub trait Authenticator: Send + Sync {
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Principal, AuthError>;
}

impl Authenticator for Verifier {
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<Principal, AuthError> {
        self.verify(parts, body, std::time::SystemTime::now())
    }
}
