//! The credential authority: the temporary credentials of functions' sandboxes. Each sandbox
//! gets a session of its function's role when it starts (an `ASIA...` key id, a secret, a
//! session token), valid for [`SESSION_LIFETIME`] (AWS's longest role session). Sessions live
//! in memory only: sandboxes die with Hako, and so do their credentials.
//!
//! A session is bound to its function's ARN; whether that function still exists is asked at
//! each verification (the binary's [`FunctionExists`], a look-up in Lambda's cache), so the
//! credentials of a deleted function are refused at once without any hook in the delete path.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;

use crate::credentials;
use crate::principal::Principal;

/// How long a sandbox's credentials are valid: 12 hours, the longest session AWS grants a
/// role. A sandbox lives at most that long with its credentials (see README).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Whether a function (by its unqualified ARN) exists.
pub type FunctionExists = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The credentials handed to one sandbox, in AWS's variables' terms.
#[derive(Clone)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
}

impl std::fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// One issued session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) token: String,
    pub(crate) expiration: SystemTime,
    pub(crate) principal: Principal,
    /// What the signer needs, made once.
    pub(crate) identity: aws_smithy_runtime_api::client::identity::Identity,
}

/// Issues and knows the sandboxes' sessions. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Authority {
    account: String,
    sessions: RwLock<HashMap<String, Arc<Session>>>,
}

impl Authority {
    pub fn new(account: &str) -> Authority {
        Authority {
            account: account.to_string(),
            sessions: RwLock::new(HashMap::new()),
        }
    }

    /// New credentials for a sandbox of `function_arn` (qualified or not) running as
    /// `role_arn`, valid from `now` for [`SESSION_LIFETIME`]. Sessions expired by then are
    /// forgotten.
    pub fn issue(&self, function_arn: &str, role_arn: &str, now: SystemTime) -> SessionCredentials {
        let access_key_id = credentials::key_id("ASIA");
        let creds = SessionCredentials {
            secret_access_key: credentials::secret(),
            session_token: credentials::session_token(),
            expiration: now + SESSION_LIFETIME,
            access_key_id: access_key_id.clone(),
        };
        let identity = aws_credential_types::Credentials::new(
            access_key_id.clone(),
            creds.secret_access_key.clone(),
            Some(creds.session_token.clone()),
            Some(creds.expiration),
            "hako-sandbox",
        )
        .into();
        let session = Arc::new(Session {
            identity,
            token: creds.session_token.clone(),
            expiration: creds.expiration,
            principal: Principal::function(&self.account, &access_key_id, function_arn, role_arn),
        });
        let mut sessions = self.sessions.write();
        sessions.retain(|_, s| s.expiration > now);
        sessions.insert(access_key_id, session);
        creds
    }

    /// Forgets a session (its sandbox is gone).
    pub fn revoke(&self, access_key_id: &str) {
        self.sessions.write().remove(access_key_id);
    }

    pub(crate) fn session(&self, access_key_id: &str) -> Option<Arc<Session>> {
        self.sessions.read().get(access_key_id).cloned()
    }

    /// How many sessions are known (for tests and metrics).
    pub fn len(&self) -> usize {
        self.sessions.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
impl Authority {
    /// A session with known credentials (tests sign with botocore's vectors).
    pub(crate) fn insert_for_test(
        &self,
        creds: &SessionCredentials,
        function_arn: &str,
        role_arn: &str,
    ) {
        let identity = aws_credential_types::Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.clone(),
            Some(creds.session_token.clone()),
            Some(creds.expiration),
            "test",
        )
        .into();
        self.sessions.write().insert(
            creds.access_key_id.clone(),
            Arc::new(Session {
                identity,
                token: creds.session_token.clone(),
                expiration: creds.expiration,
                principal: Principal::function(
                    &self.account,
                    &creds.access_key_id,
                    function_arn,
                    role_arn,
                ),
            }),
        );
    }
}
