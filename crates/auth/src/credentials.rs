//! Access keys: the account's root key pair and the temporary credentials of a function's
//! sandbox, in AWS's formats (an `AKIA...` or `ASIA...` id of 20 characters, a 40-character
//! secret). Where the root pair comes from (environment, a file of the data dir) is the
//! binary's business; this module makes and checks them.

use rand::Rng;

/// A key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(crate) fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// A key id with AWS's `prefix` (`AKIA` long-term, `ASIA` temporary) and 16 more characters.
pub(crate) fn key_id(prefix: &str) -> String {
    format!("{prefix}{}", random_string(KEY_ID_ALPHABET, 16))
}

pub(crate) fn secret() -> String {
    random_string(SECRET_ALPHABET, 40)
}

pub(crate) fn session_token() -> String {
    random_string(TOKEN_ALPHABET, 128)
}

impl KeyPair {
    /// A new root key pair (`AKIA...`).
    pub fn generate() -> KeyPair {
        KeyPair {
            access_key_id: key_id("AKIA"),
            secret_access_key: secret(),
        }
    }

    /// Checks a pair given by the user: IAM's constraints on an access key id (16 to 128
    /// word characters, botocore's `accessKeyIdType`) and a non-empty secret without spaces.
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Result<KeyPair, String> {
        let id_ok = (16..=128).contains(&access_key_id.len())
            && access_key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !id_ok {
            return Err(format!(
                "the access key id '{access_key_id}' is not 16 to 128 letters, digits or '_'"
            ));
        }
        if secret_access_key.is_empty()
            || secret_access_key
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err("the secret access key is empty or has spaces".to_string());
        }
        Ok(KeyPair {
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
        })
    }

    /// The pair as the lines of a file (`<id>\n<secret>\n`), and back.
    pub fn to_file(&self) -> String {
        format!("{}\n{}\n", self.access_key_id, self.secret_access_key)
    }

    pub fn from_file(text: &str) -> Result<KeyPair, String> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        match (lines.next(), lines.next()) {
            (Some(id), Some(secret)) => KeyPair::new(id, secret),
            _ => Err("expected an access key id and a secret access key, one a line".into()),
        }
    }

    /// What a user types to use these credentials with the aws CLI.
    pub fn configure_lines(&self, region: &str, endpoint: &str) -> String {
        format!(
            "  aws configure set aws_access_key_id {}\n  \
             aws configure set aws_secret_access_key {}\n  \
             aws configure set region {region}\n  \
             export AWS_ENDPOINT_URL={endpoint}\n",
            self.access_key_id, self.secret_access_key
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_aws_formats() {
        let k = KeyPair::generate();
        assert_eq!(k.access_key_id.len(), 20);
        assert!(k.access_key_id.starts_with("AKIA"));
        assert_eq!(k.secret_access_key.len(), 40);
        assert_ne!(k, KeyPair::generate());
        assert_eq!(KeyPair::from_file(&k.to_file()).unwrap(), k);
        assert!(KeyPair::new("short", "x").is_err());
        assert!(KeyPair::new("AKIAIOSFODNN7EXAMPLE", "a b").is_err());
        assert!(KeyPair::from_file("AKIAIOSFODNN7EXAMPLE\n").is_err());
    }
}
