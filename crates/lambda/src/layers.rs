//! Layers (API 2018-10-31): PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn,
//! ListLayers, ListLayerVersions, DeleteLayerVersion, Add/RemoveLayerVersionPermission,
//! GetLayerVersionPolicy; and the resolution of a function's `Layers` into the copies its
//! configuration keeps.
//!
//! A layer version's zip lives in the code store like a function's package; a function keeps
//! the hash of each layer it uses, so deleting a layer version never breaks a function that
//! uses it (the package stays while anything refers to it).

use hako_model::layer::{
    self, AddLayerVersionPermissionRequest, AddLayerVersionPermissionResponse, FunctionLayer,
    GetLayerVersionPolicyResponse, GetLayerVersionResponse, LayerVersionRecord, LayersListItem,
    ListLayerVersionsResponse, ListLayersResponse, PublishLayerVersionRequest,
};
use hako_model::{limits, Error};

use crate::versions::{page, Paging};
use crate::{revision, Lambda};

fn not_found() -> Error {
    Error::not_found(layer::NOT_FOUND)
}

fn check_policy_revision(rec: &LayerVersionRecord, given: Option<&str>) -> Result<(), Error> {
    match given {
        Some(r) if Some(r) != rec.policy_revision_id.as_deref() => {
            Err(layer::policy_revision_mismatch())
        }
        _ => Ok(()),
    }
}

/// AWS's limit on a function's code and layers together, unzipped.
pub(crate) fn check_total_size(code_unzipped: u64, layers: &[FunctionLayer]) -> Result<(), Error> {
    let total = code_unzipped
        + layers
            .iter()
            .map(|l| u64::try_from(l.unzipped_size).unwrap_or(0))
            .sum::<u64>();
    if !layers.is_empty() && total > limits::UNZIPPED_MAX_BYTES {
        return Err(layer::too_big_with_layers(total));
    }
    Ok(())
}

impl Lambda {
    fn layer_ids(&self, name: &str, version: &str) -> Result<(String, u64), Error> {
        Ok((
            layer::parse_layer_name(name, &self.region)?,
            layer::parse_version_number(version)?,
        ))
    }

    fn load_layer(&self, name: &str, version: u64) -> Result<LayerVersionRecord, Error> {
        self.db
            .get_layer_version(name, version)?
            .ok_or_else(not_found)
    }

    /// PublishLayerVersion; `code_location` says where the caller can download a package (by
    /// its SHA-256, hex).
    pub async fn publish_layer_version(
        &self,
        layer_name: &str,
        req: PublishLayerVersionRequest,
        code_location: impl FnOnce(&str) -> String,
    ) -> Result<GetLayerVersionResponse, Error> {
        let name = layer::parse_layer_name(layer_name, &self.region)?;
        let valid = layer::validate_publish(req)?;
        let info = self.store_zip(valid.zip).await?;
        let rec = self.db.publish_layer_version(LayerVersionRecord {
            layer_name: name,
            version: 0,
            description: valid.description,
            created_date: self.now(),
            compatible_runtimes: valid.compatible_runtimes,
            compatible_architectures: valid.compatible_architectures,
            license_info: valid.license_info,
            code_sha256_hex: info.sha256_hex,
            code_size: info.size as i64,
            unzipped_size: info.unzipped_size as i64,
            policy: Vec::new(),
            policy_revision_id: None,
        })?;
        tracing::info!(layer = %rec.layer_name, version = rec.version, "layer version published");
        let location = code_location(&rec.code_sha256_hex);
        Ok(rec.get_response(&self.region, location))
    }

    /// GetLayerVersion.
    pub fn get_layer_version(
        &self,
        layer_name: &str,
        version: &str,
        code_location: impl FnOnce(&str) -> String,
    ) -> Result<GetLayerVersionResponse, Error> {
        let (name, version) = self.layer_ids(layer_name, version)?;
        let rec = self.load_layer(&name, version)?;
        let location = code_location(&rec.code_sha256_hex);
        Ok(rec.get_response(&self.region, location))
    }

    /// GetLayerVersionByArn.
    pub fn get_layer_version_by_arn(
        &self,
        arn: &str,
        code_location: impl FnOnce(&str) -> String,
    ) -> Result<GetLayerVersionResponse, Error> {
        let Some((name, version)) = layer::parse_layer_version_arn(arn, &self.region)? else {
            return Err(not_found());
        };
        let rec = self.load_layer(&name, version)?;
        let location = code_location(&rec.code_sha256_hex);
        Ok(rec.get_response(&self.region, location))
    }

    /// ListLayers: the newest version of each layer that matches the filters.
    pub fn list_layers(
        &self,
        runtime: Option<&str>,
        architecture: Option<&str>,
        paging: &Paging,
    ) -> Result<ListLayersResponse, Error> {
        layer::validate_filters(runtime, architecture)?;
        let all = self.db.list_layer_versions(None)?;
        // Newest matching version of each layer (versions come newest first per layer).
        let mut latest: Vec<&LayerVersionRecord> = Vec::new();
        for v in all.iter().filter(|v| v.matches(runtime, architecture)) {
            if latest.last().is_none_or(|l| l.layer_name != v.layer_name) {
                latest.push(v);
            }
        }
        let (items, next_marker) = page(&latest, |l| l.layer_name.clone(), paging)?;
        Ok(ListLayersResponse {
            layers: items
                .into_iter()
                .map(|l| LayersListItem {
                    layer_name: l.layer_name.clone(),
                    layer_arn: self.region.layer_arn(&l.layer_name),
                    latest_matching_version: l.list_item(&self.region),
                })
                .collect(),
            next_marker,
        })
    }

    /// ListLayerVersions.
    pub fn list_layer_versions(
        &self,
        layer_name: &str,
        runtime: Option<&str>,
        architecture: Option<&str>,
        paging: &Paging,
    ) -> Result<ListLayerVersionsResponse, Error> {
        let name = layer::parse_layer_name(layer_name, &self.region)?;
        layer::validate_filters(runtime, architecture)?;
        let all: Vec<LayerVersionRecord> = self
            .db
            .list_layer_versions(Some(&name))?
            .into_iter()
            .filter(|v| v.matches(runtime, architecture))
            .collect();
        let (items, next_marker) = page(&all, |v| v.version.to_string(), paging)?;
        Ok(ListLayerVersionsResponse {
            layer_versions: items
                .into_iter()
                .map(|v| v.list_item(&self.region))
                .collect(),
            next_marker,
        })
    }

    /// DeleteLayerVersion: done whether or not the version existed (as AWS). Functions that use
    /// it keep working: its package stays while they refer to it.
    pub fn delete_layer_version(&self, layer_name: &str, version: &str) -> Result<(), Error> {
        let (name, version) = self.layer_ids(layer_name, version)?;
        if let Some(rec) = self.db.delete_layer_version(&name, version)? {
            self.collect_code(&rec.code_sha256_hex);
            tracing::info!(layer = %name, version, "layer version deleted");
        }
        Ok(())
    }

    /// AddLayerVersionPermission. Add, Remove and GetLayerVersionPolicy say a missing layer
    /// version with its ARN (LocalStack's AWS-recorded snapshot test_layer_policy_exceptions).
    pub fn add_layer_version_permission(
        &self,
        layer_name: &str,
        version: &str,
        revision_id: Option<&str>,
        req: AddLayerVersionPermissionRequest,
    ) -> Result<AddLayerVersionPermissionResponse, Error> {
        let (name, version) = self.layer_ids(layer_name, version)?;
        let statement = layer::validate_permission(&req)?;
        let resource = self.region.layer_version_arn(&name, version);
        let rev = revision();
        let rec = self
            .db
            .update_layer_version(&name, version, |rec| {
                check_policy_revision(rec, revision_id)?;
                if rec.policy.iter().any(|s| s.sid == statement.sid) {
                    return Err(hako_model::permission::statement_exists(&statement.sid));
                }
                rec.policy.push(statement.clone());
                rec.policy_revision_id = Some(rev.clone());
                Ok(())
            })?
            .ok_or_else(|| layer::policy_layer_version_not_found(&resource))?;
        Ok(AddLayerVersionPermissionResponse {
            statement: statement.to_json(&resource).to_string(),
            revision_id: rec.policy_revision_id.unwrap_or_default(),
        })
    }

    /// GetLayerVersionPolicy.
    pub fn get_layer_version_policy(
        &self,
        layer_name: &str,
        version: &str,
    ) -> Result<GetLayerVersionPolicyResponse, Error> {
        let (name, version) = self.layer_ids(layer_name, version)?;
        let arn = self.region.layer_version_arn(&name, version);
        let rec = self
            .db
            .get_layer_version(&name, version)?
            .ok_or_else(|| layer::policy_layer_version_not_found(&arn))?;
        let (false, Some(revision_id)) = (rec.policy.is_empty(), rec.policy_revision_id) else {
            return Err(hako_model::permission::no_policy());
        };
        Ok(GetLayerVersionPolicyResponse {
            policy: layer::policy_document(&rec.policy, &arn),
            revision_id,
        })
    }

    /// RemoveLayerVersionPermission.
    pub fn remove_layer_version_permission(
        &self,
        layer_name: &str,
        version: &str,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), Error> {
        let (name, version) = self.layer_ids(layer_name, version)?;
        layer::validate_statement_id(sid)?;
        let rev = revision();
        self.db
            .update_layer_version(&name, version, |rec| {
                check_policy_revision(rec, revision_id)?;
                let before = rec.policy.len();
                rec.policy.retain(|s| s.sid != sid);
                if rec.policy.len() == before {
                    return Err(hako_model::permission::statement_not_found(sid));
                }
                rec.policy_revision_id = Some(rev);
                Ok(())
            })?
            .ok_or_else(|| {
                layer::policy_layer_version_not_found(
                    &self.region.layer_version_arn(&name, version),
                )
            })?;
        Ok(())
    }

    /// Resolves a function's `Layers` (already checked against the model) to the layer
    /// versions Hako has, in order, with AWS's error for one it has not.
    pub(crate) fn resolve_function_layers(
        &self,
        arns: &[String],
    ) -> Result<Vec<FunctionLayer>, Error> {
        arns.iter()
            .map(|arn| {
                let Some((name, version)) = layer::parse_layer_version_arn(arn, &self.region)?
                else {
                    // LocalStack's AWS-recorded `create_function_with_layer_in_different_region`.
                    if arn.split(':').nth(3) != Some(self.region.region.as_str()) {
                        return Err(layer::layer_in_other_region(&self.region.region));
                    }
                    return Err(layer::layer_version_not_found(arn));
                };
                let rec = self
                    .db
                    .get_layer_version(&name, version)?
                    .ok_or_else(|| layer::layer_version_not_found(arn))?;
                Ok(FunctionLayer {
                    arn: arn.clone(),
                    code_size: rec.code_size,
                    unzipped_size: rec.unzipped_size,
                    code_sha256_hex: rec.code_sha256_hex,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use hako_model::layer::{
        AddLayerVersionPermissionRequest, LayerVersionContentIn, PublishLayerVersionRequest,
    };
    use hako_model::ErrorKind;

    use crate::testing::{fixture, package};

    const LAYER: &str = "arn:aws:lambda:us-east-1:123456789012:layer";

    fn grant(sid: &str) -> AddLayerVersionPermissionRequest {
        AddLayerVersionPermissionRequest {
            statement_id: Some(sid.into()),
            action: Some("lambda:GetLayerVersion".into()),
            principal: Some("*".into()),
            organization_id: None,
        }
    }

    /// As LocalStack's AWS-recorded snapshot test_layer_policy_exceptions: the policy calls say
    /// a missing layer version with its ARN; GetLayerVersion says the resource does not exist.
    #[tokio::test]
    async fn a_missing_layer_version_is_named_by_the_policy_calls() {
        let f = fixture().await;
        let l = &f.lambda;
        let req = PublishLayerVersionRequest {
            content: Some(LayerVersionContentIn {
                zip_file: Some(package("layer")),
                ..LayerVersionContentIn::default()
            }),
            ..PublishLayerVersionRequest::default()
        };
        let published = l
            .publish_layer_version("lib", req, |hex| hex.to_string())
            .await
            .unwrap();
        assert_eq!(
            published.version.layer_version_arn,
            format!("{LAYER}:lib:1")
        );
        for (name, version) in [("lib-doesnotexist", "1"), ("lib", "2")] {
            let missing = format!("Layer version {LAYER}:{name}:{version} does not exist.");
            let add = l
                .add_layer_version_permission(name, version, None, grant("s1"))
                .unwrap_err();
            assert_eq!(
                (add.kind, add.message.as_str()),
                (ErrorKind::ResourceNotFound, &*missing)
            );
            let get = l.get_layer_version_policy(name, version).unwrap_err();
            assert_eq!(get.message, missing);
            let remove = l
                .remove_layer_version_permission(name, version, "s1", None)
                .unwrap_err();
            assert_eq!(remove.message, missing);
            let layer = l
                .get_layer_version(name, version, |h| h.to_string())
                .unwrap_err();
            assert_eq!(layer.message, "The resource you requested does not exist.");
        }
        // layer_permission_nopolicy_get, layer_permission_statementid_doesnotexist_remove.
        let none = l.get_layer_version_policy("lib", "1").unwrap_err();
        assert_eq!(
            none.message,
            "No policy is associated with the given resource."
        );
        l.add_layer_version_permission("lib", "1", None, grant("s1"))
            .unwrap();
        let sid = l
            .remove_layer_version_permission("lib", "1", "doesnotexist", None)
            .unwrap_err();
        assert_eq!(
            sid.message,
            "Statement doesnotexist is not found in resource policy."
        );
    }
}
