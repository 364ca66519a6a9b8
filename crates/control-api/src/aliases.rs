//! Aliases: CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias; and how a request's
//! qualifier (`$LATEST`, a version number or an alias) becomes the version it addresses.
//!
//! Aliases are cached per function, next to the resolved functions, so that invoking through an
//! alias never touches the database; every alias or version change drops the function's entry.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hako_model::alias::{
    self, AliasConfiguration, AliasRecord, AliasRoutingConfiguration, CreateAliasRequest,
    ListAliasesResponse, UpdateAliasRequest,
};
use hako_model::error::constraint;
use hako_model::wire::validate_description;
use hako_model::{Error, ErrorKind, FunctionRef};

use crate::error::{ApiError, ApiResult};
use crate::versions::{page, CONFIG_REQUEST_MAX_BYTES};
use crate::{json_response, parse_json, read_body, ApiState};

type Params = Query<HashMap<String, String>>;

/// The aliases of every function looked up since the last change, with a generation that
/// every invalidation bumps (a load that raced with a change is not kept).
#[derive(Debug, Default)]
pub(crate) struct AliasCache {
    generation: u64,
    by_function: HashMap<String, Arc<HashMap<String, AliasRecord>>>,
}

/// What a function name and qualifier address.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) name: String,
    /// `$LATEST`, a version number, or (through an alias) the alias's primary version.
    pub(crate) version: String,
    pub(crate) alias: Option<AliasRecord>,
    /// The qualifier the caller used, in the name or the `Qualifier` parameter (`None` for an
    /// unqualified name; `$LATEST` when named explicitly).
    pub(crate) qualifier: Option<String>,
}

impl ApiState {
    /// Forgets the cached aliases of `name`.
    pub(crate) fn invalidate_aliases(&self, name: &str) {
        let mut c = self.aliases.write();
        c.generation += 1;
        c.by_function.remove(name);
    }

    /// The alias `alias` of function `name`, from the cache (loaded once per change).
    pub(crate) fn alias(&self, name: &str, alias: &str) -> Result<Option<AliasRecord>, Error> {
        let generation = {
            let c = self.aliases.read();
            if let Some(m) = c.by_function.get(name) {
                return Ok(m.get(alias).cloned());
            }
            c.generation
        };
        let all: HashMap<String, AliasRecord> = self
            .db
            .list_aliases(name)?
            .into_iter()
            .map(|a| (a.name.clone(), a))
            .collect();
        let found = all.get(alias).cloned();
        let mut c = self.aliases.write();
        if c.generation == generation {
            c.by_function.insert(name.to_string(), Arc::new(all));
        }
        Ok(found)
    }

    /// Resolves a path's function name and the `Qualifier` parameter. A missing alias is
    /// "Function not found" for invocations and "Cannot find alias arn" for the other calls,
    /// as AWS answers them.
    pub(crate) fn target(
        &self,
        name: &str,
        q: &HashMap<String, String>,
        for_invoke: bool,
    ) -> ApiResult<Target> {
        let r = FunctionRef::parse(name, &self.region)?
            .with_qualifier(q.get("Qualifier").map(String::as_str))?;
        let Some(qualifier) = r.qualifier else {
            return Ok(Target {
                name: r.name,
                version: "$LATEST".to_string(),
                alias: None,
                qualifier: None,
            });
        };
        if qualifier == "$LATEST" || alias::is_version_number(&qualifier) {
            return Ok(Target {
                name: r.name,
                version: qualifier.clone(),
                alias: None,
                qualifier: Some(qualifier),
            });
        }
        match self.alias(&r.name, &qualifier)? {
            Some(a) => Ok(Target {
                name: r.name,
                version: a.function_version.clone(),
                alias: Some(a),
                qualifier: Some(qualifier),
            }),
            None => {
                let arn = self.region.qualified_arn(&r.name, &qualifier);
                Err(ApiError(if for_invoke {
                    Error::function_not_found(&arn)
                } else {
                    alias::alias_not_found(&arn)
                }))
            }
        }
    }
}

fn revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The function a path names (its qualifier, if any, plays no part in alias calls).
fn function_name(st: &ApiState, name: &str) -> ApiResult<String> {
    let r = FunctionRef::parse(name, &st.region)?;
    if st.db.get_function(&r.name, "$LATEST")?.is_none() {
        return Err(ApiError(Error::function_not_found(
            &st.region.function_arn(&r.name),
        )));
    }
    Ok(r.name)
}

fn require_version(st: &ApiState, name: &str, version: &str) -> ApiResult<()> {
    if st.db.get_function(name, version)?.is_none() {
        return Err(ApiError(Error::function_not_found(
            &st.arn_of(name, version),
        )));
    }
    Ok(())
}

fn check_alias_name(name: &str) -> ApiResult<()> {
    alias::validate_alias_name(name).map_err(ApiError)
}

fn alias_arn(st: &ApiState, function: &str, alias: &str) -> String {
    st.region.qualified_arn(function, alias)
}

fn stale_revision() -> Error {
    Error::new(
        ErrorKind::PreconditionFailed,
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
}

pub(crate) async fn create(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "CreateAlias").await?;
    let req: CreateAliasRequest = parse_json(&body)?;
    let Some(alias_name) = req.name else {
        return Err(ApiError(constraint(
            "null",
            "name",
            "Member must not be null",
        )));
    };
    check_alias_name(&alias_name)?;
    let Some(version) = req.function_version else {
        return Err(ApiError(constraint(
            "null",
            "functionVersion",
            "Member must not be null",
        )));
    };
    alias::validate_function_version(&version)?;
    let description = req.description.unwrap_or_default();
    validate_description(&description)?;
    let weights = alias::validate_routing(&version, req.routing_config.as_ref())?;
    let _w = st.writes.lock().await;
    let fname = function_name(&st, &name)?;
    require_version(&st, &fname, &version)?;
    for v in weights.keys() {
        require_version(&st, &fname, v)?;
    }
    let rec = AliasRecord {
        function_name: fname.clone(),
        name: alias_name,
        function_version: version,
        description,
        additional_version_weights: weights,
        revision_id: revision(),
    };
    if !st.db.insert_alias(&rec)? {
        return Err(ApiError(Error::conflict(format!(
            "Alias already exists: {}",
            alias_arn(&st, &fname, &rec.name)
        ))));
    }
    st.invalidate_aliases(&fname);
    tracing::info!(function = %fname, alias = %rec.name, version = %rec.function_version, "alias created");
    Ok(json_response(
        StatusCode::CREATED,
        &AliasConfiguration::from_record(&rec, &st.region),
    ))
}

pub(crate) async fn get(
    State(st): State<Arc<ApiState>>,
    Path((name, alias_name)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_alias_name(&alias_name)?;
    let fname = function_name(&st, &name)?;
    let a = st
        .db
        .get_alias(&fname, &alias_name)?
        .ok_or_else(|| alias::alias_not_found(&alias_arn(&st, &fname, &alias_name)))?;
    Ok(json_response(
        StatusCode::OK,
        &AliasConfiguration::from_record(&a, &st.region),
    ))
}

pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let filter = q.get("FunctionVersion");
    if let Some(v) = filter {
        alias::validate_function_version(v)?;
    }
    let fname = function_name(&st, &name)?;
    let all: Vec<AliasRecord> = st
        .db
        .list_aliases(&fname)?
        .into_iter()
        .filter(|a| filter.is_none_or(|v| a.uses_version(v)))
        .collect();
    let (items, next_marker) = page(&all, |a| a.name.clone(), &q)?;
    let resp = ListAliasesResponse {
        aliases: items
            .into_iter()
            .map(|a| AliasConfiguration::from_record(a, &st.region))
            .collect(),
        next_marker,
    };
    Ok(json_response(StatusCode::OK, &resp))
}

pub(crate) async fn update(
    State(st): State<Arc<ApiState>>,
    Path((name, alias_name)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Response> {
    let body = read_body(body, CONFIG_REQUEST_MAX_BYTES, "UpdateAlias").await?;
    let req: UpdateAliasRequest = parse_json(&body)?;
    check_alias_name(&alias_name)?;
    if let Some(v) = &req.function_version {
        alias::validate_function_version(v)?;
    }
    if let Some(d) = &req.description {
        validate_description(d)?;
    }
    let _w = st.writes.lock().await;
    let fname = function_name(&st, &name)?;
    let not_found = || ApiError(alias::alias_not_found(&alias_arn(&st, &fname, &alias_name)));
    let current = st
        .db
        .get_alias(&fname, &alias_name)?
        .ok_or_else(not_found)?;
    if req
        .revision_id
        .as_ref()
        .is_some_and(|r| *r != current.revision_id)
    {
        return Err(ApiError(stale_revision()));
    }
    let version = req
        .function_version
        .clone()
        .unwrap_or_else(|| current.function_version.clone());
    // Without RoutingConfig the alias keeps its routing, which must suit the new version.
    let routing = req
        .routing_config
        .clone()
        .unwrap_or_else(|| AliasRoutingConfiguration {
            additional_version_weights: Some(current.additional_version_weights.clone()),
        });
    let weights = alias::validate_routing(&version, Some(&routing))?;
    require_version(&st, &fname, &version)?;
    for v in weights.keys() {
        require_version(&st, &fname, v)?;
    }
    // An alias with provisioned concurrency cannot move onto a version provisioned otherwise.
    if version != current.function_version
        && st.provisioned_elsewhere(&fname, &alias_name, &version)?
    {
        return Err(ApiError(
            hako_model::provisioned::version_already_provisioned(),
        ));
    }
    let rev = revision();
    let given_revision = req.revision_id.clone();
    let updated = st.db.update_alias(&fname, &alias_name, |a| {
        if given_revision.as_ref().is_some_and(|r| *r != a.revision_id) {
            return Err(stale_revision());
        }
        a.function_version = version;
        if let Some(d) = req.description {
            a.description = d;
        }
        a.additional_version_weights = weights;
        a.revision_id = rev;
        Ok(())
    })?;
    let a = updated.ok_or_else(not_found)?;
    st.invalidate_aliases(&fname);
    st.alias_moved(
        &fname,
        &a.name,
        &current.function_version,
        &a.function_version,
    );
    tracing::info!(function = %fname, alias = %a.name, version = %a.function_version, "alias updated");
    Ok(json_response(
        StatusCode::OK,
        &AliasConfiguration::from_record(&a, &st.region),
    ))
}

pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    Path((name, alias_name)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_alias_name(&alias_name)?;
    let _w = st.writes.lock().await;
    let fname = function_name(&st, &name)?;
    let version = st
        .db
        .get_alias(&fname, &alias_name)?
        .map(|a| a.function_version);
    let provisioned = st
        .db
        .list_provisioned(Some(&fname))?
        .iter()
        .any(|c| c.qualifier == alias_name);
    if !st.db.delete_alias(&fname, &alias_name)? {
        return Err(ApiError(alias::alias_not_found(&alias_arn(
            &st,
            &fname,
            &alias_name,
        ))));
    }
    st.invalidate_aliases(&fname);
    // Its provisioned concurrency went with it (in the same transaction): its sandboxes stop.
    if let (true, Some(v)) = (provisioned, version) {
        st.engine.unprovision(&fname, &v);
    }
    tracing::info!(function = %fname, alias = %alias_name, "alias deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
