//! Functions: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction; the code store's side of
//! them (packages stored and unpacked off the async threads, removed once nothing uses them).

use std::path::PathBuf;

use hako_model::concurrency::Concurrency;
use hako_model::wire::{
    self, FunctionCodeLocation, FunctionConfiguration, GetFunctionResponse, ListFunctionsResponse,
};
use hako_model::{
    Error, ErrorKind, FunctionRecord, FunctionRef, LastUpdateStatus, State as FnState,
};

use crate::aliases::Target;
use crate::versions::{page, Paging};
use crate::{revision, stale_revision, Lambda};

fn check_revision(rec: &FunctionRecord, given: Option<&str>) -> Result<(), Error> {
    match given {
        Some(r) if r != rec.revision_id => Err(stale_revision()),
        _ => Ok(()),
    }
}

impl Lambda {
    fn load(&self, name: &str, version: &str) -> Result<FunctionRecord, Error> {
        self.db
            .get_function(name, version)?
            .ok_or_else(|| Error::function_not_found(&self.arn_of(name, version)))
    }

    fn config(&self, rec: &FunctionRecord) -> FunctionConfiguration {
        FunctionConfiguration::from_record(rec, &self.region)
    }

    /// The configuration a read shows: the version's, under the ARN the caller used (qualified
    /// by the alias or the version, even `$LATEST`, when the caller named a qualifier).
    fn target_config(&self, t: &Target, rec: &FunctionRecord) -> FunctionConfiguration {
        let mut c = self.config(rec);
        if let Some(q) = &t.qualifier {
            c.function_arn = self.region.qualified_arn(&t.name, q);
        }
        c
    }

    /// The record a read addresses; not found is said with the ARN the caller used.
    fn load_target(&self, t: &Target) -> Result<FunctionRecord, Error> {
        self.db.get_function(&t.name, &t.version)?.ok_or_else(|| {
            Error::function_not_found(&match &t.qualifier {
                Some(q) => self.region.qualified_arn(&t.name, q),
                None => self.region.function_arn(&t.name),
            })
        })
    }

    /// Refuses a `KMSKeyArn` that names no key registered with Hako (`hako keys create`).
    fn check_kms_key(&self, arn: Option<&str>) -> Result<(), Error> {
        match arn {
            Some(arn) if self.db.keys().and_then(|k| k.key_id(arn)).is_none() => {
                Err(wire::kms_key_not_found(arn))
            }
            _ => Ok(()),
        }
    }

    /// Stores and unpacks a zip in the code store (off the async threads).
    pub(crate) async fn store_zip(&self, zip: Vec<u8>) -> Result<hako_store::CodeInfo, Error> {
        let code = self.code.clone();
        tokio::task::spawn_blocking(move || {
            let info = code.put_zip(&zip)?;
            code.unpacked(&info.sha256_hex)?;
            Ok::<_, Error>(info)
        })
        .await
        .map_err(|e| Error::service(format!("code store task failed: {e}")))?
    }

    /// Removes a package no stored function version or layer version uses any more.
    pub(crate) fn collect_code(&self, hex: &str) {
        if !hex.is_empty() && !self.db.code_in_use(hex).unwrap_or(true) {
            if let Err(e) = self.code.remove(hex) {
                tracing::warn!(code = %hex, error = %e, "cannot remove an unused code package");
            }
        }
    }

    /// Where the code store keeps the zip named `file` (`<sha256>.zip` or `<sha256>`), behind
    /// GetFunction's `Code.Location` and GetLayerVersion's `Content.Location`.
    pub fn code_zip(&self, file: &str) -> Result<PathBuf, Error> {
        let hex = file.strip_suffix(".zip").unwrap_or(file);
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::not_found("no such code package"));
        }
        Ok(self.code.zip_path(hex))
    }

    /// CreateFunction.
    pub async fn create_function(
        &self,
        req: wire::CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, Error> {
        let valid = wire::validate_create(req, &self.region, &self.now(), &revision())?;
        self.engine.runtimes().check(&valid.record.runtime)?;
        self.check_kms_key(valid.record.kms_key_arn.as_deref())?;
        let mut rec = valid.record;
        let _w = self.writes.lock().await;
        rec.layers = self.resolve_function_layers(&valid.layers)?;
        if self.db.get_function(&rec.name, "$LATEST")?.is_some() {
            return Err(Error::conflict(format!(
                "Function already exist: {}",
                rec.name
            )));
        }
        // Unpacked now, so the function is Active by the time anyone reads it back.
        let info = self.store_zip(valid.zip).await?;
        crate::layers::check_total_size(info.unzipped_size, &rec.layers)?;
        rec.code_sha256_hex = info.sha256_hex;
        rec.code_size = info.size as i64;
        let mut stored = rec.clone();
        stored.state = FnState::Active;
        if !self.db.insert_function(&stored)? {
            return Err(Error::conflict(format!(
                "Function already exist: {}",
                rec.name
            )));
        }
        tracing::info!(function = %rec.name, runtime = %rec.runtime, "function created");
        if valid.publish {
            // As AWS: the new version's configuration, still Pending, under the unqualified
            // ARN (LocalStack's AWS-recorded snapshot test_publish_version_on_create).
            let mut v = self.publish(&rec.name, None, None, None)?;
            v.state = FnState::Pending;
            let mut c = self.config(&v);
            c.function_arn = self.region.function_arn(&rec.name);
            return Ok(c);
        }
        // As AWS: the create response still says Pending; reads that follow see Active.
        Ok(self.config(&rec))
    }

    /// GetFunction; `code_location` says where the caller can download a package (by its
    /// SHA-256, hex).
    pub fn get_function(
        &self,
        function: &str,
        qualifier: Option<&str>,
        code_location: impl FnOnce(&str) -> String,
    ) -> Result<GetFunctionResponse, Error> {
        let t = self.target(function, qualifier)?;
        let rec = self.load_target(&t)?;
        // Tags and reserved concurrency belong to the function, whichever version is read.
        let (tags, reserved) = if t.version == "$LATEST" {
            (rec.tags.clone(), rec.reserved_concurrency)
        } else {
            let latest = self.load(&t.name, "$LATEST")?;
            (latest.tags, latest.reserved_concurrency)
        };
        Ok(GetFunctionResponse {
            configuration: self.target_config(&t, &rec),
            code: FunctionCodeLocation {
                repository_type: "S3".to_string(),
                location: code_location(&rec.code_sha256_hex),
            },
            tags: Some(tags),
            concurrency: reserved.map(|n| Concurrency {
                reserved_concurrent_executions: Some(n),
            }),
        })
    }

    /// GetFunctionConfiguration.
    pub fn get_function_configuration(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionConfiguration, Error> {
        let t = self.target(function, qualifier)?;
        let rec = self.load_target(&t)?;
        Ok(self.target_config(&t, &rec))
    }

    /// ListFunctions: `$LATEST` of each function (unqualified ARNs), or every version with
    /// `all_versions` (each ARN qualified, `$LATEST`'s too, as AWS lists them).
    pub fn list_functions(
        &self,
        all_versions: bool,
        paging: &Paging,
    ) -> Result<ListFunctionsResponse, Error> {
        let records = self.db.list_functions(all_versions)?;
        let (items, next_marker) = page(&records, |r| format!("{}:{}", r.name, r.version), paging)?;
        Ok(ListFunctionsResponse {
            functions: items
                .into_iter()
                .map(|r| match all_versions {
                    true => self.version_config(r),
                    false => self.config(r),
                })
                .collect(),
            next_marker,
        })
    }

    /// UpdateFunctionConfiguration.
    pub async fn update_function_configuration(
        &self,
        function: &str,
        req: wire::UpdateFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        if r.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
            return Err(Error::invalid("Only $LATEST can be updated"));
        }
        if let Some(rt) = &req.runtime {
            self.engine.runtimes().check(rt)?;
        }
        let _w = self.writes.lock().await;
        let new_layers = match &req.layers {
            Some(arns) => {
                hako_model::layer::validate_function_layers(arns)?;
                let resolved = self.resolve_function_layers(arns)?;
                if !resolved.is_empty() {
                    let current = self.load(&r.name, "$LATEST")?;
                    let code = self.code.clone();
                    let size = tokio::task::spawn_blocking(move || {
                        code.unpacked_size(&current.code_sha256_hex)
                    })
                    .await
                    .map_err(|e| Error::service(format!("code store task failed: {e}")))??;
                    crate::layers::check_total_size(size, &resolved)?;
                }
                Some(resolved)
            }
            None => None,
        };
        let rev = revision();
        let ts = self.now();
        let updated = self.db.update_function(&r.name, "$LATEST", |rec| {
            check_revision(rec, req.revision_id.as_deref())?;
            let kms_given = req.kms_key_arn.is_some();
            wire::apply_configuration_update(rec, req, &self.region)?;
            if let Some(l) = new_layers {
                rec.layers = l;
            }
            if kms_given {
                self.check_kms_key(rec.kms_key_arn.as_deref())?;
            }
            rec.revision_id = rev;
            rec.last_modified = ts;
            rec.last_update_status = LastUpdateStatus::Successful;
            Ok(())
        });
        let mut rec = updated.map_err(|e| self.not_found_as_arn(e, &r.name))?;
        self.invalidate(&r.name);
        rec.last_update_status = LastUpdateStatus::InProgress;
        Ok(self.config(&rec))
    }

    /// The store's not-found as AWS's (the function's unqualified ARN).
    pub(crate) fn not_found_as_arn(&self, e: Error, name: &str) -> Error {
        if e.kind == ErrorKind::ResourceNotFound {
            Error::function_not_found(&self.region.function_arn(name))
        } else {
            e
        }
    }

    /// UpdateFunctionCode.
    pub async fn update_function_code(
        &self,
        function: &str,
        req: wire::UpdateFunctionCodeRequest,
    ) -> Result<FunctionConfiguration, Error> {
        let r = FunctionRef::parse(function, &self.region)?;
        if r.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
            return Err(Error::invalid("Only $LATEST can be updated"));
        }
        if req.image_uri.is_some() {
            return Err(Error::invalid(
                "ImageUri is not supported by Hako: only Zip packages are.",
            ));
        }
        if req.s3_bucket.is_some() || req.s3_key.is_some() {
            return Err(Error::invalid(
                "Code from S3 (S3Bucket/S3Key) is not supported by Hako yet: upload the package with ZipFile.",
            ));
        }
        let Some(zip_b64) = req.zip_file.as_deref() else {
            return Err(Error::invalid("Please provide a source for function code."));
        };
        wire::validate_code_update(&req)?;
        let architectures = req.architectures.clone();
        let zip = wire::decode_zip(zip_b64)?;
        let current = self.load(&r.name, "$LATEST")?;
        check_revision(&current, req.revision_id.as_deref())?;
        let function_layers = current.layers.clone();
        let info = self.store_zip(zip).await?;
        crate::layers::check_total_size(info.unzipped_size, &function_layers)?;
        if req.dry_run == Some(true) {
            let mut preview = current;
            preview.code_sha256_hex = info.sha256_hex;
            preview.code_size = info.size as i64;
            return Ok(self.config(&preview));
        }
        let _w = self.writes.lock().await;
        let rev = revision();
        let ts = self.now();
        let old_hex = current.code_sha256_hex.clone();
        let mut rec = self
            .db
            .update_function(&r.name, "$LATEST", |rec| {
                check_revision(rec, req.revision_id.as_deref())?;
                rec.code_sha256_hex = info.sha256_hex.clone();
                rec.code_size = info.size as i64;
                if let Some(a) = architectures {
                    rec.architectures = a;
                }
                rec.revision_id = rev;
                rec.last_modified = ts;
                rec.last_update_status = LastUpdateStatus::Successful;
                Ok(())
            })
            .map_err(|e| self.not_found_as_arn(e, &r.name))?;
        self.invalidate(&r.name);
        self.collect_code(&old_hex);
        if req.publish == Some(true) {
            let v = self.publish(&r.name, None, None, None)?;
            return Ok(self.config(&v));
        }
        rec.last_update_status = LastUpdateStatus::InProgress;
        Ok(self.config(&rec))
    }

    /// DeleteFunction: the function, or with a version number that version only.
    pub async fn delete_function(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), Error> {
        let r = FunctionRef::parse(function, &self.region)?.with_qualifier(qualifier)?;
        let name = r.name;
        // `$LATEST` is refused whether or not the function exists; any other qualifier of a
        // function that does not exist is "Function not found" at the unqualified ARN
        // (LocalStack's AWS-recorded snapshots test_ops_with_arn_qualifier_mismatch,
        // test_function_name_and_qualifier_validation[lowercase_latest_qualifier-delete_function]).
        match r.qualifier.as_deref() {
            None => {}
            Some("$LATEST") => {
                return Err(Error::invalid(
                    "$LATEST version cannot be deleted without deleting the function.",
                ))
            }
            Some(v) if hako_model::alias::is_version_number(v) => {
                return self.delete_version(&name, v).await
            }
            Some(_) => {
                self.latest(&name)?;
                return Err(Error::invalid("Deletion of aliases is not supported."));
            }
        }
        let _w = self.writes.lock().await;
        let rec = self.load(&name, "$LATEST")?;
        self.db.delete_function(&name)?;
        self.invalidate(&name);
        // Its reservation returns to the account, its metric series go.
        self.engine.remove_function(&name);
        self.collect_code(&rec.code_sha256_hex);
        tracing::info!(function = %name, "function deleted");
        Ok(())
    }

    /// DeleteFunction with a version number: that version only, unless an alias routes to it.
    /// As on AWS, deleting a version that does not exist (of a function that does) is no error
    /// (LocalStack's AWS-recorded snapshot test_delete_on_nonexisting_version).
    async fn delete_version(&self, name: &str, version: &str) -> Result<(), Error> {
        let _w = self.writes.lock().await;
        self.load(name, "$LATEST")?;
        let Some(rec) = self.db.delete_version(name, version)? else {
            return Ok(());
        };
        self.invalidate(name);
        // Its provisioned concurrency went with it: its sandboxes stop.
        self.engine.unprovision(name, version);
        self.collect_code(&rec.code_sha256_hex);
        tracing::info!(function = %name, version = %version, "version deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hako_model::wire::UpdateFunctionConfigurationRequest;
    use hako_model::{ErrorKind, State};

    use crate::testing::{code_request, create, create_request, fixture};
    use crate::Paging;

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    fn describe(d: &str) -> UpdateFunctionConfigurationRequest {
        UpdateFunctionConfigurationRequest {
            description: Some(d.into()),
            ..UpdateFunctionConfigurationRequest::default()
        }
    }

    #[tokio::test]
    async fn create_get_update_delete() {
        let f = fixture().await;
        let l = &f.lambda;
        let created = l.create_function(create_request("f", "one")).await.unwrap();
        assert_eq!(created.function_arn, ARN);
        assert_eq!(created.last_modified, "2023-11-14T22:13:20.000+0000");
        // The create response says Pending (as AWS); a read that follows sees Active.
        assert_eq!(created.state, State::Pending);
        let got = l
            .get_function("f", None, |hex| format!("loc/{hex}"))
            .unwrap();
        assert_eq!(got.configuration.state, State::Active);
        assert_eq!(got.code.location, format!("loc/{}", got_hex(l, "f")));
        // A second create is a conflict.
        let again = l.create_function(create_request("f", "one")).await;
        assert_eq!(again.unwrap_err().kind, ErrorKind::ResourceConflict);

        f.clock.advance(1_000);
        let updated = l
            .update_function_configuration("f", describe("two"))
            .await
            .unwrap();
        assert_eq!(updated.description, "two");
        assert_eq!(updated.last_modified, "2023-11-14T22:13:21.000+0000");
        assert_ne!(updated.revision_id, created.revision_id);
        let read = l.get_function_configuration("f", None).unwrap();
        assert_eq!(read.description, "two");
        assert_eq!(read.revision_id, updated.revision_id);

        let listed = l.list_functions(false, &Paging::default()).unwrap();
        assert_eq!(listed.functions.len(), 1);

        l.delete_function("f", None).await.unwrap();
        let gone = l.get_function_configuration("f", None).unwrap_err();
        assert_eq!(gone.kind, ErrorKind::ResourceNotFound);
        assert_eq!(gone.message, format!("Function not found: {ARN}"));
        assert!(l
            .list_functions(true, &Paging::default())
            .unwrap()
            .functions
            .is_empty());
    }

    fn got_hex(l: &crate::Lambda, name: &str) -> String {
        l.db.get_function(name, "$LATEST")
            .unwrap()
            .unwrap()
            .code_sha256_hex
    }

    #[tokio::test]
    async fn an_update_is_seen_by_the_next_resolve() {
        let f = fixture().await;
        let l = &f.lambda;
        create(&f, "f", "one").await;
        let before = l.resolve("f", "$LATEST").unwrap();
        assert_eq!(before.timeout, Duration::from_secs(3));
        // Cached: the same resolution until something changes.
        assert!(std::sync::Arc::ptr_eq(
            &before,
            &l.resolve("f", "$LATEST").unwrap()
        ));
        let req = UpdateFunctionConfigurationRequest {
            timeout: Some(30),
            ..UpdateFunctionConfigurationRequest::default()
        };
        l.update_function_configuration("f", req).await.unwrap();
        let after = l.resolve("f", "$LATEST").unwrap();
        assert_eq!(after.timeout, Duration::from_secs(30));
        assert_ne!(after.revision_id, before.revision_id);

        l.update_function_code("f", code_request("two"))
            .await
            .unwrap();
        let code = l.resolve("f", "$LATEST").unwrap();
        assert_ne!(code.code_dir, after.code_dir);
        let bootstrap = std::fs::read_to_string(code.code_dir.join("bootstrap")).unwrap();
        assert!(bootstrap.contains("echo two"), "{bootstrap}");

        l.delete_function("f", None).await.unwrap();
        assert_eq!(
            l.resolve("f", "$LATEST").unwrap_err().kind,
            ErrorKind::ResourceNotFound
        );
    }

    #[tokio::test]
    async fn a_package_no_version_uses_is_removed() {
        let f = fixture().await;
        let l = &f.lambda;
        create(&f, "f", "one").await;
        let one = l.code_zip(&got_hex(l, "f")).unwrap();
        assert!(one.exists());
        // Version 1 keeps package "one" when $LATEST moves on.
        l.publish_version("f", Default::default()).await.unwrap();
        l.update_function_code("f", code_request("two"))
            .await
            .unwrap();
        let two = l.code_zip(&got_hex(l, "f")).unwrap();
        assert!(one.exists(), "version 1 still uses it");
        assert!(two.exists());
        // A third package: "two" was used by $LATEST only, and goes.
        l.update_function_code("f", code_request("three"))
            .await
            .unwrap();
        assert!(!two.exists(), "nothing uses it any more");
        l.delete_function("f", Some("1")).await.unwrap();
        assert!(!one.exists(), "its last version is gone");
        let three = l.code_zip(&got_hex(l, "f")).unwrap();
        l.delete_function("f", None).await.unwrap();
        assert!(!three.exists());
    }

    #[tokio::test]
    async fn a_package_two_functions_share_stays_until_both_are_gone() {
        let f = fixture().await;
        let l = &f.lambda;
        create(&f, "a", "same").await;
        create(&f, "b", "same").await;
        let zip = l.code_zip(&got_hex(l, "a")).unwrap();
        l.delete_function("a", None).await.unwrap();
        assert!(zip.exists());
        l.delete_function("b", None).await.unwrap();
        assert!(!zip.exists());
    }

    #[tokio::test]
    async fn writes_wait_for_each_other_and_reads_do_not() {
        let f = fixture().await;
        let l = f.lambda.clone();
        create(&f, "f", "one").await;
        let held = l.writes.lock().await;
        // A write cannot start while another holds the lock...
        let write = tokio::spawn({
            let l = l.clone();
            async move {
                l.update_function_configuration("f", describe("later"))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!write.is_finished());
        assert_eq!(
            l.get_function_configuration("f", None).unwrap().description,
            ""
        );
        // ...reads go on, and the write proceeds once the lock is free.
        drop(held);
        let done = tokio::time::timeout(Duration::from_secs(5), write)
            .await
            .expect("the write finishes once the lock is free")
            .unwrap()
            .unwrap();
        assert_eq!(done.description, "later");
    }

    /// The ARNs AWS answers with (LocalStack's AWS-recorded snapshots, test_lambda_api:
    /// test_publish_version_on_create, test_publish_with_update, test_list_functions).
    #[tokio::test]
    async fn arns_are_qualified_as_aws_qualifies_them() {
        let f = fixture().await;
        let l = &f.lambda;
        let mut req = create_request("f", "one");
        req.publish = Some(true);
        let created = l.create_function(req).await.unwrap();
        assert_eq!(
            (created.function_arn.as_str(), created.version.as_str()),
            (ARN, "1")
        );
        assert_eq!(created.state, State::Pending);
        let arn_of = |q: Option<&str>| l.get_function_configuration("f", q).unwrap().function_arn;
        assert_eq!(arn_of(None), ARN);
        assert_eq!(arn_of(Some("$LATEST")), format!("{ARN}:$LATEST"));
        assert_eq!(arn_of(Some("1")), format!("{ARN}:1"));
        let got = l
            .get_function("f", Some("$LATEST"), |_| String::new())
            .unwrap();
        assert_eq!(got.configuration.function_arn, format!("{ARN}:$LATEST"));
        let arns = |all| -> Vec<String> {
            let page = l.list_functions(all, &Paging::default()).unwrap();
            page.functions.into_iter().map(|c| c.function_arn).collect()
        };
        assert_eq!(arns(false), [ARN.to_string()]);
        assert_eq!(arns(true), [format!("{ARN}:$LATEST"), format!("{ARN}:1")]);
        let mut code = code_request("two");
        code.publish = Some(true);
        let published = l.update_function_code("f", code).await.unwrap();
        assert_eq!(published.function_arn, format!("{ARN}:2"));
        assert_eq!(published.version, "2");
    }

    /// Not-found messages name the ARN each operation names (LocalStack's AWS-recorded
    /// snapshots, test_lambda_api: test_ops_on_nonexisting_fn, test_ops_with_arn_qualifier_mismatch,
    /// test_ops_on_nonexisting_version, test_delete_on_nonexisting_version,
    /// test_function_name_and_qualifier_validation, test_function_concurrency_exceptions).
    #[tokio::test]
    async fn not_found_is_qualified_per_operation() {
        let f = fixture().await;
        let l = &f.lambda;
        create(&f, "f", "one").await;
        let nope = "arn:aws:lambda:us-east-1:123456789012:function:nope";
        let msg = |r: Result<(), hako_model::Error>| {
            let e = r.unwrap_err();
            assert_eq!(e.kind, ErrorKind::ResourceNotFound);
            e.message
        };
        let unqualified = format!("Function not found: {nope}");
        let latest = format!("Function not found: {nope}:$LATEST");
        let get = |q| l.get_function("nope", q, |_| String::new()).map(|_| ());
        assert_eq!(msg(get(None)), unqualified);
        assert_eq!(msg(get(Some("$LATEST"))), latest);
        let config = |q| l.get_function_configuration("nope", q).map(|_| ());
        assert_eq!(msg(config(None)), unqualified);
        assert_eq!(msg(config(Some("$LATEST"))), latest);
        assert_eq!(
            msg(l.get_function_configuration("f", Some("1221")).map(|_| ())),
            format!("Function not found: {ARN}:1221")
        );
        assert_eq!(msg(l.delete_function("nope", None).await), unqualified);
        assert_eq!(msg(l.delete_function("nope", Some("1")).await), unqualified);
        assert_eq!(
            msg(l.delete_function("nope", Some("$latest")).await),
            unqualified
        );
        // Deleting a version that is not there, of a function that is, is no error.
        l.delete_function("f", Some("1233")).await.unwrap();
        assert_eq!(msg(l.invoke_dry_run("nope", None)), latest);
        assert_eq!(
            msg(l.invoke_dry_run("f", Some("7"))),
            format!("Function not found: {ARN}:7")
        );
        let put = hako_model::concurrency::PutFunctionConcurrencyRequest {
            reserved_concurrent_executions: Some(1),
        };
        assert_eq!(
            msg(l.put_function_concurrency("nope", put).await.map(|_| ())),
            latest
        );
        assert_eq!(
            msg(l.get_function_concurrency("nope").map(|_| ())),
            unqualified
        );
    }

    #[tokio::test]
    async fn code_zip_takes_only_a_sha256() {
        let f = fixture().await;
        assert!(f.lambda.code_zip("../hako.db").is_err());
        assert!(f.lambda.code_zip(&"a".repeat(64)).is_ok());
        assert!(f
            .lambda
            .code_zip(&format!("{}.zip", "a".repeat(64)))
            .is_ok());
    }
}
