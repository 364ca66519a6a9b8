//! Tags: TagResource, UntagResource, ListTags on a function's ARN.
//!
//! Tags belong to the function (they are kept on its `$LATEST` record and returned by
//! GetFunction); versions and aliases cannot be tagged, as on AWS. Tags are not part of what a
//! function runs, so changing them neither retires sandboxes nor changes the RevisionId (except
//! the reserved `hako:network` tag, which sets the sandboxes' network).

use std::collections::BTreeMap;

use hako_model::alias::{ListTagsResponse, TagResourceRequest, TAGS_MAX};
use hako_model::error::constraint;
use hako_model::function::outbound_network;
use hako_model::wire::validate_tags;
use hako_model::{Error, ErrorKind, FunctionRef};

use crate::Lambda;

const TAGGABLE_PATTERN: &str = "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})";

impl Lambda {
    /// The function a taggable resource ARN names; it must exist and be unqualified.
    fn tagged_function(&self, resource: &str) -> Result<String, Error> {
        let bad = || {
            constraint(
                resource,
                "resource",
                &format!("Member must satisfy regular expression pattern: {TAGGABLE_PATTERN}"),
            )
        };
        if !resource.starts_with("arn:aws") || resource.split(':').nth(5) != Some("function") {
            return Err(bad());
        }
        let r = FunctionRef::parse(resource, &self.region).map_err(|e| {
            if e.kind == ErrorKind::ResourceNotFound {
                e
            } else {
                bad()
            }
        })?;
        if r.qualifier.is_some() {
            return Err(Error::invalid(
                "Tags on function aliases and versions are not supported. Please specify a function ARN.",
            ));
        }
        self.latest(&r.name)?;
        Ok(r.name)
    }

    fn update_tags<F>(&self, name: &str, f: F) -> Result<(), Error>
    where
        F: FnOnce(&mut BTreeMap<String, String>) -> Result<(), Error>,
    {
        let mut network_changed = false;
        self.db
            .update_function(name, "$LATEST", |rec| {
                let before = outbound_network(&rec.tags);
                f(&mut rec.tags)?;
                network_changed = before != outbound_network(&rec.tags);
                Ok(())
            })
            .map_err(|e| self.not_found_as_arn(e, name))?;
        // The network is set when a sandbox starts: the function's running ones retire.
        if network_changed {
            self.invalidate(name);
        }
        Ok(())
    }

    /// TagResource.
    pub async fn tag_resource(&self, resource: &str, req: TagResourceRequest) -> Result<(), Error> {
        let Some(tags) = req.tags else {
            return Err(constraint("null", "tags", "Member must not be null"));
        };
        validate_tags(&tags)?;
        let _w = self.writes.lock().await;
        let name = self.tagged_function(resource)?;
        self.update_tags(&name, |current| {
            let mut merged = current.clone();
            merged.extend(tags);
            if merged.len() > TAGS_MAX {
                return Err(Error::invalid("Number of tags exceeds resource tag limit."));
            }
            *current = merged;
            Ok(())
        })
    }

    /// UntagResource.
    pub async fn untag_resource(&self, resource: &str, keys: &[String]) -> Result<(), Error> {
        if keys.is_empty() {
            return Err(constraint("null", "tagKeys", "Member must not be null"));
        }
        if let Some(k) = keys
            .iter()
            .find(|k| k.is_empty() || k.chars().count() > 128)
        {
            return Err(constraint(
                k,
                "tagKeys",
                "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
            ));
        }
        let _w = self.writes.lock().await;
        let name = self.tagged_function(resource)?;
        self.update_tags(&name, |current| {
            for k in keys {
                current.remove(k);
            }
            Ok(())
        })
    }

    /// ListTags.
    pub fn list_tags(&self, resource: &str) -> Result<ListTagsResponse, Error> {
        let name = self.tagged_function(resource)?;
        let rec = self.latest(&name)?;
        Ok(ListTagsResponse { tags: rec.tags })
    }
}
