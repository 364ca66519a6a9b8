//! AWS's managed policies that matter for Lambda, available under `arn:aws:iam::aws:policy/...`
//! with their real documents, default version and dates: AWS's exports (GetPolicy and
//! GetPolicyVersion of each, as moto 5.2.6 ships them in `moto/iam/aws_managed_policies.py`),
//! which match AWS's "AWS managed policy reference" pages (e.g.
//! <https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html>,
//! `AWSLambdaKinesisExecutionRole.html`, `AWSLambdaRole.html`, `AWSLambda_FullAccess.html`).
//!
//! `ReadOnlyAccess` is a faithful subset: its real document (v191) lists about 3,000 actions of
//! every AWS service; Hako keeps the actions of the services it serves (IAM, Kinesis, Lambda,
//! CloudWatch Logs, EventBridge Scheduler, SQS, STS), exactly as the real document words them,
//! in its real statement ids. Its `Description` says so.

/// One AWS managed policy.
#[derive(Debug, Clone, Copy)]
pub struct ManagedPolicy {
    pub name: &'static str,
    /// `/` or `/service-role/`.
    pub path: &'static str,
    pub default_version: &'static str,
    pub create_date: &'static str,
    pub update_date: &'static str,
    pub description: &'static str,
    pub document: &'static str,
}

impl ManagedPolicy {
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }
}

/// The managed policies Hako knows.
pub static MANAGED: &[ManagedPolicy] = &[
    ManagedPolicy {
        name: "AdministratorAccess",
        path: "/",
        default_version: "v1",
        create_date: "2015-02-06T18:39:46Z",
        update_date: "2015-02-06T18:39:46Z",
        description: "Provides full access to AWS services and resources.",
        document: r#"{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}"#,
    },
    ManagedPolicy {
        name: "AWSLambdaBasicExecutionRole",
        path: "/service-role/",
        default_version: "v1",
        create_date: "2015-04-09T15:03:43Z",
        update_date: "2015-04-09T15:03:43Z",
        description: "Provides write permissions to CloudWatch Logs.",
        document: r#"{"Statement":[{"Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}"#,
    },
    ManagedPolicy {
        name: "AWSLambdaRole",
        path: "/service-role/",
        default_version: "v1",
        create_date: "2015-02-06T18:41:28Z",
        update_date: "2015-02-06T18:41:28Z",
        description: "Default policy for AWS Lambda service role.",
        document: r#"{"Statement":[{"Action":["lambda:InvokeFunction"],"Effect":"Allow","Resource":["*"]}],"Version":"2012-10-17"}"#,
    },
    ManagedPolicy {
        name: "AWSLambda_FullAccess",
        path: "/",
        default_version: "v7",
        create_date: "2020-11-17T21:14:08Z",
        update_date: "2026-02-12T18:00:51Z",
        description: "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
        document: r#"{"Statement":[{"Action":["cloudformation:DescribeStacks","cloudformation:ListStackResources","cloudwatch:ListMetrics","cloudwatch:GetMetricData","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVpcs","kms:DescribeKey","kms:ListAliases","iam:GetPolicy","iam:GetPolicyVersion","iam:GetRole","iam:GetRolePolicy","iam:ListAttachedRolePolicies","iam:ListRolePolicies","iam:ListRoles","lambda:*","logs:DescribeLogGroups","states:DescribeStateMachine","states:ListStateMachines","tag:GetResources","xray:GetTraceSummaries","xray:BatchGetTraces"],"Effect":"Allow","Resource":"*"},{"Action":"iam:PassRole","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}},"Effect":"Allow","Resource":"*"},{"Action":["logs:DescribeLogStreams","logs:GetLogEvents","logs:FilterLogEvents","logs:StartLiveTail","logs:StopLiveTail"],"Effect":"Allow","Resource":"arn:aws:logs:*:*:log-group:/aws/lambda/*"},{"Action":"iam:CreateServiceLinkedRole","Condition":{"StringEquals":{"iam:AWSServiceName":"lambda.amazonaws.com"}},"Effect":"Allow","Resource":"arn:aws:iam::*:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda"}],"Version":"2012-10-17"}"#,
    },
    ManagedPolicy {
        name: "AWSLambda_ReadOnlyAccess",
        path: "/",
        default_version: "v5",
        create_date: "2020-11-17T21:10:32Z",
        update_date: "2026-02-12T18:02:55Z",
        description: "Grants read-only access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
        document: r#"{"Statement":[{"Action":["cloudformation:DescribeStacks","cloudformation:ListStacks","cloudformation:ListStackResources","cloudwatch:GetMetricData","cloudwatch:ListMetrics","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVpcs","kms:ListAliases","iam:GetPolicy","iam:GetPolicyVersion","iam:GetRole","iam:GetRolePolicy","iam:ListAttachedRolePolicies","iam:ListRolePolicies","iam:ListRoles","logs:DescribeLogGroups","lambda:Get*","lambda:List*","states:DescribeStateMachine","states:ListStateMachines","tag:GetResources","xray:GetTraceSummaries","xray:BatchGetTraces"],"Effect":"Allow","Resource":"*"},{"Action":["logs:DescribeLogStreams","logs:GetLogEvents","logs:FilterLogEvents","logs:StartQuery","logs:StopQuery","logs:DescribeQueries","logs:GetLogGroupFields","logs:GetLogRecord","logs:GetQueryResults","logs:StartLiveTail","logs:StopLiveTail"],"Effect":"Allow","Resource":"arn:aws:logs:*:*:log-group:/aws/lambda/*"}],"Version":"2012-10-17"}"#,
    },
    ManagedPolicy {
        name: "AWSLambdaSQSQueueExecutionRole",
        path: "/service-role/",
        default_version: "v1",
        create_date: "2018-06-14T21:50:45Z",
        update_date: "2018-06-14T21:50:45Z",
        description: "Provides receive message, delete message, and read attribute access to SQS queues, and write permissions to CloudWatch logs.",
        document: r#"{"Statement":[{"Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueAttributes","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}"#,
    },
    ManagedPolicy {
        name: "AWSLambdaKinesisExecutionRole",
        path: "/service-role/",
        default_version: "v2",
        create_date: "2015-04-09T15:14:16Z",
        update_date: "2018-11-19T20:09:24Z",
        description: "Provides list and read access to Kinesis streams and write permissions to CloudWatch logs.",
        document: r#"{"Statement":[{"Action":["kinesis:DescribeStream","kinesis:DescribeStreamSummary","kinesis:GetRecords","kinesis:GetShardIterator","kinesis:ListShards","kinesis:ListStreams","kinesis:SubscribeToShard","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Effect":"Allow","Resource":"*"}],"Version":"2012-10-17"}"#,
    },
    ManagedPolicy {
        name: "ReadOnlyAccess",
        path: "/",
        default_version: "v191",
        create_date: "2015-02-06T18:39:48Z",
        update_date: "2026-10-30T17:27:08Z",
        description: "Provides read-only access to AWS services and resources. (Hako: the actions of the services it serves, from the real document.)",
        document: r#"{"Version":"2012-10-17","Statement":[{"Action":["iam:Generate*","iam:Get*","iam:List*","iam:Simulate*"],"Effect":"Allow","Resource":"*","Sid":"ReadOnlyActionsGroup1"},{"Action":["kinesis:Describe*","kinesis:Get*","kinesis:List*","lambda:Get*","lambda:List*","logs:Describe*","logs:FilterLogEvents","logs:Get*","logs:ListAggregateLogGroupSummaries","logs:ListAnomalies","logs:ListEntitiesForLogGroup","logs:ListIntegrations","logs:ListLogAnomalyDetectors","logs:ListLogDeliveries","logs:ListLogGroupsForEntity","logs:ListLogGroupsForQuery","logs:ListScheduledQueries","logs:ListSourcesForS3TableIntegration","logs:ListTagsForResource","logs:ListTagsLogGroup","logs:StartLiveTail","logs:StartQuery","logs:StopLiveTail","logs:StopQuery","logs:TestMetricFilter","scheduler:GetSchedule","scheduler:GetScheduleGroup","scheduler:ListScheduleGroups","scheduler:ListSchedules","scheduler:ListTagsForResource","sqs:Get*","sqs:List*","sqs:Receive*","sts:GetAccessKeyInfo","sts:GetCallerIdentity","sts:GetSessionToken"],"Effect":"Allow","Resource":"*","Sid":"ReadOnlyActionsGroup2"}]}"#,
    },
];

/// The managed policy with ARN `arn`.
pub fn by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    let rest = arn.strip_prefix("arn:aws:iam::aws:policy")?;
    MANAGED
        .iter()
        .find(|p| rest.strip_prefix(p.path) == Some(p.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Kind, Policy};

    #[test]
    fn every_document_parses_and_is_found_by_arn() {
        for p in MANAGED {
            Policy::parse(p.document, Kind::Identity).unwrap();
            assert_eq!(by_arn(&p.arn()).unwrap().name, p.name);
        }
        assert!(
            by_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole").is_some()
        );
        assert!(by_arn("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole").is_none());
        assert!(by_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaRole").is_some());
    }
}
