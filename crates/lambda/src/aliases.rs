//! Aliases (CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias), and how a function
//! name and qualifier (`$LATEST`, a version number or an alias) become the version they address.
//!
//! Aliases are cached per function, next to the resolved functions, so that invoking through an
//! alias never touches the database; every alias or version change drops the function's entry.

use std::collections::HashMap;
use std::sync::Arc;

use hako_model::alias::{
    self, AliasConfiguration, AliasRecord, AliasRoutingConfiguration, CreateAliasRequest,
    ListAliasesResponse, UpdateAliasRequest,
};
use hako_model::error::missing;
use hako_model::wire::validate_description;
use hako_model::{Error, FunctionRef};

use crate::versions::{page, Paging};
use crate::{revision, stale_revision, Lambda};

/// The aliases of every function looked up since the last change, with a generation that
/// every invalidation bumps (a load that raced with a change is not kept).
#[derive(Debug, Default)]
pub(crate) struct AliasCache {
    generation: u64,
    by_function: HashMap<String, Arc<HashMap<String, AliasRecord>>>,
}

/// What a function name and qualifier address.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// `$LATEST`, a version number, or (through an alias) the alias's primary version.
    pub version: String,
    pub alias: Option<AliasRecord>,
    /// The qualifier the caller used, in the name or the `Qualifier` parameter (`None` for an
    /// unqualified name; `$LATEST` when named explicitly).
    pub qualifier: Option<String>,
}

impl Lambda {
    /// Forgets the cached aliases of `name`.
    pub(crate) fn invalidate_aliases(&self, name: &str) {
        {
            let mut c = self.aliases.write();
            c.generation += 1;
            c.by_function.remove(name);
        }
        self.invalidate_urls(name);
    }

    /// The alias `alias` of function `name`, from the cache (loaded once per change).
    pub fn alias(&self, name: &str, alias: &str) -> Result<Option<AliasRecord>, Error> {
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

    /// Resolves a function name (or ARN) and a `Qualifier` parameter. A missing alias is
    /// "Function not found" with the alias's ARN, as AWS answers Invoke and GetFunction
    /// (LocalStack's AWS-recorded snapshot test_alias_lifecycle).
    pub fn target(&self, name: &str, qualifier: Option<&str>) -> Result<Target, Error> {
        let r = FunctionRef::parse(name, &self.region)?.with_qualifier(qualifier)?;
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
            None => Err(Error::function_not_found(
                &self.region.qualified_arn(&r.name, &qualifier),
            )),
        }
    }

    /// The function a name or ARN names; it must exist (its qualifier, if any, plays no part
    /// in alias calls).
    fn alias_function(&self, name: &str) -> Result<String, Error> {
        let r = FunctionRef::parse(name, &self.region)?;
        self.latest(&r.name)?;
        Ok(r.name)
    }

    fn require_version(&self, name: &str, version: &str) -> Result<(), Error> {
        if self.db.get_function(name, version)?.is_none() {
            return Err(Error::function_not_found(&self.arn_of(name, version)));
        }
        Ok(())
    }

    fn alias_arn(&self, function: &str, alias: &str) -> String {
        self.region.qualified_arn(function, alias)
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        function: &str,
        req: CreateAliasRequest,
    ) -> Result<AliasConfiguration, Error> {
        let Some(alias_name) = req.name else {
            return Err(missing("name"));
        };
        alias::validate_alias_name(&alias_name)?;
        let Some(version) = req.function_version else {
            return Err(missing("functionVersion"));
        };
        alias::validate_function_version(&version)?;
        let description = req.description.unwrap_or_default();
        validate_description(&description)?;
        let weights = alias::validate_routing(&version, req.routing_config.as_ref())?;
        let _w = self.writes.lock().await;
        // A function that does not exist is answered with the version asked for: "Function not
        // found: ARN:1" (LocalStack's AWS-recorded `test_notfound_and_invalid_routingconfigs`,
        // `routing_config_exc_fn_doesnotexist`).
        let fname = FunctionRef::parse(function, &self.region)?.name;
        self.require_version(&fname, &version)?;
        for v in weights.keys() {
            self.require_version(&fname, v)?;
        }
        let rec = AliasRecord {
            function_name: fname.clone(),
            name: alias_name,
            function_version: version,
            description,
            additional_version_weights: weights,
            revision_id: revision(),
        };
        if !self.db.insert_alias(&rec)? {
            return Err(Error::conflict(format!(
                "Alias already exists: {}",
                self.alias_arn(&fname, &rec.name)
            )));
        }
        self.invalidate_aliases(&fname);
        tracing::info!(function = %fname, alias = %rec.name, version = %rec.function_version, "alias created");
        Ok(AliasConfiguration::from_record(&rec, &self.region))
    }

    /// GetAlias.
    pub fn get_alias(&self, function: &str, alias_name: &str) -> Result<AliasConfiguration, Error> {
        alias::validate_alias_name(alias_name)?;
        let fname = self.alias_function(function)?;
        let a = self
            .db
            .get_alias(&fname, alias_name)?
            .ok_or_else(|| alias::alias_not_found(&self.alias_arn(&fname, alias_name)))?;
        Ok(AliasConfiguration::from_record(&a, &self.region))
    }

    /// ListAliases, optionally only those that route to `function_version`.
    pub fn list_aliases(
        &self,
        function: &str,
        function_version: Option<&str>,
        paging: &Paging,
    ) -> Result<ListAliasesResponse, Error> {
        if let Some(v) = function_version {
            alias::validate_function_version(v)?;
        }
        let fname = self.alias_function(function)?;
        let all: Vec<AliasRecord> = self
            .db
            .list_aliases(&fname)?
            .into_iter()
            .filter(|a| function_version.is_none_or(|v| a.uses_version(v)))
            .collect();
        let (items, next_marker) = page(&all, |a| a.name.clone(), paging)?;
        Ok(ListAliasesResponse {
            aliases: items
                .into_iter()
                .map(|a| AliasConfiguration::from_record(a, &self.region))
                .collect(),
            next_marker,
        })
    }

    /// UpdateAlias.
    pub async fn update_alias(
        &self,
        function: &str,
        alias_name: &str,
        req: UpdateAliasRequest,
    ) -> Result<AliasConfiguration, Error> {
        alias::validate_alias_name(alias_name)?;
        if let Some(v) = &req.function_version {
            alias::validate_function_version(v)?;
        }
        if let Some(d) = &req.description {
            validate_description(d)?;
        }
        let _w = self.writes.lock().await;
        let fname = self.alias_function(function)?;
        // AWS: "Alias not found" here, "Cannot find alias arn" on GetAlias (LocalStack's
        // AWS-recorded snapshot test_non_existent_alias_update).
        let not_found = || alias::update_alias_not_found(&self.alias_arn(&fname, alias_name));
        let current = self
            .db
            .get_alias(&fname, alias_name)?
            .ok_or_else(not_found)?;
        if req
            .revision_id
            .as_ref()
            .is_some_and(|r| *r != current.revision_id)
        {
            return Err(stale_revision());
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
        self.require_version(&fname, &version)?;
        for v in weights.keys() {
            self.require_version(&fname, v)?;
        }
        // An alias with provisioned concurrency cannot move onto a version provisioned otherwise.
        if version != current.function_version
            && self.provisioned_elsewhere(&fname, alias_name, &version)?
        {
            return Err(hako_model::provisioned::version_already_provisioned());
        }
        let rev = revision();
        let given_revision = req.revision_id.clone();
        let updated = self.db.update_alias(&fname, alias_name, |a| {
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
        self.invalidate_aliases(&fname);
        self.alias_moved(
            &fname,
            &a.name,
            &current.function_version,
            &a.function_version,
        );
        tracing::info!(function = %fname, alias = %a.name, version = %a.function_version, "alias updated");
        Ok(AliasConfiguration::from_record(&a, &self.region))
    }

    /// DeleteAlias (its provisioned concurrency goes with it).
    pub async fn delete_alias(&self, function: &str, alias_name: &str) -> Result<(), Error> {
        alias::validate_alias_name(alias_name)?;
        let _w = self.writes.lock().await;
        let fname = self.alias_function(function)?;
        let version = self
            .db
            .get_alias(&fname, alias_name)?
            .map(|a| a.function_version);
        let provisioned = self
            .db
            .list_provisioned(Some(&fname))?
            .iter()
            .any(|c| c.qualifier == alias_name);
        if !self.db.delete_alias(&fname, alias_name)? {
            return Err(alias::alias_not_found(&self.alias_arn(&fname, alias_name)));
        }
        self.invalidate_aliases(&fname);
        // Its provisioned concurrency went with it (in the same transaction): its sandboxes stop.
        if let (true, Some(v)) = (provisioned, version) {
            self.engine.unprovision(&fname, &v);
        }
        tracing::info!(function = %fname, alias = %alias_name, "alias deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hako_model::alias::{AliasRoutingConfiguration, CreateAliasRequest, UpdateAliasRequest};
    use hako_model::ErrorKind;

    use crate::testing::{code_request, create, fixture, Fixture};
    use crate::Paging;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    fn alias_to(name: &str, version: &str) -> CreateAliasRequest {
        CreateAliasRequest {
            name: Some(name.into()),
            function_version: Some(version.into()),
            ..CreateAliasRequest::default()
        }
    }

    /// `f` with versions 1 (package "one") and 2 (package "two").
    async fn two_versions() -> Fixture {
        let f = fixture().await;
        create(&f, "f", "one").await;
        f.lambda
            .publish_version("f", Default::default())
            .await
            .unwrap();
        f.lambda
            .update_function_code("f", code_request("two"))
            .await
            .unwrap();
        f.lambda
            .publish_version("f", Default::default())
            .await
            .unwrap();
        f
    }

    fn bootstrap_of(l: &crate::Lambda, version: &str) -> String {
        let r = l.resolve("f", version).unwrap();
        std::fs::read_to_string(r.code_dir.join("bootstrap")).unwrap()
    }

    #[tokio::test]
    async fn names_versions_and_aliases_resolve_to_their_version() {
        let f = two_versions().await;
        let l = &f.lambda;
        l.create_alias("f", alias_to("live", "1")).await.unwrap();
        let cases = [
            ("f", None, "$LATEST", None),
            ("f", Some("$LATEST"), "$LATEST", Some("$LATEST")),
            ("f", Some("2"), "2", Some("2")),
            ("f:1", None, "1", Some("1")),
            ("f", Some("live"), "1", Some("live")),
            (ARN, Some("live"), "1", Some("live")),
        ];
        for (name, qualifier, version, given) in cases {
            let t = l.target(name, qualifier).unwrap();
            assert_eq!(t.name, "f");
            assert_eq!(t.version, version, "{name} {qualifier:?}");
            assert_eq!(t.qualifier.as_deref(), given);
            assert_eq!(t.alias.is_some(), given == Some("live"));
        }
        assert!(bootstrap_of(l, "1").contains("echo one"));
        assert!(bootstrap_of(l, "2").contains("echo two"));
    }

    #[tokio::test]
    async fn a_missing_alias_is_not_found_as_aws_says_it_per_call() {
        let f = two_versions().await;
        let l = &f.lambda;
        // Invoke and GetFunction say the function is not found (at the alias's ARN);
        // GetAlias that the alias is (LocalStack's AWS-recorded snapshots test_alias_lifecycle
        // and test_notfound_and_invalid_routingconfigs); UpdateAlias says it its own way
        // (test_non_existent_alias_update).
        let invoke = l.target("f", Some("nope")).unwrap_err();
        assert_eq!(invoke.kind, ErrorKind::ResourceNotFound);
        assert_eq!(invoke.message, format!("Function not found: {ARN}:nope"));
        let get = l.get_function_configuration("f", Some("nope")).unwrap_err();
        assert_eq!(get.message, format!("Function not found: {ARN}:nope"));
        let alias = l.get_alias("f", "nope").unwrap_err();
        assert_eq!(alias.message, format!("Cannot find alias arn: {ARN}:nope"));
        let update = l
            .update_alias("f", "nope", UpdateAliasRequest::default())
            .await
            .unwrap_err();
        assert_eq!(update.message, format!("Alias not found: {ARN}:nope"));
    }

    #[tokio::test]
    async fn moving_an_alias_is_seen_by_the_next_resolution() {
        let f = two_versions().await;
        let l = &f.lambda;
        l.create_alias("f", alias_to("live", "1")).await.unwrap();
        assert_eq!(l.target("f", Some("live")).unwrap().version, "1");
        let moved = UpdateAliasRequest {
            function_version: Some("2".into()),
            ..UpdateAliasRequest::default()
        };
        l.update_alias("f", "live", moved).await.unwrap();
        assert_eq!(l.target("f", Some("live")).unwrap().version, "2");
        l.delete_alias("f", "live").await.unwrap();
        assert!(l.target("f", Some("live")).is_err());
        assert!(l.get_alias("f", "live").is_err());
    }

    #[tokio::test]
    async fn weighted_routing_and_listing() {
        let f = two_versions().await;
        let l = &f.lambda;
        let mut weights = BTreeMap::new();
        weights.insert("2".to_string(), 0.5);
        let mut req = alias_to("canary", "1");
        req.routing_config = Some(AliasRoutingConfiguration {
            additional_version_weights: Some(weights),
        });
        l.create_alias("f", req).await.unwrap();
        l.create_alias("f", alias_to("live", "2")).await.unwrap();
        let a = l.target("f", Some("canary")).unwrap().alias.unwrap();
        assert_eq!(a.pick_version(0.1), "2");
        assert_eq!(a.pick_version(0.9), "1");
        let uses_1 = l.list_aliases("f", Some("1"), &Paging::default()).unwrap();
        assert_eq!(uses_1.aliases.len(), 1);
        let uses_2 = l.list_aliases("f", Some("2"), &Paging::default()).unwrap();
        assert_eq!(uses_2.aliases.len(), 2);
        // An alias to a version that does not exist is refused.
        let e = l.create_alias("f", alias_to("x", "9")).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::ResourceNotFound);
        assert_eq!(e.message, format!("Function not found: {ARN}:9"));
        let dup = l
            .create_alias("f", alias_to("live", "1"))
            .await
            .unwrap_err();
        assert_eq!(dup.kind, ErrorKind::ResourceConflict);
    }

    #[tokio::test]
    async fn publishing_nothing_new_returns_the_newest_version() {
        let f = two_versions().await;
        let l = &f.lambda;
        let again = l.publish_version("f", Default::default()).await.unwrap();
        assert_eq!(again.version, "2");
        let versions = l.list_versions("f", &Paging::default()).unwrap();
        let names: Vec<&str> = versions
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(names, ["$LATEST", "1", "2"]);
    }
}
