//! The root credentials: `HAKO_ACCESS_KEY_ID` / `HAKO_SECRET_ACCESS_KEY` when set, else the
//! pair generated at the first start and kept in `<data dir>/credentials` (mode 0600).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use hako_auth::KeyPair;

use crate::config::CredentialsArgs;

/// The file of the generated pair in the data dir.
pub(crate) const FILE: &str = "credentials";

/// Where the root pair came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Environment,
    DataDir,
    Generated,
}

/// The root pair: from the environment (both variables, or neither), else the data dir's, else
/// a new one written there (0600). `create`: whether a missing file may be made.
pub(crate) fn root(
    data_dir: &Path,
    access_key_id: Option<&str>,
    secret_access_key: Option<&str>,
    create: bool,
) -> Result<(KeyPair, Source)> {
    // An empty variable is an unset one.
    let access_key_id = access_key_id.filter(|s| !s.is_empty());
    let secret_access_key = secret_access_key.filter(|s| !s.is_empty());
    match (access_key_id, secret_access_key) {
        (Some(id), Some(secret)) => {
            let pair = KeyPair::new(id, secret)
                .map_err(|e| anyhow::anyhow!("HAKO_ACCESS_KEY_ID / HAKO_SECRET_ACCESS_KEY: {e}"))?;
            return Ok((pair, Source::Environment));
        }
        (Some(_), None) | (None, Some(_)) => {
            bail!("set both HAKO_ACCESS_KEY_ID and HAKO_SECRET_ACCESS_KEY, or neither")
        }
        (None, None) => {}
    }
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let pair = KeyPair::from_file(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            // Owner-only, whatever made it.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            Ok((pair, Source::DataDir))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let pair = KeyPair::generate();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            f.write_all(pair.to_file().as_bytes())?;
            f.sync_all()?;
            Ok((pair, Source::Generated))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} has no root credentials yet: `hako serve` makes them at its first start \
             (or set HAKO_ACCESS_KEY_ID and HAKO_SECRET_ACCESS_KEY)",
            data_dir.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// What `hako serve` prints at start, and `hako credentials` again.
pub(crate) fn banner(pair: &KeyPair, source: Source, region: &str, endpoint: &str) -> String {
    let from = match source {
        Source::Environment => "from HAKO_ACCESS_KEY_ID / HAKO_SECRET_ACCESS_KEY",
        Source::DataDir => "kept in the data dir's `credentials`",
        Source::Generated => "generated now, kept in the data dir's `credentials` (0600)",
    };
    format!(
        "root credentials ({from}):\n  access key id:     {}\n  secret access key: {}\nto use them:\n{}",
        pair.access_key_id,
        pair.secret_access_key,
        pair.configure_lines(region, endpoint)
    )
}

/// `hako credentials`.
pub(crate) fn print(args: CredentialsArgs) -> Result<()> {
    let (pair, source) = root(
        &args.data_dir,
        args.access_key_id.as_deref(),
        args.secret_access_key.as_deref(),
        false,
    )?;
    print!(
        "{}",
        banner(
            &pair,
            source,
            &args.region,
            &format!("http://{}", args.listen)
        )
    );
    Ok(())
}
