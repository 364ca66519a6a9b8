//! Tags: TagResource, UntagResource, ListTags on a function's ARN or an event source mapping's.
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

/// What a taggable resource ARN names.
enum Tagged {
    Function(String),
    Mapping(String),
}

impl Lambda {
    /// The resource a taggable resource ARN names: a function (it must exist and be
    /// unqualified) or an event source mapping (it must exist).
    fn tagged(&self, resource: &str) -> Result<Tagged, Error> {
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
        match resource.split(':').nth(5) {
            Some("function") => {}
            Some("event-source-mapping") => {
                let uuid = resource.split(':').nth(6).ok_or_else(bad)?;
                self.tagged_mapping(resource, uuid)?;
                return Ok(Tagged::Mapping(uuid.to_string()));
            }
            _ => return Err(bad()),
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
        Ok(Tagged::Function(r.name))
    }

    /// Changes the tags of what `resource` names.
    fn update_tagged<F>(&self, resource: &str, f: F) -> Result<(), Error>
    where
        F: FnOnce(&mut BTreeMap<String, String>) -> Result<(), Error>,
    {
        match self.tagged(resource)? {
            Tagged::Function(name) => self.update_tags(&name, f),
            Tagged::Mapping(uuid) => self.update_mapping_tags(&uuid, f),
        }
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
        self.update_tagged(resource, |current| {
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
        self.update_tagged(resource, |current| {
            for k in keys {
                current.remove(k);
            }
            Ok(())
        })
    }

    /// ListTags.
    pub fn list_tags(&self, resource: &str) -> Result<ListTagsResponse, Error> {
        let tags = match self.tagged(resource)? {
            Tagged::Function(name) => self.latest(&name)?.tags,
            Tagged::Mapping(uuid) => self.tagged_mapping(resource, &uuid)?.tags,
        };
        Ok(ListTagsResponse { tags })
    }
}
