//! Client-side encryption of what kiln writes about an environment: the
//! state, its history, the journal, saved plans.
//!
//! A passphrase is stretched with PBKDF2-HMAC-SHA256 (600,000 iterations,
//! OWASP's 2023 figure; a random 16-byte salt) into a 256-bit key; each
//! object is sealed with AES-256-GCM under a fresh random 96-bit nonce.
//! Everything is `ring`'s (no hand-written cryptography). A sealed object is
//! one line of JSON, so a sealed journal stays one record per line:
//!
//! ```json
//! {"kiln_sealed":1,"kdf":"pbkdf2-hmac-sha256","iterations":600000,
//!  "salt":"…","key_id":"…","cipher":"aes-256-gcm","nonce":"…","ciphertext":"…"}
//! ```
//!
//! `key_id` (16 hex digits of SHA-256 over the key) tells a wrong passphrase
//! from a damaged object. Rotation: a [`Sealer`] reads with its current key
//! or its previous one, and always writes with the current one. An object
//! that is not sealed is read as it is (so turning encryption on needs no
//! migration step: the next write seals).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// The environment variable holding the passphrase (encryption is on when
/// it is set, or when the configuration names another variable).
pub const PASSPHRASE_ENV: &str = "KILN_STATE_PASSPHRASE";
/// The environment variable holding the previous passphrase, during a
/// rotation: objects sealed with it are still read.
pub const PREVIOUS_PASSPHRASE_ENV: &str = "KILN_STATE_PASSPHRASE_PREVIOUS";

const ITERATIONS: u32 = 600_000;
const AAD: &[u8] = b"kiln-sealed-v1";
/// How every sealed object starts (the envelope's first field).
const MARK: &[u8] = b"{\"kiln_sealed\":";

/// Why a sealed object could not be opened, or a sealer made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error(
        "{what} is encrypted, and no passphrase is set: set {PASSPHRASE_ENV} to the passphrase it was written with"
    )]
    NoKey { what: String },
    #[error(
        "{what} was encrypted with another passphrase (key id {key_id}): set {PASSPHRASE_ENV} to that passphrase; to change passphrases, set the new one there and the old one in {PREVIOUS_PASSPHRASE_ENV}"
    )]
    WrongKey { what: String, key_id: String },
    #[error(
        "{what} is encrypted with this passphrase but does not authenticate: it was altered or damaged; restore it from history (`kiln state history`)"
    )]
    Damaged { what: String },
    #[error("{what} is not a readable encrypted object: {why}")]
    Malformed { what: String, why: String },
    #[error("the passphrase in {0} is empty; use a long random one")]
    EmptyPassphrase(&'static str),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kiln_sealed: u32,
    kdf: String,
    iterations: u32,
    salt: String,
    key_id: String,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

/// A key derivation's inputs besides the passphrase: salt and iterations.
type Derivation = (Vec<u8>, u32);

/// One passphrase, with the keys derived from it so far (one per salt).
struct Passphrase {
    secret: String,
    keys: Mutex<HashMap<Derivation, [u8; 32]>>,
}

impl Passphrase {
    fn new(secret: String) -> Passphrase {
        Passphrase {
            secret,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, salt: &[u8], iterations: u32) -> [u8; 32] {
        let slot = (salt.to_vec(), iterations);
        if let Ok(keys) = self.keys.lock()
            && let Some(k) = keys.get(&slot)
        {
            return *k;
        }
        let mut key = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations.max(1)).unwrap_or(NonZeroU32::MIN),
            salt,
            self.secret.as_bytes(),
            &mut key,
        );
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(slot, key);
        }
        key
    }
}

fn key_id(key: &[u8; 32]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seals and opens objects with a passphrase (and, during a rotation, reads
/// with the previous one too).
pub struct Sealer {
    current: Passphrase,
    previous: Option<Passphrase>,
    /// The salt writes use: the first one a read derived a key for (so a
    /// command derives one key, not two), else a new random one.
    write_salt: Mutex<Option<Vec<u8>>>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the passphrases.
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for `passphrase`, reading with `previous` too.
    pub fn new(passphrase: &str, previous: Option<&str>) -> Result<Sealer, SealError> {
        if passphrase.is_empty() {
            return Err(SealError::EmptyPassphrase(PASSPHRASE_ENV));
        }
        Ok(Sealer {
            current: Passphrase::new(passphrase.to_string()),
            previous: previous
                .filter(|p| !p.is_empty())
                .map(|p| Passphrase::new(p.to_string())),
            write_salt: Mutex::new(None),
            rng: SystemRandom::new(),
        })
    }

    /// The sealer the environment asks for: `None` unless
    /// [`PASSPHRASE_ENV`] is set.
    pub fn from_env() -> Result<Option<Sealer>, SealError> {
        let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) else {
            return Ok(None);
        };
        let previous = std::env::var(PREVIOUS_PASSPHRASE_ENV).ok();
        Sealer::new(&passphrase, previous.as_deref()).map(Some)
    }

    /// `plaintext`, sealed: one line of JSON.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let salt = {
            let mut guard = self.write_salt.lock().unwrap_or_else(|e| e.into_inner());
            guard
                .get_or_insert_with(|| {
                    let mut salt = vec![0u8; 16];
                    let _ = self.rng.fill(&mut salt);
                    salt
                })
                .clone()
        };
        let key = self.current.key(&salt, ITERATIONS);
        let mut nonce = [0u8; 12];
        let _ = self.rng.fill(&mut nonce);
        let mut buf = plaintext.to_vec();
        // Sealing only fails for a message longer than AES-GCM allows
        // (64 GiB); a state is never near that.
        let _ = aead_key(&key).seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(AAD),
            &mut buf,
        );
        let envelope = Envelope {
            kiln_sealed: 1,
            kdf: "pbkdf2-hmac-sha256".into(),
            iterations: ITERATIONS,
            salt: B64.encode(&salt),
            key_id: key_id(&key),
            cipher: "aes-256-gcm".into(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(&buf),
        };
        serde_json::to_vec(&envelope).unwrap_or_default()
    }

    /// The plaintext of a sealed object (`what` names it in errors); an
    /// object that is not sealed is returned as it is.
    pub fn open(sealer: Option<&Sealer>, bytes: &[u8], what: &str) -> Result<Vec<u8>, SealError> {
        if !is_sealed(bytes) {
            return Ok(bytes.to_vec());
        }
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| SealError::Malformed {
                what: what.into(),
                why: e.to_string(),
            })?;
        let Some(sealer) = sealer else {
            return Err(SealError::NoKey { what: what.into() });
        };
        let malformed = |why: &str| SealError::Malformed {
            what: what.into(),
            why: why.into(),
        };
        if envelope.kiln_sealed != 1
            || envelope.kdf != "pbkdf2-hmac-sha256"
            || envelope.cipher != "aes-256-gcm"
        {
            return Err(malformed(&format!(
                "version {} with {} and {} is not one this kiln reads",
                envelope.kiln_sealed, envelope.kdf, envelope.cipher
            )));
        }
        let salt = B64
            .decode(&envelope.salt)
            .map_err(|_| malformed("its salt is not base64"))?;
        let nonce: [u8; 12] = B64
            .decode(&envelope.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| malformed("its nonce is not 12 bytes of base64"))?;
        let mut buf = B64
            .decode(&envelope.ciphertext)
            .map_err(|_| malformed("its ciphertext is not base64"))?;
        for (n, passphrase) in std::iter::once(&sealer.current)
            .chain(sealer.previous.as_ref())
            .enumerate()
        {
            let key = passphrase.key(&salt, envelope.iterations);
            if key_id(&key) != envelope.key_id {
                continue;
            }
            if n == 0 {
                // Write with the salt just derived for: one key per command.
                let mut guard = sealer.write_salt.lock().unwrap_or_else(|e| e.into_inner());
                if guard.is_none() && envelope.iterations == ITERATIONS {
                    *guard = Some(salt.clone());
                }
            }
            let plain = aead_key(&key)
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(AAD),
                    &mut buf,
                )
                .map_err(|_| SealError::Damaged { what: what.into() })?;
            return Ok(plain.to_vec());
        }
        Err(SealError::WrongKey {
            what: what.into(),
            key_id: envelope.key_id,
        })
    }
}

fn aead_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("AES-256-GCM takes any 32-byte key"))
}

/// Whether `bytes` is a sealed object (rather than plain JSON).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MARK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_objects_open_only_with_their_passphrase() {
        let a = Sealer::new("correct horse battery staple", None).unwrap();
        let secret = br#"{"triggers":{"pw":"TOPSECRET"}}"#;
        let sealed = a.seal(secret);
        assert!(is_sealed(&sealed));
        assert!(!String::from_utf8_lossy(&sealed).contains("TOPSECRET"));
        assert!(!sealed.contains(&b'\n'), "one line, for the journal");
        assert_eq!(Sealer::open(Some(&a), &sealed, "x").unwrap(), secret);
        // Two seals of one text differ (fresh nonce).
        assert_ne!(a.seal(secret), sealed);
        // No passphrase, another passphrase, a damaged object: each its error.
        assert!(matches!(
            Sealer::open(None, &sealed, "the state"),
            Err(SealError::NoKey { .. })
        ));
        let b = Sealer::new("another", None).unwrap();
        let wrong = Sealer::open(Some(&b), &sealed, "the state").unwrap_err();
        assert!(matches!(wrong, SealError::WrongKey { .. }), "{wrong}");
        let env: serde_json::Value = serde_json::from_slice(&sealed).unwrap();
        let text = env["ciphertext"].as_str().unwrap();
        let mut ct = B64.decode(text).unwrap();
        ct[3] ^= 1;
        let damaged = String::from_utf8(sealed.clone())
            .unwrap()
            .replace(text, &B64.encode(ct))
            .into_bytes();
        assert!(matches!(
            Sealer::open(Some(&a), &damaged, "the state"),
            Err(SealError::Damaged { .. })
        ));
        // Plain objects pass through (turning encryption on needs no migration).
        assert_eq!(
            Sealer::open(Some(&a), b"{\"serial\":1}", "x").unwrap(),
            b"{\"serial\":1}"
        );
    }

    #[test]
    fn a_rotation_reads_with_the_previous_passphrase_and_writes_with_the_new() {
        let old = Sealer::new("old passphrase", None).unwrap();
        let sealed_old = old.seal(b"state v1");
        let rotating = Sealer::new("new passphrase", Some("old passphrase")).unwrap();
        assert_eq!(
            Sealer::open(Some(&rotating), &sealed_old, "x").unwrap(),
            b"state v1"
        );
        let sealed_new = rotating.seal(b"state v2");
        let new_only = Sealer::new("new passphrase", None).unwrap();
        assert_eq!(
            Sealer::open(Some(&new_only), &sealed_new, "x").unwrap(),
            b"state v2"
        );
        assert!(Sealer::open(Some(&old), &sealed_new, "x").is_err());
    }
}
