//! Tags: TagResource, UntagResource, ListTags on a function's ARN.
//!
//! Tags belong to the function (they are kept on its `$LATEST` record and returned by
//! GetFunction); versions and aliases cannot be tagged, as on AWS. Tags are not part of what a
//! function runs, so changing them neither retires sandboxes nor changes the RevisionId (except
//! the reserved `hako:network` tag, which sets the sandboxes' network).

use std::collections::BTreeMap;

use hako_model::alias::{ListTagsResponse, TagResourceRequest, TAGS_MAX};
use hako_model::error::missing;
use hako_model::function::outbound_network;
use hako_model::validation::tags::no_tags;
use hako_model::validation::{shapes, Constraint, Violations};
use hako_model::wire::validate_tags;
use hako_model::{Error, ErrorKind, FunctionRef};

use crate::Lambda;

impl Lambda {
    /// The function a taggable resource ARN names; it must exist and be unqualified.
    fn tagged_function(&self, resource: &str) -> Result<String, Error> {
        let mut v = Violations::new();
        v.string("resource", resource, &shapes::TAGGABLE_RESOURCE);
        v.finish()?;
        let bad = || {
            hako_model::validation::violation(
                Some(resource),
                "resource",
                Constraint::Pattern(&shapes::TAGGABLE_RESOURCE_PATTERN),
            )
        };
        if resource.split(':').nth(5) != Some("function") {
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
            return Err(missing("tags"));
        };
        if tags.is_empty() {
            return Err(no_tags());
        }
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
        // An empty list does not reach AWS as a list: "Value null" (LocalStack's AWS-recorded
        // `test_tag_exceptions`, `untag_empty_keys`).
        if keys.is_empty() {
            return Err(missing("tagKeys"));
        }
        let mut v = Violations::new();
        v.list("tagKeys", keys, &shapes::TAG_KEY_LIST);
        v.finish()?;
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
