//! The control plane's wire shapes (botocore's Lambda model, 2015-03-31), by resource. Field names
//! are AWS's, exactly. Their validation is in [`crate::validation`]; the functions re-exported
//! here keep the paths the control plane uses.

mod account;
mod functions;

pub use account::*;
pub use functions::*;

pub use crate::validation::function::{
    apply_configuration_update, decode_zip, kms_key_not_found, validate_code_update,
    validate_create, validate_description, validate_environment, validate_kms_key_arn, ValidCreate,
    RESERVED_ENV_KEYS,
};
pub use crate::validation::tags::validate_tags;
