//! Every operation of botocore's Lambda model (method, path template, name), so that a request for
//! an operation Hako does not implement yet is answered with an AWS-shaped error that names it.

/// (method, path template, operation) for every Lambda API operation.
pub(crate) const OPERATIONS: &[(&str, &str, &str)] = &[
    ("POST", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "AddLayerVersionPermission"),
    ("POST", "/2015-03-31/functions/{FunctionName}/policy", "AddPermission"),
    ("POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/checkpoint", "CheckpointDurableExecution"),
    ("POST", "/2015-03-31/functions/{FunctionName}/aliases", "CreateAlias"),
    ("POST", "/2025-11-30/capacity-providers", "CreateCapacityProvider"),
    ("POST", "/2020-04-22/code-signing-configs", "CreateCodeSigningConfig"),
    ("POST", "/2015-03-31/event-source-mappings", "CreateEventSourceMapping"),
    ("POST", "/2015-03-31/functions", "CreateFunction"),
    ("POST", "/2021-10-31/functions/{FunctionName}/url", "CreateFunctionUrlConfig"),
    ("DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "DeleteAlias"),
    ("DELETE", "/2025-11-30/capacity-providers/{CapacityProviderName}", "DeleteCapacityProvider"),
    ("DELETE", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "DeleteCodeSigningConfig"),
    ("DELETE", "/2015-03-31/event-source-mappings/{UUID}", "DeleteEventSourceMapping"),
    ("DELETE", "/2015-03-31/functions/{FunctionName}", "DeleteFunction"),
    ("DELETE", "/2020-06-30/functions/{FunctionName}/code-signing-config", "DeleteFunctionCodeSigningConfig"),
    ("DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", "DeleteFunctionConcurrency"),
    ("DELETE", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "DeleteFunctionEventInvokeConfig"),
    ("DELETE", "/2021-10-31/functions/{FunctionName}/url", "DeleteFunctionUrlConfig"),
    ("DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}", "DeleteLayerVersion"),
    ("DELETE", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "DeleteProvisionedConcurrencyConfig"),
    ("GET", "/2016-08-19/account-settings", "GetAccountSettings"),
    ("GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "GetAlias"),
    ("GET", "/2025-11-30/capacity-providers/{CapacityProviderName}", "GetCapacityProvider"),
    ("GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "GetCodeSigningConfig"),
    ("GET", "/2025-12-01/durable-executions/{DurableExecutionArn}", "GetDurableExecution"),
    ("GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/history", "GetDurableExecutionHistory"),
    ("GET", "/2025-12-01/durable-executions/{DurableExecutionArn}/state", "GetDurableExecutionState"),
    ("GET", "/2015-03-31/event-source-mappings/{UUID}", "GetEventSourceMapping"),
    ("GET", "/2015-03-31/functions/{FunctionName}", "GetFunction"),
    ("GET", "/2020-06-30/functions/{FunctionName}/code-signing-config", "GetFunctionCodeSigningConfig"),
    ("GET", "/2019-09-30/functions/{FunctionName}/concurrency", "GetFunctionConcurrency"),
    ("GET", "/2015-03-31/functions/{FunctionName}/configuration", "GetFunctionConfiguration"),
    ("GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "GetFunctionEventInvokeConfig"),
    ("GET", "/2024-08-31/functions/{FunctionName}/recursion-config", "GetFunctionRecursionConfig"),
    ("GET", "/2025-11-30/functions/{FunctionName}/function-scaling-config", "GetFunctionScalingConfig"),
    ("GET", "/2021-10-31/functions/{FunctionName}/url", "GetFunctionUrlConfig"),
    ("GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}", "GetLayerVersion"),
    ("GET", "/2018-10-31/layers", "GetLayerVersionByArn"),
    ("GET", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy", "GetLayerVersionPolicy"),
    ("GET", "/2015-03-31/functions/{FunctionName}/policy", "GetPolicy"),
    ("GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "GetProvisionedConcurrencyConfig"),
    ("GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "GetRuntimeManagementConfig"),
    ("POST", "/2015-03-31/functions/{FunctionName}/invocations", "Invoke"),
    ("POST", "/2014-11-13/functions/{FunctionName}/invoke-async", "InvokeAsync"),
    ("POST", "/2021-11-15/functions/{FunctionName}/response-streaming-invocations", "InvokeWithResponseStream"),
    ("GET", "/2015-03-31/functions/{FunctionName}/aliases", "ListAliases"),
    ("GET", "/2025-11-30/capacity-providers", "ListCapacityProviders"),
    ("GET", "/2020-04-22/code-signing-configs", "ListCodeSigningConfigs"),
    ("GET", "/2025-12-01/functions/{FunctionName}/durable-executions", "ListDurableExecutionsByFunction"),
    ("GET", "/2015-03-31/event-source-mappings", "ListEventSourceMappings"),
    ("GET", "/2019-09-25/functions/{FunctionName}/event-invoke-config/list", "ListFunctionEventInvokeConfigs"),
    ("GET", "/2021-10-31/functions/{FunctionName}/urls", "ListFunctionUrlConfigs"),
    ("GET", "/2025-11-30/capacity-providers/{CapacityProviderName}/function-versions", "ListFunctionVersionsByCapacityProvider"),
    ("GET", "/2015-03-31/functions", "ListFunctions"),
    ("GET", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}/functions", "ListFunctionsByCodeSigningConfig"),
    ("GET", "/2018-10-31/layers/{LayerName}/versions", "ListLayerVersions"),
    ("GET", "/2018-10-31/layers", "ListLayers"),
    ("GET", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "ListProvisionedConcurrencyConfigs"),
    ("GET", "/2017-03-31/tags/{Resource}", "ListTags"),
    ("GET", "/2015-03-31/functions/{FunctionName}/versions", "ListVersionsByFunction"),
    ("POST", "/2018-10-31/layers/{LayerName}/versions", "PublishLayerVersion"),
    ("POST", "/2015-03-31/functions/{FunctionName}/versions", "PublishVersion"),
    ("PUT", "/2020-06-30/functions/{FunctionName}/code-signing-config", "PutFunctionCodeSigningConfig"),
    ("PUT", "/2017-10-31/functions/{FunctionName}/concurrency", "PutFunctionConcurrency"),
    ("PUT", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "PutFunctionEventInvokeConfig"),
    ("PUT", "/2024-08-31/functions/{FunctionName}/recursion-config", "PutFunctionRecursionConfig"),
    ("PUT", "/2025-11-30/functions/{FunctionName}/function-scaling-config", "PutFunctionScalingConfig"),
    ("PUT", "/2019-09-30/functions/{FunctionName}/provisioned-concurrency", "PutProvisionedConcurrencyConfig"),
    ("PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config", "PutRuntimeManagementConfig"),
    ("DELETE", "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}", "RemoveLayerVersionPermission"),
    ("DELETE", "/2015-03-31/functions/{FunctionName}/policy/{StatementId}", "RemovePermission"),
    ("POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/fail", "SendDurableExecutionCallbackFailure"),
    ("POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat", "SendDurableExecutionCallbackHeartbeat"),
    ("POST", "/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed", "SendDurableExecutionCallbackSuccess"),
    ("POST", "/2025-12-01/durable-executions/{DurableExecutionArn}/stop", "StopDurableExecution"),
    ("POST", "/2017-03-31/tags/{Resource}", "TagResource"),
    ("DELETE", "/2017-03-31/tags/{Resource}", "UntagResource"),
    ("PUT", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", "UpdateAlias"),
    ("PUT", "/2025-11-30/capacity-providers/{CapacityProviderName}", "UpdateCapacityProvider"),
    ("PUT", "/2020-04-22/code-signing-configs/{CodeSigningConfigArn}", "UpdateCodeSigningConfig"),
    ("PUT", "/2015-03-31/event-source-mappings/{UUID}", "UpdateEventSourceMapping"),
    ("PUT", "/2015-03-31/functions/{FunctionName}/code", "UpdateFunctionCode"),
    ("PUT", "/2015-03-31/functions/{FunctionName}/configuration", "UpdateFunctionConfiguration"),
    ("POST", "/2019-09-25/functions/{FunctionName}/event-invoke-config", "UpdateFunctionEventInvokeConfig"),
    ("PUT", "/2021-10-31/functions/{FunctionName}/url", "UpdateFunctionUrlConfig"),
];

/// The operation a request addresses, if any.
pub(crate) fn operation_for(method: &str, path: &str) -> Option<&'static str> {
    let path = path.trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').collect();
    OPERATIONS.iter().find_map(|(m, tpl, name)| {
        if *m != method {
            return None;
        }
        let t: Vec<&str> = tpl.trim_end_matches('/').split('/').collect();
        let ok = t.len() == segs.len()
            && t.iter().zip(&segs).all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b);
        ok.then_some(*name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_operations_by_path() {
        assert_eq!(operation_for("GET", "/2015-03-31/event-source-mappings/"), Some("ListEventSourceMappings"));
        assert_eq!(operation_for("POST", "/2015-03-31/functions/f/versions"), Some("PublishVersion"));
        assert_eq!(operation_for("GET", "/nope"), None);
    }
}
