//! Scheduler's names, ARNs, defaults and the constraints of botocore's shapes
//! (`scheduler/2021-06-30`), checked through `hako_model::validation`. No IO.

use hako_model::validation::{Bound, ListShape, Pattern, Shape};

/// The group every account has and schedules go to without `GroupName`.
pub const DEFAULT_GROUP: &str = "default";

/// The retry policy of a target that names none (LocalStack's AWS-recorded `test_get_schedule`:
/// `{"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}`).
pub const DEFAULT_MAX_EVENT_AGE_SECONDS: i64 = 86_400;
pub const DEFAULT_MAX_RETRY_ATTEMPTS: i64 = 185;

/// The largest page of ListSchedules / ListScheduleGroups (botocore: `MaxResults` max).
pub const MAX_PAGE: usize = 100;

pub fn schedule_arn(region: &str, account: &str, group: &str, name: &str) -> String {
    format!("arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}")
}

pub fn group_arn(region: &str, account: &str, group: &str) -> String {
    format!("arn:aws:scheduler:{region}:{account}:schedule-group/{group}")
}

/// The group name of a schedule group ARN of this region and account.
pub fn group_of_arn<'a>(arn: &'a str, region: &str, account: &str) -> Option<&'a str> {
    let p = hako_model::names::split_arn(arn)?;
    if p.service != "scheduler" || p.region != region || p.account != account {
        return None;
    }
    p.resource.strip_prefix("schedule-group/")
}

/// The shapes of botocore's model that requests are checked against.
pub mod shapes {
    use super::*;

    pub static NAME_PATTERN: Pattern = Pattern::new("[0-9a-zA-Z-_.]+");
    pub static NAME: Shape = Shape {
        max_len: Some(64),
        min_len: Some(1),
        pattern: Some(&NAME_PATTERN),
        ..Shape::NONE
    };
    pub static EXPRESSION: Shape = Shape {
        max_len: Some(256),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static DESCRIPTION: Shape = Shape {
        max_len: Some(512),
        min_len: Some(0),
        ..Shape::NONE
    };
    pub static TIMEZONE: Shape = Shape {
        max_len: Some(50),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static STATE: Shape = Shape {
        values: Some(&["ENABLED", "DISABLED"]),
        ..Shape::NONE
    };
    pub static KMS_KEY_ARN_PATTERN: Pattern =
        Pattern::new(r"arn:aws[a-z-]*:kms:[a-z0-9\-]+:\d{12}:(key|alias)\/[0-9a-zA-Z-_]*");
    pub static KMS_KEY_ARN: Shape = Shape {
        max_len: Some(2048),
        min_len: Some(1),
        pattern: Some(&KMS_KEY_ARN_PATTERN),
        ..Shape::NONE
    };
    pub static TARGET_ARN: Shape = Shape {
        max_len: Some(1600),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static ROLE_ARN_PATTERN: Pattern =
        Pattern::new(r"arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+");
    pub static ROLE_ARN: Shape = Shape {
        max_len: Some(1600),
        min_len: Some(1),
        pattern: Some(&ROLE_ARN_PATTERN),
        ..Shape::NONE
    };
    pub static DLQ_ARN_PATTERN: Pattern =
        Pattern::new(r"arn:aws[a-z-]*:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+");
    pub static DLQ_ARN: Shape = Shape {
        max_len: Some(1600),
        min_len: Some(1),
        pattern: Some(&DLQ_ARN_PATTERN),
        ..Shape::NONE
    };
    pub static TARGET_INPUT: Shape = Shape {
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static MAX_EVENT_AGE: Shape = Shape {
        max: Some(Bound::Int(86_400)),
        min: Some(Bound::Int(60)),
        ..Shape::NONE
    };
    pub static MAX_RETRY_ATTEMPTS: Shape = Shape {
        max: Some(Bound::Int(185)),
        min: Some(Bound::Int(0)),
        ..Shape::NONE
    };
    pub static MESSAGE_GROUP_ID: Shape = Shape {
        max_len: Some(128),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static WINDOW_MODE: Shape = Shape {
        values: Some(&["OFF", "FLEXIBLE"]),
        ..Shape::NONE
    };
    pub static MAX_WINDOW_MINUTES: Shape = Shape {
        max: Some(Bound::Int(1440)),
        min: Some(Bound::Int(1)),
        ..Shape::NONE
    };
    pub static CLIENT_TOKEN_PATTERN: Pattern = Pattern::new("[a-zA-Z0-9-_]+");
    pub static CLIENT_TOKEN: Shape = Shape {
        max_len: Some(64),
        min_len: Some(1),
        pattern: Some(&CLIENT_TOKEN_PATTERN),
        ..Shape::NONE
    };
    pub static ACTION_AFTER_COMPLETION: Shape = Shape {
        values: Some(&["NONE", "DELETE"]),
        ..Shape::NONE
    };
    pub static NEXT_TOKEN: Shape = Shape {
        max_len: Some(2048),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static MAX_RESULTS: Shape = Shape {
        max: Some(Bound::Int(100)),
        min: Some(Bound::Int(1)),
        ..Shape::NONE
    };
    pub static TAG_RESOURCE_ARN_PATTERN: Pattern = Pattern::new(
        r"arn:aws[a-z-]*:scheduler:[a-z0-9\-]+:\d{12}:schedule-group\/[0-9a-zA-Z-_.]+",
    );
    pub static TAG_RESOURCE_ARN: Shape = Shape {
        max_len: Some(1011),
        min_len: Some(1),
        pattern: Some(&TAG_RESOURCE_ARN_PATTERN),
        ..Shape::NONE
    };
    pub static TAG_KEY: Shape = Shape {
        max_len: Some(128),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static TAG_VALUE: Shape = Shape {
        max_len: Some(256),
        min_len: Some(1),
        ..Shape::NONE
    };
    pub static TAG_KEYS: ListShape = ListShape {
        max_len: Some(200),
        min_len: Some(0),
        member: &TAG_KEY,
    };
    /// The most tags of a list (botocore: `TagList` max).
    pub const MAX_TAGS: usize = 200;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        assert_eq!(
            schedule_arn("us-east-1", "000000000000", "default", "s"),
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s"
        );
        let g = group_arn("us-east-1", "000000000000", "g1");
        assert_eq!(
            g,
            "arn:aws:scheduler:us-east-1:000000000000:schedule-group/g1"
        );
        assert_eq!(group_of_arn(&g, "us-east-1", "000000000000"), Some("g1"));
        assert_eq!(group_of_arn(&g, "eu-west-1", "000000000000"), None);
    }
}
