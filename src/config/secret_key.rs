//! The key that encrypts stored CRM tokens and signs sessions: configured, or made on first
//! start and kept in `DATA_DIR/secret.key` (readable by its owner only).

use std::path::Path;

use base64::Engine as _;
use secrecy::SecretString;

use super::ConfigError;

/// The secret key kept in `DATA_DIR/secret.key`, made on first start.
pub fn kept_secret_key(data_dir: &Path) -> Result<SecretString, ConfigError> {
    let path = data_dir.join("secret.key");
    let fail = |source| ConfigError::SecretKey {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(SecretString::from(text.trim())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(fail)?;
    let bytes: [u8; 32] = rand::random();
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    write_private(&path, &key).map_err(fail)?;
    Ok(SecretString::from(key))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
