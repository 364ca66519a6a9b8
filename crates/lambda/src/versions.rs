//! Versions: PublishVersion (also behind `Publish: true` on CreateFunction and
//! UpdateFunctionCode) and ListVersionsByFunction; the pagination the list calls share.
//!
//! A version is an immutable snapshot of `$LATEST`'s code and configuration, stored as its own
//! record. Publishing when nothing changed since the newest version returns that version.

use hako_model::alias::{self, ListVersionsByFunctionResponse, PublishVersionRequest};
use hako_model::validation::{query_integer, shapes, Violations};
use hako_model::wire::{validate_description, FunctionConfiguration};
use hako_model::{Error, ErrorKind, FunctionRecord, FunctionRef};
use hako_store::Publish;

use crate::{revision, stale_revision, Lambda};

/// A list call's `Marker` and `MaxItems` parameters, as the caller sent them.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    pub marker: Option<String>,
    pub max_items: Option<String>,
}

/// One page of `items` after the `Marker` (an item's key), at most `MaxItems` long (capped at
/// 50, as ListFunctions); the next marker when more follow.
pub fn page<'a, T>(
    items: &'a [T],
    key: impl Fn(&T) -> String,
    paging: &Paging,
) -> Result<(Vec<&'a T>, Option<String>), Error> {
    let max = match query_integer(
        "maxItems",
        paging.max_items.as_deref(),
        &shapes::MAX_LIST_ITEMS,
    )? {
        None => hako_model::limits::LIST_MAX_ITEMS,
        Some(n) => usize::try_from(n)
            .unwrap_or(1)
            .min(hako_model::limits::LIST_MAX_ITEMS),
    };
    let start = match &paging.marker {
        None => 0,
        Some(m) => match items.iter().position(|i| &key(i) == m) {
            Some(i) => i + 1,
            None => return Err(Error::invalid(format!("Invalid marker: {m}"))),
        },
    };
    let page: Vec<&T> = items.iter().skip(start).take(max).collect();
    let next = if start + page.len() < items.len() {
        page.last().map(|i| key(i))
    } else {
        None
    };
    Ok((page, next))
}

impl Lambda {
    /// A version's configuration as the version calls show it: the ARN always qualified, even
    /// `$LATEST`'s.
    pub(crate) fn version_config(&self, rec: &FunctionRecord) -> FunctionConfiguration {
        let mut c = FunctionConfiguration::from_record(rec, &self.region);
        c.function_arn = self.region.qualified_arn(&rec.name, &rec.version);
        c
    }

    /// Publishes `$LATEST` of `name` (the caller holds the write lock). `code_sha256` (base64)
    /// and `revision_id` guard against publishing something other than what the caller saw.
    pub(crate) fn publish(
        &self,
        name: &str,
        code_sha256: Option<&str>,
        description: Option<&str>,
        revision_id: Option<&str>,
    ) -> Result<FunctionRecord, Error> {
        let now = self.now();
        let version_revision = revision();
        let latest_revision = revision();
        let result = self.db.publish_version(name, |latest, newest, next| {
            if revision_id.is_some_and(|r| r != latest.revision_id) {
                return Err(stale_revision());
            }
            let current = latest.code_sha256_base64();
            if let Some(given) = code_sha256.filter(|c| !c.is_empty()) {
                if given != current {
                    return Err(alias::code_sha_mismatch(given, &current));
                }
            }
            if let Some(v) = newest.filter(|v| alias::unchanged(latest, v)) {
                return Ok(Publish::Existing(v.clone()));
            }
            let v = alias::snapshot(latest, next, description, &now, &version_revision);
            latest.revision_id = latest_revision;
            Ok(Publish::New(v))
        });
        let (v, created) = result.map_err(|e| {
            if e.kind == ErrorKind::ResourceNotFound {
                Error::function_not_found(&self.region.function_arn(name))
            } else {
                e
            }
        })?;
        if created {
            // $LATEST has a new RevisionId: what was resolved for it is stale.
            self.invalidate(name);
            tracing::info!(function = %name, version = %v.version, "version published");
        }
        Ok(v)
    }

    /// PublishVersion.
    pub async fn publish_version(
        &self,
        function: &str,
        req: PublishVersionRequest,
    ) -> Result<FunctionConfiguration, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        if let Some(d) = &req.description {
            validate_description(d)?;
        }
        if let Some(p) = &req.publish_to {
            let mut v = Violations::new();
            v.string("publishTo", p, &shapes::FUNCTION_VERSION_LATEST_PUBLISHED);
            v.finish()?;
            return Err(Error::invalid(
                "PublishTo is not supported by Hako: it applies to capacity providers.",
            ));
        }
        let _w = self.writes.lock().await;
        let v = self.publish(
            &r.name,
            req.code_sha256.as_deref(),
            req.description.as_deref(),
            req.revision_id.as_deref(),
        )?;
        Ok(self.version_config(&v))
    }

    /// ListVersionsByFunction.
    pub fn list_versions(
        &self,
        function: &str,
        paging: &Paging,
    ) -> Result<ListVersionsByFunctionResponse, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        let all = self.db.list_versions(&r.name)?;
        if all.is_empty() {
            return Err(Error::function_not_found(
                &self.region.function_arn(&r.name),
            ));
        }
        let (items, next_marker) = page(&all, |v| v.version.clone(), paging)?;
        Ok(ListVersionsByFunctionResponse {
            versions: items.into_iter().map(|v| self.version_config(v)).collect(),
            next_marker,
        })
    }
}
