//! The keys that seal functions' environment variables at rest (AES-256-GCM, a fresh random
//! 96-bit nonce for every sealing).
//!
//! Layout under the key directory (`<data dir>/keys`, mode 0700):
//! - `platform.key`: Hako's own key, made on the first start. It seals the environment of every
//!   function without a `KMSKeyArn`.
//! - `<uuid>.key`: a customer key, made by `hako keys create`; a function names it in `KMSKeyArn`
//!   as `arn:aws:kms:<region>:<account>:key/<uuid>` (Hako's region and account).
//!
//! Each file holds the 32-byte key as 64 hex digits and a newline, mode 0600. A file is made
//! atomically: written to a temp file created 0600 (never wider, not even for a moment), fsynced,
//! then hard-linked to its name, which never replaces an existing key (two racing starts settle
//! on one key), and the directory is fsynced. A key file readable by group or others is refused.
//! Keys never appear in `Debug` output or logs. Losing a key file loses the environments it
//! sealed: back the directory up with the database.
//!
//! A sealed environment names its key by id (`platform` or the uuid) and is bound to its record
//! (name and version) as associated data, so a ciphertext copied into another record does not
//! open.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use hako_model::{Error, Region};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// The id of Hako's own key in a [`Sealed`] value.
pub const PLATFORM_KEY_ID: &str = "platform";

/// An encrypted value as the database keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// `platform`, or a customer key's uuid.
    pub key: String,
    /// Base64 of the 96-bit nonce.
    pub nonce: String,
    /// Base64 of the ciphertext and its 128-bit tag.
    pub ciphertext: String,
}

/// Hako's key and the customer keys registered with it.
pub struct Keyring {
    /// `None` for an in-memory keyring (tests): no customer keys.
    dir: Option<PathBuf>,
    region: Region,
    platform: Arc<Aes256Gcm>,
    customer: RwLock<HashMap<String, Arc<Aes256Gcm>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("dir", &self.dir)
            .field("customer_keys_loaded", &self.customer.read().len())
            .finish_non_exhaustive()
    }
}

fn b64() -> base64::engine::general_purpose::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn io_err(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::service(format!("{what} {}: {e}", path.display()))
}

impl Keyring {
    /// Opens the key directory `dir` (creating it, mode 0700) and Hako's key in it (creating it
    /// on the first start).
    pub fn open(dir: &Path, region: Region) -> Result<Keyring, Error> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_err("cannot create the key directory", dir, &e))?;
        let platform = load_or_create(&dir.join(format!("{PLATFORM_KEY_ID}.key")))?;
        Ok(Keyring {
            dir: Some(dir.to_path_buf()),
            region,
            platform: Arc::new(platform),
            customer: RwLock::new(HashMap::new()),
        })
    }

    /// A keyring with a random platform key held in memory only, and no customer keys.
    pub fn ephemeral(region: Region) -> Keyring {
        Keyring {
            dir: None,
            region,
            platform: Arc::new(Aes256Gcm::new(&Aes256Gcm::generate_key(OsRng))),
            customer: RwLock::new(HashMap::new()),
        }
    }

    /// Makes a new customer key and returns its ARN.
    pub fn create_customer_key(&self) -> Result<String, Error> {
        let Some(dir) = &self.dir else {
            return Err(Error::service("this keyring keeps no customer keys"));
        };
        let id = uuid::Uuid::new_v4().to_string();
        let cipher = load_or_create(&dir.join(format!("{id}.key")))?;
        self.customer.write().insert(id.clone(), Arc::new(cipher));
        Ok(self.arn(&id))
    }

    /// The ARNs of the registered customer keys, sorted.
    pub fn customer_key_arns(&self) -> Result<Vec<String>, Error> {
        let Some(dir) = &self.dir else {
            return Ok(Vec::new());
        };
        let entries =
            fs::read_dir(dir).map_err(|e| io_err("cannot read the key directory", dir, &e))?;
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".key")?;
                uuid::Uuid::parse_str(id).ok()?;
                Some(self.arn(id))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn arn(&self, id: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{id}",
            self.region.region, self.region.account_id
        )
    }

    /// The id of the registered customer key `arn` names, if Hako has it: the ARN must be
    /// `arn:aws:kms:<Hako's region>:<Hako's account>:key/<uuid>` and the key file must exist.
    pub fn key_id(&self, arn: &str) -> Option<String> {
        let prefix = format!(
            "arn:aws:kms:{}:{}:key/",
            self.region.region, self.region.account_id
        );
        let id = arn.strip_prefix(&prefix)?;
        let id = uuid::Uuid::parse_str(id).ok()?.hyphenated().to_string();
        if id != arn[prefix.len()..] {
            return None;
        }
        self.cipher(&id).ok().map(|_| id)
    }

    fn cipher(&self, id: &str) -> Result<Arc<Aes256Gcm>, Error> {
        if id == PLATFORM_KEY_ID {
            return Ok(self.platform.clone());
        }
        if let Some(c) = self.customer.read().get(id) {
            return Ok(c.clone());
        }
        let (Some(dir), Ok(_)) = (&self.dir, uuid::Uuid::parse_str(id)) else {
            return Err(Error::service(format!(
                "no key {id} is registered with Hako"
            )));
        };
        let path = dir.join(format!("{id}.key"));
        if !path.exists() {
            return Err(Error::service(format!(
                "no key {id} is registered with Hako"
            )));
        }
        let c = Arc::new(read_key(&path)?);
        self.customer.write().insert(id.to_string(), c.clone());
        Ok(c)
    }

    /// Encrypts `plain` under the customer key `kms_key_arn` (else Hako's key), bound to `aad`.
    pub fn seal(
        &self,
        kms_key_arn: Option<&str>,
        aad: &[u8],
        plain: &[u8],
    ) -> Result<Sealed, Error> {
        let id = match kms_key_arn {
            None => PLATFORM_KEY_ID.to_string(),
            Some(arn) => self.key_id(arn).ok_or_else(|| {
                Error::service(format!("the key {arn} is not registered with Hako"))
            })?,
        };
        let cipher = self.cipher(&id)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| Error::service("encryption failed"))?;
        Ok(Sealed {
            key: id,
            nonce: b64().encode(nonce),
            ciphertext: b64().encode(ciphertext),
        })
    }

    /// Decrypts a sealed value that was bound to `aad`.
    pub fn open_sealed(&self, s: &Sealed, aad: &[u8]) -> Result<Vec<u8>, Error> {
        let cipher = self.cipher(&s.key)?;
        let nonce = b64()
            .decode(&s.nonce)
            .ok()
            .filter(|n| n.len() == 12)
            .ok_or_else(|| Error::service("corrupt sealed value: bad nonce"))?;
        let ct = b64()
            .decode(&s.ciphertext)
            .map_err(|_| Error::service("corrupt sealed value: bad ciphertext"))?;
        cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ct, aad })
            .map_err(|_| {
                Error::service(format!(
                    "cannot decrypt a sealed value with key {}: wrong key or tampered data",
                    s.key
                ))
            })
    }
}

/// Reads a key file (refusing one that others may read).
fn read_key(path: &Path) -> Result<Aes256Gcm, Error> {
    let meta = fs::metadata(path).map_err(|e| io_err("cannot read the key file", path, &e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::service(format!(
            "the key file {} is open to other users (mode {mode:o}): make it 0600",
            path.display()
        )));
    }
    let text =
        fs::read_to_string(path).map_err(|e| io_err("cannot read the key file", path, &e))?;
    let raw = hex::decode(text.trim())
        .ok()
        .filter(|k| k.len() == 32)
        .ok_or_else(|| {
            Error::service(format!(
                "the key file {} does not hold a 256-bit key in hex",
                path.display()
            ))
        })?;
    Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&raw)))
}

/// Reads the key at `path`, first creating it (atomically, 0600) when there is none.
fn load_or_create(path: &Path) -> Result<Aes256Gcm, Error> {
    if path.exists() {
        return read_key(path);
    }
    let dir = path
        .parent()
        .ok_or_else(|| Error::service("a key file needs a directory"))?;
    let tmp = dir.join(format!(".tmp-{}.key", uuid::Uuid::new_v4()));
    let key = Aes256Gcm::generate_key(OsRng);
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{}\n", hex::encode(key)).as_bytes())?;
        f.sync_all()?;
        // Never clobbers: when another process made the key first, its key stands.
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        fs::File::open(dir)?.sync_all()
    };
    let r = write();
    let _ = fs::remove_file(&tmp);
    r.map_err(|e| io_err("cannot create the key file", path, &e))?;
    read_key(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        Region::default()
    }

    #[test]
    fn platform_key_is_made_once_owner_only_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let a = Keyring::open(&keys, region()).unwrap();
        let sealed = a.seal(None, b"f:$LATEST", b"secret").unwrap();
        let path = keys.join("platform.key");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let b = Keyring::open(&keys, region()).unwrap();
        assert_eq!(b.open_sealed(&sealed, b"f:$LATEST").unwrap(), b"secret");
        // Bound to its record.
        assert!(b.open_sealed(&sealed, b"g:$LATEST").is_err());
        // No temp files left.
        assert_eq!(fs::read_dir(&keys).unwrap().count(), 1);
    }

    #[test]
    fn nonces_differ_and_ciphertext_hides_the_value() {
        let k = Keyring::ephemeral(region());
        let a = k.seal(None, b"x", b"secret-value").unwrap();
        let b = k.seal(None, b"x", b"secret-value").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert!(!serde_json::to_string(&a).unwrap().contains("secret"));
    }

    #[test]
    fn customer_keys_are_registered_by_arn() {
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::open(dir.path(), region()).unwrap();
        let arn = k.create_customer_key().unwrap();
        assert!(arn.starts_with("arn:aws:kms:us-east-1:123456789012:key/"));
        assert_eq!(k.customer_key_arns().unwrap(), vec![arn.clone()]);
        let sealed = k.seal(Some(&arn), b"a", b"v").unwrap();
        assert_ne!(sealed.key, PLATFORM_KEY_ID);
        // Another keyring on the same directory (a restarted Hako) finds it lazily.
        let k2 = Keyring::open(dir.path(), region()).unwrap();
        assert!(k2.key_id(&arn).is_some());
        assert_eq!(k2.open_sealed(&sealed, b"a").unwrap(), b"v");
        for unknown in [
            "arn:aws:kms:us-east-1:123456789012:key/0f6a5a4e-8d1e-4c38-9a39-1f7a3b0e2c11"
                .to_string(),
            arn.replace("us-east-1", "eu-west-1"),
            arn.replace("123456789012", "210987654321"),
            format!("{arn}/../platform"),
            arn.to_uppercase(),
        ] {
            assert!(k2.key_id(&unknown).is_none(), "{unknown}");
            assert!(k2.seal(Some(&unknown), b"a", b"v").is_err());
        }
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Keyring::open(dir.path(), region()).unwrap();
        let path = dir.path().join("platform.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = Keyring::open(dir.path(), region()).unwrap_err();
        assert!(e.message.contains("0600"), "{}", e.message);
    }
}
