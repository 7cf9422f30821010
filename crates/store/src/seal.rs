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
//! With AWS KMS instead of a passphrase (`kdf: "aws-kms"`), the key is a
//! data key from GenerateDataKey, stored KMS-encrypted in `encrypted_key`
//! and opened with Decrypt; `key_id` is then the KMS key's ARN.
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

/// The environment variable naming an AWS KMS key: encryption with KMS
/// envelope keys instead of a passphrase.
pub const KMS_KEY_ENV: &str = "KILN_STATE_KMS_KEY_ID";

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
    #[error(
        "{what} is encrypted with the AWS KMS key {key_id}: set kms_key_id in the encryption block (or {KMS_KEY_ENV}) to read it"
    )]
    KmsNotSet { what: String, key_id: String },
    #[error(
        "AWS KMS could not {action} for {what}: {why}; check the key, its policy and the AWS credentials"
    )]
    Kms {
        action: &'static str,
        what: String,
        why: String,
    },
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
    /// With KMS: the data key, encrypted by KMS.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    encrypted_key: String,
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

/// Where a sealer's keys come from.
enum Source {
    Passphrase(Passphrase),
    /// AWS KMS envelope encryption: one data key per process from
    /// GenerateDataKey, stored encrypted beside each object and opened with
    /// Decrypt.
    #[cfg(feature = "s3")]
    Kms(kms::Kms),
}

/// Seals and opens objects with a passphrase or an AWS KMS key (and, during
/// a rotation, reads with the previous one too).
pub struct Sealer {
    current: Source,
    previous: Option<Source>,
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
            current: Source::Passphrase(Passphrase::new(passphrase.to_string())),
            previous: previous
                .filter(|p| !p.is_empty())
                .map(|p| Source::Passphrase(Passphrase::new(p.to_string()))),
            write_salt: Mutex::new(None),
            rng: SystemRandom::new(),
        })
    }

    /// A sealer with AWS KMS key `key_id` (an id, ARN or `alias/NAME`; the
    /// credentials, region and endpoint of the standard AWS chain), reading
    /// objects sealed with `previous_passphrase` too (a move from a
    /// passphrase to KMS).
    #[cfg(feature = "s3")]
    pub fn kms(key_id: &str, previous_passphrase: Option<&str>) -> Sealer {
        Sealer {
            current: Source::Kms(kms::Kms::new(key_id)),
            previous: previous_passphrase
                .filter(|p| !p.is_empty())
                .map(|p| Source::Passphrase(Passphrase::new(p.to_string()))),
            write_salt: Mutex::new(None),
            rng: SystemRandom::new(),
        }
    }

    /// The sealer the environment asks for: `None` unless
    /// [`KMS_KEY_ENV`] or [`PASSPHRASE_ENV`] is set.
    pub fn from_env() -> Result<Option<Sealer>, SealError> {
        let previous = std::env::var(PREVIOUS_PASSPHRASE_ENV).ok();
        #[cfg(feature = "s3")]
        if let Ok(key) = std::env::var(KMS_KEY_ENV)
            && !key.is_empty()
        {
            return Ok(Some(Sealer::kms(&key, previous.as_deref())));
        }
        let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) else {
            return Ok(None);
        };
        Sealer::new(&passphrase, previous.as_deref()).map(Some)
    }

    /// `plaintext`, sealed: one line of JSON. Fails only when a KMS data key
    /// cannot be had.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let (key, kdf, iterations, salt, key_id, encrypted_key) = match &self.current {
            Source::Passphrase(passphrase) => {
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
                let key = passphrase.key(&salt, ITERATIONS);
                let id = key_id(&key);
                (
                    key,
                    "pbkdf2-hmac-sha256",
                    ITERATIONS,
                    B64.encode(&salt),
                    id,
                    String::new(),
                )
            }
            #[cfg(feature = "s3")]
            Source::Kms(kms) => {
                let (key, blob, id) = kms.data_key()?;
                (key, kms::KDF, 0, String::new(), id, B64.encode(blob))
            }
        };
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
            kdf: kdf.into(),
            iterations,
            salt,
            key_id,
            cipher: "aes-256-gcm".into(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(&buf),
            encrypted_key,
        };
        Ok(serde_json::to_vec(&envelope).unwrap_or_default())
    }

    /// `plain`, sealed if there is a sealer (encryption is on), else as it
    /// is: what a store writes.
    pub fn seal_with(sealer: Option<&Sealer>, plain: Vec<u8>) -> Result<Vec<u8>, SealError> {
        match sealer {
            Some(s) => s.seal(&plain),
            None => Ok(plain),
        }
    }

    /// The plaintext of a sealed object (`what` names it in errors); an
    /// object that is not sealed is returned as it is, uncopied.
    pub fn open<'a>(
        sealer: Option<&Sealer>,
        bytes: &'a [u8],
        what: &str,
    ) -> Result<std::borrow::Cow<'a, [u8]>, SealError> {
        if !is_sealed(bytes) {
            return Ok(std::borrow::Cow::Borrowed(bytes));
        }
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| SealError::Malformed {
                what: what.into(),
                why: e.to_string(),
            })?;
        let Some(sealer) = sealer else {
            if envelope.kdf == "aws-kms" {
                return Err(SealError::KmsNotSet {
                    what: what.into(),
                    key_id: envelope.key_id,
                });
            }
            return Err(SealError::NoKey { what: what.into() });
        };
        let malformed = |why: &str| SealError::Malformed {
            what: what.into(),
            why: why.into(),
        };
        let kms_sealed = cfg!(feature = "s3") && envelope.kdf == "aws-kms";
        if envelope.kiln_sealed != 1
            || (envelope.kdf != "pbkdf2-hmac-sha256" && !kms_sealed)
            || envelope.cipher != "aes-256-gcm"
        {
            return Err(malformed(&format!(
                "version {} with {} and {} is not one this kiln reads",
                envelope.kiln_sealed, envelope.kdf, envelope.cipher
            )));
        }
        let nonce: [u8; 12] = B64
            .decode(&envelope.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| malformed("its nonce is not 12 bytes of base64"))?;
        let mut buf = B64
            .decode(&envelope.ciphertext)
            .map_err(|_| malformed("its ciphertext is not base64"))?;
        let key = if kms_sealed {
            Self::kms_key(sealer, &envelope, what)?
        } else {
            let salt = B64
                .decode(&envelope.salt)
                .map_err(|_| malformed("its salt is not base64"))?;
            Self::passphrase_key(sealer, &envelope, &salt, what)?
        };
        let plain = aead_key(&key)
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut buf,
            )
            .map_err(|_| SealError::Damaged { what: what.into() })?;
        Ok(std::borrow::Cow::Owned(plain.to_vec()))
    }

    /// The key of a passphrase-sealed object: the current or the previous
    /// passphrase's, told apart by the key id.
    fn passphrase_key(
        sealer: &Sealer,
        envelope: &Envelope,
        salt: &[u8],
        what: &str,
    ) -> Result<[u8; 32], SealError> {
        for (n, source) in std::iter::once(&sealer.current)
            .chain(sealer.previous.as_ref())
            .enumerate()
        {
            let Source::Passphrase(passphrase) = source else {
                continue;
            };
            let key = passphrase.key(salt, envelope.iterations);
            if key_id(&key) != envelope.key_id {
                continue;
            }
            if n == 0 {
                // Write with the salt just derived for: one key per command.
                let mut guard = sealer.write_salt.lock().unwrap_or_else(|e| e.into_inner());
                if guard.is_none() && envelope.iterations == ITERATIONS {
                    *guard = Some(salt.to_vec());
                }
            }
            return Ok(key);
        }
        Err(SealError::WrongKey {
            what: what.into(),
            key_id: envelope.key_id.clone(),
        })
    }

    /// The data key of a KMS-sealed object, decrypted by KMS.
    #[cfg(feature = "s3")]
    fn kms_key(sealer: &Sealer, envelope: &Envelope, what: &str) -> Result<[u8; 32], SealError> {
        let kms = std::iter::once(&sealer.current)
            .chain(sealer.previous.as_ref())
            .find_map(|s| match s {
                Source::Kms(k) => Some(k),
                Source::Passphrase(_) => None,
            })
            .ok_or_else(|| SealError::KmsNotSet {
                what: what.into(),
                key_id: envelope.key_id.clone(),
            })?;
        let blob = B64
            .decode(&envelope.encrypted_key)
            .map_err(|_| SealError::Malformed {
                what: what.into(),
                why: "its encrypted data key is not base64".into(),
            })?;
        kms.decrypt(&blob, what)
    }

    #[cfg(not(feature = "s3"))]
    fn kms_key(_: &Sealer, envelope: &Envelope, what: &str) -> Result<[u8; 32], SealError> {
        Err(SealError::KmsNotSet {
            what: what.into(),
            key_id: envelope.key_id.clone(),
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
        let sealed = a.seal(secret).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!String::from_utf8_lossy(&sealed).contains("TOPSECRET"));
        assert!(!sealed.contains(&b'\n'), "one line, for the journal");
        assert_eq!(
            Sealer::open(Some(&a), &sealed, "x").unwrap().as_ref(),
            &secret[..]
        );
        // Two seals of one text differ (fresh nonce).
        assert_ne!(a.seal(secret).unwrap(), sealed);
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
            Sealer::open(Some(&a), b"{\"serial\":1}", "x")
                .unwrap()
                .as_ref(),
            &b"{\"serial\":1}"[..]
        );
    }

    #[test]
    fn a_rotation_reads_with_the_previous_passphrase_and_writes_with_the_new() {
        let old = Sealer::new("old passphrase", None).unwrap();
        let sealed_old = old.seal(b"state v1").unwrap();
        let rotating = Sealer::new("new passphrase", Some("old passphrase")).unwrap();
        assert_eq!(
            Sealer::open(Some(&rotating), &sealed_old, "x")
                .unwrap()
                .as_ref(),
            &b"state v1"[..]
        );
        let sealed_new = rotating.seal(b"state v2").unwrap();
        let new_only = Sealer::new("new passphrase", None).unwrap();
        assert_eq!(
            Sealer::open(Some(&new_only), &sealed_new, "x")
                .unwrap()
                .as_ref(),
            &b"state v2"[..]
        );
        assert!(Sealer::open(Some(&old), &sealed_new, "x").is_err());
    }
}

/// AWS KMS envelope keys: GenerateDataKey once per process (AES-256), the
/// plaintext data key kept in memory, its KMS-encrypted form stored in each
/// envelope; Decrypt (cached per encrypted key) to open.
///
/// The seal interface is synchronous (stores call it from their blocking
/// file work as well as from async code); the KMS calls are made on the
/// running tokio runtime with `block_in_place`, which needs the
/// multi-threaded runtime kiln runs on.
#[cfg(feature = "s3")]
mod kms {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::DataKeySpec;

    use super::SealError;

    pub(super) const KDF: &str = "aws-kms";

    /// A data key: plaintext, KMS-encrypted, and the KMS key's ARN.
    type DataKey = ([u8; 32], Vec<u8>, String);

    pub(super) struct Kms {
        key_id: String,
        client: tokio::sync::OnceCell<aws_sdk_kms::Client>,
        /// This process's data key.
        data: Mutex<Option<DataKey>>,
        opened: Mutex<HashMap<Vec<u8>, [u8; 32]>>,
    }

    fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
        match tokio::runtime::Handle::try_current() {
            Ok(h) => Ok(tokio::task::block_in_place(|| h.block_on(f))),
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(f))
                .map_err(|e| format!("starting a runtime for AWS KMS: {e}")),
        }
    }

    fn short<E>(e: &aws_sdk_kms::error::SdkError<E>) -> String
    where
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use aws_sdk_kms::error::ProvideErrorMetadata;
        match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            _ => aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
        }
    }

    /// One KMS call, run to completion from synchronous code; its error
    /// in one line.
    fn call<T, E>(
        f: impl std::future::Future<Output = Result<T, aws_sdk_kms::error::SdkError<E>>>,
    ) -> Result<T, String>
    where
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        block_on(f)?.map_err(|e| short(&e))
    }

    fn key32(bytes: &[u8]) -> Option<[u8; 32]> {
        bytes.try_into().ok()
    }

    impl Kms {
        pub(super) fn new(key_id: &str) -> Kms {
            Kms {
                key_id: key_id.to_string(),
                client: tokio::sync::OnceCell::new(),
                data: Mutex::new(None),
                opened: Mutex::new(HashMap::new()),
            }
        }

        async fn client(&self) -> &aws_sdk_kms::Client {
            self.client
                .get_or_init(|| async {
                    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .load()
                        .await;
                    aws_sdk_kms::Client::new(&config)
                })
                .await
        }

        /// The data key sealing uses: (plaintext, encrypted, key ARN).
        pub(super) fn data_key(&self) -> Result<DataKey, SealError> {
            let mut guard = self.data.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(d) = guard.as_ref() {
                return Ok(d.clone());
            }
            let fail = |why: String| SealError::Kms {
                action: "make a data key",
                what: format!("key {}", self.key_id),
                why,
            };
            let out = call(async {
                self.client()
                    .await
                    .generate_data_key()
                    .key_id(&self.key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .send()
                    .await
            })
            .map_err(fail)?;
            let plain = out
                .plaintext()
                .and_then(|b| key32(b.as_ref()))
                .ok_or_else(|| fail("it returned no 256-bit key".into()))?;
            let blob = out
                .ciphertext_blob()
                .map(|b| b.as_ref().to_vec())
                .ok_or_else(|| fail("it returned no encrypted key".into()))?;
            let arn = out.key_id().unwrap_or(&self.key_id).to_string();
            if let Ok(mut opened) = self.opened.lock() {
                opened.insert(blob.clone(), plain);
            }
            let d = (plain, blob, arn);
            *guard = Some(d.clone());
            Ok(d)
        }

        /// The plaintext of an encrypted data key.
        pub(super) fn decrypt(&self, blob: &[u8], what: &str) -> Result<[u8; 32], SealError> {
            if let Ok(opened) = self.opened.lock()
                && let Some(k) = opened.get(blob)
            {
                return Ok(*k);
            }
            let fail = |why: String| SealError::Kms {
                action: "decrypt the data key",
                what: what.to_string(),
                why,
            };
            let out = call(async {
                self.client()
                    .await
                    .decrypt()
                    .ciphertext_blob(Blob::new(blob.to_vec()))
                    .send()
                    .await
            })
            .map_err(fail)?;
            let plain = out
                .plaintext()
                .and_then(|b| key32(b.as_ref()))
                .ok_or_else(|| fail("it returned no 256-bit key".into()))?;
            if let Ok(mut opened) = self.opened.lock() {
                opened.insert(blob.to_vec(), plain);
            }
            Ok(plain)
        }
    }
}
