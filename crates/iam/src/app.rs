//! The application layer: [`Iam`], one method per operation (model types in and out, no HTTP),
//! and the authorizer the rest of Hako calls ([`Iam::authorize`]).

use std::collections::HashMap;
use std::sync::Arc;

use hako_model::clock::Clock;
use hako_model::validation::Violations;
use hako_store::service_db::sql;
use hako_store::ServiceDb;
use parking_lot::RwLock;

use crate::managed::{self, MANAGED};
use crate::model::*;
use crate::policy::{Caller, Context, Kind, Policy, Verdict};
use crate::store;

/// CreateRole's parameters.
#[derive(Debug, Clone, Default)]
pub struct CreateRole {
    pub role_name: Option<String>,
    pub path: Option<String>,
    pub assume_role_policy_document: Option<String>,
    pub description: Option<String>,
    pub max_session_duration: Option<i64>,
    pub tags: Vec<(String, String)>,
}

/// CreatePolicy's parameters.
#[derive(Debug, Clone, Default)]
pub struct CreatePolicy {
    pub policy_name: Option<String>,
    pub path: Option<String>,
    pub policy_document: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// ListPolicies' filters.
#[derive(Debug, Clone, Default)]
pub struct ListPolicies {
    /// `All` (default), `AWS` or `Local`.
    pub scope: Option<String>,
    pub only_attached: bool,
    pub path_prefix: Option<String>,
}

/// The decision of [`Iam::authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No policy allows it.
    ImplicitDeny,
    /// A statement of an identity-based policy denies it.
    DenyInIdentityPolicy,
    /// A statement of the resource's policy denies it.
    DenyInResourcePolicy,
}

/// Who makes a request, as the authorizer needs it (the front door's principal, adapted).
#[derive(Debug, Clone)]
pub enum Requester {
    /// The account's root: allowed everything, as on AWS.
    Root { account: String },
    /// A session of role `role_arn` (a function's credentials), `arn` its session ARN.
    Role { arn: String, role_arn: String },
}

impl Requester {
    pub fn arn(&self) -> String {
        match self {
            Requester::Root { account } => format!("arn:aws:iam::{account}:root"),
            Requester::Role { arn, .. } => arn.clone(),
        }
    }
}

impl Decision {
    /// AWS's AccessDeniedException message for a denied request (the wording AWS's services
    /// answer, as the aws CLI prints them: "User: ARN is not authorized to perform: ACTION on
    /// resource: RESOURCE because no identity-based policy allows the ACTION action", or
    /// "... with an explicit deny in an identity-based policy"); `None` when allowed.
    pub fn access_denied_message(
        self,
        principal_arn: &str,
        action: &str,
        resource: &str,
    ) -> Option<String> {
        let head = format!(
            "User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
        );
        match self {
            Decision::Allow => None,
            Decision::ImplicitDeny => Some(format!(
                "{head} because no identity-based policy allows the {action} action"
            )),
            Decision::DenyInIdentityPolicy => Some(format!(
                "{head} with an explicit deny in an identity-based policy"
            )),
            Decision::DenyInResourcePolicy => Some(format!(
                "{head} with an explicit deny in a resource-based policy"
            )),
        }
    }
}

/// The IAM service (see the crate's documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Iam {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: ServiceDb,
    account: String,
    clock: Arc<dyn Clock>,
    /// Each known role's identity policies, parsed (lower-case role name). Emptied on every
    /// write to IAM.
    cache: RwLock<HashMap<String, Option<Arc<Vec<Policy>>>>>,
}

fn db_err(e: sql::Error) -> IamError {
    IamError::internal(format!("database error: {e}"))
}

impl Iam {
    /// IAM on `db` (opened with [`Iam::migrations`]) for `account`.
    pub fn new(db: ServiceDb, account: &str, clock: Arc<dyn Clock>) -> Iam {
        Iam {
            inner: Arc::new(Inner {
                db,
                account: account.to_string(),
                clock,
                cache: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Opens (creating and migrating) IAM's database at `path` (`<data dir>/iam.db`).
    pub fn open(
        path: &std::path::Path,
        account: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Iam, sql::Error> {
        Ok(Iam::new(
            ServiceDb::open(path, store::MIGRATIONS)?,
            account,
            clock,
        ))
    }

    /// The schema steps of `iam.db`.
    pub fn migrations() -> &'static [&'static str] {
        store::MIGRATIONS
    }

    pub fn account_id(&self) -> &str {
        &self.inner.account
    }

    fn now(&self) -> String {
        format_time(self.inner.clock.now_utc())
    }

    fn read<T>(&self, f: impl FnOnce(&sql::Connection) -> sql::Result<T>) -> Result<T, IamError> {
        self.inner.db.read(f).map_err(db_err)
    }

    /// A write transaction; the authorizer's cache is emptied once it committed.
    fn write<T>(
        &self,
        f: impl FnOnce(&sql::Transaction<'_>) -> Result<T, IamError>,
    ) -> Result<T, IamError> {
        let mut out = None;
        let r = self.inner.db.write(|tx| {
            match f(tx) {
                Ok(v) => {
                    out = Some(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    out = Some(Err(e));
                    // Roll back: nothing of a refused request is kept.
                    Err(sql::Error::QueryReturnedNoRows)
                }
            }
        });
        let result = match (r, out) {
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(e), _) => Err(db_err(e)),
            (Ok(()), None) => Err(IamError::internal("write did not run")),
        };
        self.inner.cache.write().clear();
        result
    }

    fn role_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:role{path}{name}", self.inner.account)
    }

    fn check_trust(doc: &str) -> Result<(), IamError> {
        Policy::parse(doc, Kind::Trust)?;
        Ok(())
    }

    fn check_identity(doc: &str) -> Result<(), IamError> {
        Policy::parse(doc, Kind::Identity)?;
        Ok(())
    }

    // ---- roles ----

    pub fn create_role(&self, r: CreateRole) -> Result<RoleRecord, IamError> {
        let mut v = Violations::new();
        let name = required(&mut v, "roleName", r.role_name.as_deref(), &ROLE_NAME);
        v.opt_string("path", r.path.as_deref(), &PATH);
        let doc = required(
            &mut v,
            "assumeRolePolicyDocument",
            r.assume_role_policy_document.as_deref(),
            &POLICY_DOCUMENT,
        );
        v.opt_string("description", r.description.as_deref(), &DESCRIPTION);
        if let Some(d) = r.max_session_duration {
            if !(3600..=43200).contains(&d) {
                v.push(
                    Some(&d.to_string()),
                    "maxSessionDuration",
                    hako_model::validation::Constraint::Min(hako_model::validation::Bound::Int(
                        3600,
                    )),
                );
            }
        }
        v.finish()?;
        let (Some(name), Some(doc)) = (name, doc) else {
            return Err(IamError::validation("missing parameter"));
        };
        Self::check_trust(doc)?;
        let path = r.path.clone().unwrap_or_else(|| "/".into());
        let rec = RoleRecord {
            name: name.to_string(),
            arn: self.role_arn(&path, name),
            path,
            id: new_id("AROA", rand::random::<u32>),
            create_date: self.now(),
            assume_role_policy_document: doc.to_string(),
            description: r.description.clone(),
            max_session_duration: r.max_session_duration.unwrap_or(3600),
            tags: r.tags.clone(),
        };
        self.write(|tx| {
            if store::role(tx, name).map_err(db_err)?.is_some() {
                return Err(role_exists(name));
            }
            store::put_role(tx, &rec).map_err(db_err)
        })?;
        tracing::info!(role = %rec.name, "IAM role created");
        Ok(rec)
    }

    fn role_name_param(name: Option<&str>) -> Result<&str, IamError> {
        let mut v = Violations::new();
        let n = required(&mut v, "roleName", name, &ROLE_NAME);
        v.finish()?;
        n.ok_or_else(|| IamError::validation("missing parameter"))
    }

    pub fn get_role(&self, name: Option<&str>) -> Result<RoleRecord, IamError> {
        let name = Self::role_name_param(name)?;
        self.read(|c| store::role(c, name))?
            .ok_or_else(|| role_not_found(name))
    }

    pub fn list_roles(&self, path_prefix: Option<&str>) -> Result<Vec<RoleRecord>, IamError> {
        let prefix = path_prefix.unwrap_or("/");
        Ok(self
            .read(store::roles)?
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect())
    }

    pub fn delete_role(&self, name: Option<&str>) -> Result<(), IamError> {
        let name = Self::role_name_param(name)?;
        self.write(|tx| {
            if store::role(tx, name).map_err(db_err)?.is_none() {
                return Err(role_not_found(name));
            }
            if !store::attachments(tx, name).map_err(db_err)?.is_empty() {
                return Err(must_detach_policies());
            }
            if !store::role_policies(tx, name).map_err(db_err)?.is_empty() {
                return Err(must_delete_policies());
            }
            store::delete_role(tx, name).map_err(db_err).map(|_| ())
        })?;
        tracing::info!(role = %name, "IAM role deleted");
        Ok(())
    }

    pub fn update_assume_role_policy(
        &self,
        name: Option<&str>,
        doc: Option<&str>,
    ) -> Result<(), IamError> {
        let mut v = Violations::new();
        let n = required(&mut v, "roleName", name, &ROLE_NAME);
        let d = required(&mut v, "policyDocument", doc, &POLICY_DOCUMENT);
        v.finish()?;
        let (Some(name), Some(doc)) = (n, d) else {
            return Err(IamError::validation("missing parameter"));
        };
        Self::check_trust(doc)?;
        self.write(|tx| {
            let mut r = store::role(tx, name)
                .map_err(db_err)?
                .ok_or_else(|| role_not_found(name))?;
            r.assume_role_policy_document = doc.to_string();
            store::put_role(tx, &r).map_err(db_err)
        })
    }

    // ---- inline policies ----

    fn role_and_policy<'a>(
        role: Option<&'a str>,
        policy: Option<&'a str>,
        doc: Option<Option<&'a str>>,
    ) -> Result<(&'a str, &'a str, Option<&'a str>), IamError> {
        let mut v = Violations::new();
        let r = required(&mut v, "roleName", role, &ROLE_NAME);
        let p = required(&mut v, "policyName", policy, &POLICY_NAME);
        let d = doc.map(|d| required(&mut v, "policyDocument", d, &POLICY_DOCUMENT));
        v.finish()?;
        match (r, p, d) {
            (Some(r), Some(p), None) => Ok((r, p, None)),
            (Some(r), Some(p), Some(Some(d))) => Ok((r, p, Some(d))),
            _ => Err(IamError::validation("missing parameter")),
        }
    }

    pub fn put_role_policy(
        &self,
        role: Option<&str>,
        policy: Option<&str>,
        doc: Option<&str>,
    ) -> Result<(), IamError> {
        let (role, policy, doc) = Self::role_and_policy(role, policy, Some(doc))?;
        let doc = doc.unwrap_or_default();
        Self::check_identity(doc)?;
        self.write(|tx| {
            if store::role(tx, role).map_err(db_err)?.is_none() {
                return Err(role_not_found(role));
            }
            store::put_role_policy(tx, role, policy, doc).map_err(db_err)
        })
    }

    /// GetRolePolicy: (role name as stored, document).
    pub fn get_role_policy(
        &self,
        role: Option<&str>,
        policy: Option<&str>,
    ) -> Result<(String, String), IamError> {
        let (role, policy, _) = Self::role_and_policy(role, policy, None)?;
        let r = self.get_role(Some(role))?;
        let doc = self
            .read(|c| store::role_policy(c, role, policy))?
            .ok_or_else(|| role_policy_not_found(policy))?;
        Ok((r.name, doc))
    }

    pub fn delete_role_policy(
        &self,
        role: Option<&str>,
        policy: Option<&str>,
    ) -> Result<(), IamError> {
        let (role, policy, _) = Self::role_and_policy(role, policy, None)?;
        self.write(|tx| {
            if store::role(tx, role).map_err(db_err)?.is_none() {
                return Err(role_not_found(role));
            }
            if !store::delete_role_policy(tx, role, policy).map_err(db_err)? {
                return Err(role_policy_not_found(policy));
            }
            Ok(())
        })
    }

    pub fn list_role_policies(&self, role: Option<&str>) -> Result<Vec<String>, IamError> {
        let role = Self::role_name_param(role)?;
        self.get_role(Some(role))?;
        Ok(self
            .read(|c| store::role_policies(c, role))?
            .into_iter()
            .map(|(n, _)| n)
            .collect())
    }

    // ---- managed policies ----

    fn policy_arn_param(arn: Option<&str>) -> Result<&str, IamError> {
        let mut v = Violations::new();
        let a = required(&mut v, "policyArn", arn, &ARN);
        v.finish()?;
        let a = a.ok_or_else(|| IamError::validation("missing parameter"))?;
        if !a.starts_with("arn:") || a.split(':').count() < 6 {
            // AWS's answer to an ARN it cannot parse (LocalStack's AWS-recorded test_iam
            // snapshot, `non_existent_malformed_policy_arn`).
            return Err(IamError::validation("Invalid ARN:  Could not be parsed!"));
        }
        Ok(a)
    }

    /// The default document and name of managed policy `arn`, if it exists.
    fn managed_document(c: &sql::Connection, arn: &str) -> sql::Result<Option<(String, String)>> {
        if let Some(p) = managed::by_arn(arn) {
            return Ok(Some((p.name.to_string(), p.document.to_string())));
        }
        let Some(p) = store::policy(c, arn)? else {
            return Ok(None);
        };
        let doc = store::versions(c, arn, &p.default_version)?
            .into_iter()
            .find(|v| v.is_default)
            .map(|v| v.document)
            .unwrap_or_default();
        Ok(Some((p.name, doc)))
    }

    fn view_of(&self, c: &sql::Connection, p: &PolicyRecord) -> sql::Result<PolicyView> {
        Ok(PolicyView {
            name: p.name.clone(),
            path: p.path.clone(),
            id: p.id.clone(),
            arn: p.arn.clone(),
            default_version: p.default_version.clone(),
            attachment_count: store::attachment_count(c, &p.arn)?,
            create_date: p.create_date.clone(),
            update_date: p.update_date.clone(),
            description: p.description.clone(),
            tags: p.tags.clone(),
        })
    }

    fn managed_view(c: &sql::Connection, m: &managed::ManagedPolicy) -> sql::Result<PolicyView> {
        let arn = m.arn();
        Ok(PolicyView {
            name: m.name.to_string(),
            path: m.path.to_string(),
            // A stable id per policy (AWS's are fixed too).
            id: new_id("ANPA", {
                let mut h = arn
                    .bytes()
                    .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
                move || {
                    h = h.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    h >> 8
                }
            }),
            attachment_count: store::attachment_count(c, &arn)?,
            arn,
            default_version: m.default_version.to_string(),
            create_date: m.create_date.to_string(),
            update_date: m.update_date.to_string(),
            description: Some(m.description.to_string()),
            tags: Vec::new(),
        })
    }

    pub fn create_policy(&self, p: CreatePolicy) -> Result<PolicyView, IamError> {
        let mut v = Violations::new();
        let name = required(&mut v, "policyName", p.policy_name.as_deref(), &POLICY_NAME);
        v.opt_string("path", p.path.as_deref(), &PATH);
        let doc = required(
            &mut v,
            "policyDocument",
            p.policy_document.as_deref(),
            &POLICY_DOCUMENT,
        );
        v.opt_string("description", p.description.as_deref(), &DESCRIPTION);
        v.finish()?;
        let (Some(name), Some(doc)) = (name, doc) else {
            return Err(IamError::validation("missing parameter"));
        };
        Self::check_identity(doc)?;
        let path = p.path.clone().unwrap_or_else(|| "/".into());
        let now = self.now();
        let rec = PolicyRecord {
            name: name.to_string(),
            arn: format!("arn:aws:iam::{}:policy{path}{name}", self.inner.account),
            path,
            id: new_id("ANPA", rand::random::<u32>),
            default_version: "v1".into(),
            next_version: 2,
            create_date: now.clone(),
            update_date: now.clone(),
            description: p.description.clone(),
            tags: p.tags.clone(),
        };
        let view = self.write(|tx| {
            if store::policy_name_taken(tx, name).map_err(db_err)? {
                return Err(policy_exists(name));
            }
            store::put_policy(tx, &rec).map_err(db_err)?;
            store::put_version(tx, &rec.arn, "v1", 1, doc, &now).map_err(db_err)?;
            self.view_of(tx, &rec).map_err(db_err)
        })?;
        tracing::info!(policy = %rec.arn, "IAM policy created");
        Ok(view)
    }

    pub fn get_policy(&self, arn: Option<&str>) -> Result<PolicyView, IamError> {
        let arn = Self::policy_arn_param(arn)?;
        self.read(|c| {
            if let Some(m) = managed::by_arn(arn) {
                return Self::managed_view(c, m).map(Some);
            }
            store::policy(c, arn)?
                .map(|p| self.view_of(c, &p))
                .transpose()
        })?
        .ok_or_else(|| policy_not_found(arn))
    }

    pub fn get_policy_version(
        &self,
        arn: Option<&str>,
        version: Option<&str>,
    ) -> Result<PolicyVersion, IamError> {
        let arn = Self::policy_arn_param(arn)?;
        let mut v = Violations::new();
        let version = v.required("versionId", version);
        v.finish()?;
        let version = version.unwrap_or_default();
        if let Some(m) = managed::by_arn(arn) {
            return if version == m.default_version {
                Ok(PolicyVersion {
                    version_id: version.to_string(),
                    document: m.document.to_string(),
                    is_default: true,
                    create_date: m.update_date.to_string(),
                })
            } else {
                Err(policy_version_not_found(arn, version))
            };
        }
        let p = self
            .read(|c| store::policy(c, arn))?
            .ok_or_else(|| policy_not_found(arn))?;
        self.read(|c| store::versions(c, arn, &p.default_version))?
            .into_iter()
            .find(|v| v.version_id == version)
            .ok_or_else(|| policy_version_not_found(arn, version))
    }

    pub fn list_policy_versions(&self, arn: Option<&str>) -> Result<Vec<PolicyVersion>, IamError> {
        let arn = Self::policy_arn_param(arn)?;
        if let Some(m) = managed::by_arn(arn) {
            return Ok(vec![PolicyVersion {
                version_id: m.default_version.to_string(),
                document: m.document.to_string(),
                is_default: true,
                create_date: m.update_date.to_string(),
            }]);
        }
        let p = self
            .read(|c| store::policy(c, arn))?
            .ok_or_else(|| policy_not_found(arn))?;
        let mut all = self.read(|c| store::versions(c, arn, &p.default_version))?;
        all.reverse();
        Ok(all)
    }

    pub fn create_policy_version(
        &self,
        arn: Option<&str>,
        doc: Option<&str>,
        set_as_default: bool,
    ) -> Result<PolicyVersion, IamError> {
        let arn = Self::policy_arn_param(arn)?;
        let mut v = Violations::new();
        let doc = required(&mut v, "policyDocument", doc, &POLICY_DOCUMENT);
        v.finish()?;
        let doc = doc.unwrap_or_default();
        Self::check_identity(doc)?;
        let now = self.now();
        self.write(|tx| {
            let mut p = store::policy(tx, arn)
                .map_err(db_err)?
                .ok_or_else(|| policy_not_found(arn))?;
            if store::versions(tx, arn, &p.default_version)
                .map_err(db_err)?
                .len()
                >= MAX_POLICY_VERSIONS
            {
                return Err(too_many_versions());
            }
            let id = format!("v{}", p.next_version);
            store::put_version(tx, arn, &id, p.next_version, doc, &now).map_err(db_err)?;
            p.next_version += 1;
            if set_as_default {
                p.default_version = id.clone();
            }
            p.update_date = now.clone();
            store::put_policy(tx, &p).map_err(db_err)?;
            Ok(PolicyVersion {
                version_id: id,
                document: doc.to_string(),
                is_default: set_as_default,
                create_date: now.clone(),
            })
        })
    }

    pub fn list_policies(&self, f: &ListPolicies) -> Result<Vec<PolicyView>, IamError> {
        let scope = f.scope.as_deref().unwrap_or("All");
        if !matches!(scope, "All" | "AWS" | "Local") {
            return Err(IamError::validation(format!(
                "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
            )));
        }
        let prefix = f.path_prefix.as_deref().unwrap_or("/");
        let mut out = self.read(|c| {
            let mut out = Vec::new();
            if scope != "Local" {
                for m in MANAGED {
                    out.push(Self::managed_view(c, m)?);
                }
            }
            if scope != "AWS" {
                for p in store::policies(c)? {
                    out.push(self.view_of(c, &p)?);
                }
            }
            Ok(out)
        })?;
        out.retain(|p| p.path.starts_with(prefix) && (!f.only_attached || p.attachment_count > 0));
        Ok(out)
    }

    pub fn delete_policy(&self, arn: Option<&str>) -> Result<(), IamError> {
        let arn = Self::policy_arn_param(arn)?;
        self.write(|tx| {
            if store::policy(tx, arn).map_err(db_err)?.is_none() {
                return Err(policy_not_found(arn));
            }
            if store::attachment_count(tx, arn).map_err(db_err)? > 0 {
                return Err(policy_attached());
            }
            store::delete_policy(tx, arn).map_err(db_err)
        })
    }

    // ---- attachments ----

    pub fn attach_role_policy(
        &self,
        role: Option<&str>,
        arn: Option<&str>,
    ) -> Result<(), IamError> {
        let role = Self::role_name_param(role)?;
        let arn = Self::policy_arn_param(arn)?;
        self.write(|tx| {
            if store::role(tx, role).map_err(db_err)?.is_none() {
                return Err(role_not_found(role));
            }
            let (name, _) = Self::managed_document(tx, arn)
                .map_err(db_err)?
                .ok_or_else(|| policy_not_attachable(arn))?;
            store::attach(tx, role, arn, &name)
                .map_err(db_err)
                .map(|_| ())
        })
    }

    pub fn detach_role_policy(
        &self,
        role: Option<&str>,
        arn: Option<&str>,
    ) -> Result<(), IamError> {
        let role = Self::role_name_param(role)?;
        let arn = Self::policy_arn_param(arn)?;
        self.write(|tx| {
            if store::role(tx, role).map_err(db_err)?.is_none() {
                return Err(role_not_found(role));
            }
            if !store::detach(tx, role, arn).map_err(db_err)? {
                return Err(policy_not_found(arn));
            }
            Ok(())
        })
    }

    /// ListAttachedRolePolicies: (name, ARN) pairs.
    pub fn list_attached_role_policies(
        &self,
        role: Option<&str>,
    ) -> Result<Vec<(String, String)>, IamError> {
        let role = Self::role_name_param(role)?;
        self.get_role(Some(role))?;
        self.read(|c| store::attachments(c, role))
    }

    // ---- the authorizer ----

    /// The identity policies of role `name` (inline and attached), parsed; `None` for a role
    /// Hako does not know. Cached per role until the next write to IAM.
    fn identity_policies(&self, name: &str) -> Result<Option<Arc<Vec<Policy>>>, IamError> {
        let key = name.to_ascii_lowercase();
        if let Some(p) = self.inner.cache.read().get(&key) {
            return Ok(p.clone());
        }
        let docs = self.read(|c| {
            if store::role(c, name)?.is_none() {
                return Ok(None);
            }
            let mut docs: Vec<String> = store::role_policies(c, name)?
                .into_iter()
                .map(|(_, d)| d)
                .collect();
            for (_, arn) in store::attachments(c, name)? {
                if let Some((_, d)) = Self::managed_document(c, &arn)? {
                    docs.push(d);
                }
            }
            Ok(Some(docs))
        })?;
        let parsed = docs.map(|docs| {
            Arc::new(
                docs.iter()
                    // Every stored document was checked when it was written.
                    .filter_map(|d| Policy::parse(d, Kind::Identity).ok())
                    .collect::<Vec<_>>(),
            )
        });
        self.inner.cache.write().insert(key, parsed.clone());
        Ok(parsed)
    }

    /// Whether `who` may perform `action` on `resource`, by IAM's rules: root may do anything;
    /// a role session is allowed by its role's identity policies or by the resource's policy
    /// (`resource_policy`, the document of a Lambda function's AddPermission statements, for
    /// example), and an explicit deny in either wins. A role Hako does not know grants nothing
    /// but writing the function's own logs (`log_group`: `/aws/lambda/FUNCTION`).
    pub fn authorize(
        &self,
        who: &Requester,
        action: &str,
        resource: &str,
        resource_policy: Option<&str>,
        ctx: &Context,
        log_group: Option<&str>,
    ) -> Result<Decision, IamError> {
        let (arn, role_arn) = match who {
            Requester::Root { .. } => return Ok(Decision::Allow),
            Requester::Role { arn, role_arn } => (arn, role_arn),
        };
        let caller = Caller {
            arn: arn.clone(),
            account: self.inner.account.clone(),
            role_arn: Some(role_arn.clone()),
            service: None,
        };
        let mut ctx = ctx.clone();
        ctx.set("aws:PrincipalArn", vec![role_arn.clone()]);
        ctx.set("aws:PrincipalAccount", vec![self.inner.account.clone()]);
        ctx.set("aws:PrincipalType", vec!["AssumedRole".into()]);
        let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let identity = match self.identity_policies(role_name)? {
            Some(p) => p,
            None => Arc::new(unknown_role_policy(&self.inner.account, log_group)),
        };
        let mut verdict = Verdict::NotApplicable;
        for p in identity.iter() {
            match p.evaluate(&caller, action, resource, &ctx) {
                Verdict::Deny => return Ok(Decision::DenyInIdentityPolicy),
                Verdict::Allow => verdict = Verdict::Allow,
                Verdict::NotApplicable => {}
            }
        }
        if let Some(doc) = resource_policy {
            let p = Policy::parse(doc, Kind::Resource)?;
            match p.evaluate(&caller, action, resource, &ctx) {
                Verdict::Deny => return Ok(Decision::DenyInResourcePolicy),
                Verdict::Allow => verdict = Verdict::Allow,
                Verdict::NotApplicable => {}
            }
        }
        Ok(if verdict == Verdict::Allow {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        })
    }
}

/// What a role Hako does not know grants: the function's own logs, nothing else.
fn unknown_role_policy(account: &str, log_group: Option<&str>) -> Vec<Policy> {
    let Some(group) = log_group else {
        return Vec::new();
    };
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [
                format!("arn:aws:logs:*:{account}:log-group:{group}"),
                format!("arn:aws:logs:*:{account}:log-group:{group}:*"),
            ],
        }],
    });
    Policy::from_value(&doc, Kind::Identity)
        .map(|p| vec![p])
        .unwrap_or_default()
}
