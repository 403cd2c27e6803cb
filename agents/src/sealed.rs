//! Secrets at rest: files under `<data_dir>/secrets/` are sealed with AES-256-GCM, so a copy
//! of the data directory (a backup, a stolen disk) does not hand over the marketplace
//! sessions in it.
//!
//! The key comes from `BAZAAR_SECRETS_KEY` (64 hex digits) when set; else from
//! `BAZAAR_SECRETS_PASSPHRASE` through Argon2id (19 MiB, two passes, one lane: OWASP's
//! recommended minimum) with a random salt kept in `<data_dir>/secrets/salt`; else from
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

/// The environment variable that may hold a passphrase the key is derived from.
pub const PASSPHRASE_ENV: &str = "BAZAAR_SECRETS_PASSPHRASE";

/// Argon2id's cost: memory in KiB, passes, lanes (OWASP's minimum for Argon2id).
const ARGON2_COST: (u32, u32, u32) = (19 * 1024, 2, 1);

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
    /// The passphrase cannot make a key.
    #[error("${PASSPHRASE_ENV}: {0}")]
    BadPassphrase(String),
    /// Not a sealed file, altered, or sealed with another key.
    #[error("cannot open the sealed secret: it was altered or sealed with another key (did {KEY_ENV}, {PASSPHRASE_ENV} or the key file change?)")]
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

    /// A key derived from `passphrase` and `salt` with Argon2id.
    ///
    /// ```
    /// use bazaar_agents::sealed::{open, seal, SealingKey};
    /// let key = SealingKey::from_passphrase("correct horse battery staple", b"0123456789abcdef").unwrap();
    /// let sealed = seal(&key, b"s.json", b"secret").unwrap();
    /// let again = SealingKey::from_passphrase("correct horse battery staple", b"0123456789abcdef").unwrap();
    /// assert_eq!(open(&again, b"s.json", &sealed).unwrap(), b"secret");
    /// let other = SealingKey::from_passphrase("another passphrase", b"0123456789abcdef").unwrap();
    /// assert!(open(&other, b"s.json", &sealed).is_err());
    /// assert!(SealingKey::from_passphrase("short", b"0123456789abcdef").is_err());
    /// ```
    pub fn from_passphrase(passphrase: &str, salt: &[u8]) -> Result<SealingKey, SealError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(SealError::BadPassphrase(format!(
                "a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"
            )));
        }
        let (memory, passes, lanes) = ARGON2_COST;
        let params = argon2::Params::new(memory, passes, lanes, Some(32))
            .map_err(|e| SealError::BadPassphrase(e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut bytes = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut bytes)
            .map_err(|e| SealError::BadPassphrase(e.to_string()))?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| SealError::BadPassphrase("no key from it".into()))?;
        Ok(SealingKey(LessSafeKey::new(key)))
    }

    /// Where the salt for a passphrase of the secrets directory `secrets` is.
    pub fn salt_file(secrets: &Path) -> PathBuf {
        secrets.join("salt")
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
        if let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) {
            let salt = match read_private(&SealingKey::salt_file(secrets))? {
                Some(salt) => salt,
                None if create => write_private(secrets, &SealingKey::salt_file(secrets))?,
                None => return Ok(None),
            };
            return SealingKey::from_passphrase(&passphrase, salt.as_bytes()).map(Some);
        }
        let path = SealingKey::file(secrets);
        match read_private(&path)? {
            Some(hex) => SealingKey::parse(&hex, &path.display().to_string()).map(Some),
            None if create => {
                let hex = write_private(secrets, &path)?;
                SealingKey::parse(&hex, &path.display().to_string()).map(Some)
            }
            None => Ok(None),
        }
    }
}

/// The fewest characters a passphrase may have.
const MIN_PASSPHRASE_CHARS: usize = 12;

/// The text of a file only its owner may read; `None` when there is none.
fn read_private(path: &Path) -> Result<Option<String>, SealError> {
    let key_file_error = |message: String| SealError::KeyFile {
        path: path.display().to_string(),
        message,
    };
    match std::fs::metadata(path) {
        Ok(metadata) => {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(key_file_error(format!(
                    "mode {mode:o}; it must not be readable by group or others (chmod 600)"
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|e| key_file_error(e.to_string()))?;
            Ok(Some(text.trim().to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(key_file_error(e.to_string())),
    }
}

/// Makes `path` (in the 0700 directory `secrets`) holding 32 random bytes as hex, mode
/// 0600, and returns the hex.
fn write_private(secrets: &Path, path: &Path) -> Result<String, SealError> {
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
    // create_new: two processes racing to make it cannot both win.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(error)?;
    file.write_all(format!("{hex}\n").as_bytes())
        .map_err(error)?;
    file.sync_all().map_err(error)?;
    Ok(hex)
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
