//! Secrets at rest: files under `<data_dir>/secrets/` are sealed with AES-256-GCM, so a copy
//! of the data directory (a backup, a stolen disk) does not hand over the marketplace
//! sessions in it.
//!
//! The key comes from `BAZAAR_SECRETS_KEY` (64 hex digits) when set, else from
//! `<data_dir>/secrets/key`, made on first use (32 random bytes as hex, mode 0600, in a 0700
//! directory) and refused when group or others can read it. A sealed file is
//! [`MAGIC`], a random 96-bit nonce, then the ciphertext and its tag; the file's name is the
//! associated data, so sealed files cannot be swapped for one another.
//!
//! ```
//! use bazaar_agents::sealed::{open, seal, SealingKey};
//!
//! let key = SealingKey::from_hex(&"7".repeat(64)).unwrap();
//! let sealed = seal(&key, b"facebook.json", b"{\"cookies\": []}").unwrap();
//! assert!(!sealed.windows(7).any(|w| w == b"cookies"));
//! assert_eq!(open(&key, b"facebook.json", &sealed).unwrap(), b"{\"cookies\": []}");
//! assert!(open(&key, b"ebay.json", &sealed).is_err());
//! ```

use std::path::{Path, PathBuf};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// What every sealed file starts with.
pub const MAGIC: &[u8] = b"bazaar-sealed-v1\n";

/// The environment variable that may hold the key (64 hex digits).
pub const KEY_ENV: &str = "BAZAAR_SECRETS_KEY";

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key is not 64 hex digits.
    #[error("{origin}: the secrets key must be 64 hex digits (32 bytes); make one with `openssl rand -hex 32`")]
    BadKey {
        /// Where it came from.
        origin: String,
    },
    /// The key file is readable by group or others, or cannot be read or made.
    #[error("{path}: {message}")]
    KeyFile {
        /// The key file.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Not a sealed file, altered, or sealed with another key.
    #[error("cannot open the sealed secret: it was altered or sealed with another key (was {KEY_ENV} or the key file changed?)")]
    Unreadable,
    /// The system's random number generator failed.
    #[error("no randomness for a nonce")]
    Random,
}

/// An AES-256-GCM key for secrets at rest. Prints as `[redacted]`.
pub struct SealingKey(LessSafeKey);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

impl SealingKey {
    /// A key from 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<SealingKey, SealError> {
        SealingKey::parse(hex, "key")
    }

    fn parse(hex: &str, origin: &str) -> Result<SealingKey, SealError> {
        let bad = || SealError::BadKey {
            origin: origin.to_string(),
        };
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let bytes = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| bad())?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad())?;
        Ok(SealingKey(LessSafeKey::new(key)))
    }

    /// Where the key file of the secrets directory `secrets` is.
    pub fn file(secrets: &Path) -> PathBuf {
        secrets.join("key")
    }

    /// The key for the secrets directory `secrets`: `BAZAAR_SECRETS_KEY`, else its key
    /// file, made now when `create` and there is none.
    pub fn for_dir(secrets: &Path, create: bool) -> Result<Option<SealingKey>, SealError> {
        if let Ok(hex) = std::env::var(KEY_ENV) {
            return SealingKey::parse(&hex, &format!("${KEY_ENV}")).map(Some);
        }
        let path = SealingKey::file(secrets);
        let key_file_error = |message: String| SealError::KeyFile {
            path: path.display().to_string(),
            message,
        };
        match std::fs::metadata(&path) {
            Ok(metadata) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = metadata.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(key_file_error(format!(
                        "mode {mode:o}; the secrets key must not be readable by group or others (chmod 600)"
                    )));
                }
                let hex =
                    std::fs::read_to_string(&path).map_err(|e| key_file_error(e.to_string()))?;
                SealingKey::parse(&hex, &path.display().to_string()).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                SealingKey::create(secrets, &path).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(key_file_error(e.to_string())),
        }
    }

    fn create(secrets: &Path, path: &Path) -> Result<SealingKey, SealError> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let error = |e: std::io::Error| SealError::KeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(secrets)
            .map_err(error)?;
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SealError::Random)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // create_new: two processes racing to make the key cannot both win.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(error)?;
        file.write_all(format!("{hex}\n").as_bytes())
            .map_err(error)?;
        file.sync_all().map_err(error)?;
        SealingKey::parse(&hex, &path.display().to_string())
    }
}

/// `plaintext` sealed under `key`, bound to `name` (the file's name).
pub fn seal(key: &SealingKey, name: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Random)?;
    let mut body = plaintext.to_vec();
    key.0
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(name),
            &mut body,
        )
        .map_err(|_| SealError::Random)?;
    let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Whether `bytes` are a sealed file (else: a plain one from before sealing).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The plaintext of a file [`seal`]ed under `key` for `name`.
pub fn open(key: &SealingKey, name: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let rest = sealed.strip_prefix(MAGIC).ok_or(SealError::Unreadable)?;
    if rest.len() < NONCE_LEN {
        return Err(SealError::Unreadable);
    }
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unreadable)?;
    let mut body = body.to_vec();
    let plain = key
        .0
        .open_in_place(nonce, Aad::from(name), &mut body)
        .map_err(|_| SealError::Unreadable)?;
    Ok(plain.to_vec())
}
