//! Hash functions: hex digests of a string's UTF-8 bytes, or base64 of the
//! raw digest.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_model::Value;
use md5::Digest as _;

use super::{FnError, string_arg};

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[derive(Clone, Copy)]
pub(super) enum Algo {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

pub(super) fn digest(algo: Algo, data: &[u8]) -> Vec<u8> {
    match algo {
        Algo::Md5 => md5::Md5::digest(data).to_vec(),
        Algo::Sha1 => sha1::Sha1::digest(data).to_vec(),
        Algo::Sha256 => sha2::Sha256::digest(data).to_vec(),
        Algo::Sha512 => sha2::Sha512::digest(data).to_vec(),
    }
}

fn hex_of(algo: Algo, args: &[Value]) -> Result<Value, FnError> {
    Ok(Value::from(hex(&digest(
        algo,
        string_arg(args, 0)?.as_bytes(),
    ))))
}

fn b64_of(algo: Algo, args: &[Value]) -> Result<Value, FnError> {
    Ok(Value::String(
        STANDARD
            .encode(digest(algo, string_arg(args, 0)?.as_bytes()))
            .into(),
    ))
}

pub(super) fn md5(args: Vec<Value>) -> Result<Value, FnError> {
    hex_of(Algo::Md5, &args)
}

pub(super) fn sha1(args: Vec<Value>) -> Result<Value, FnError> {
    hex_of(Algo::Sha1, &args)
}

pub(super) fn sha256(args: Vec<Value>) -> Result<Value, FnError> {
    hex_of(Algo::Sha256, &args)
}

pub(super) fn sha512(args: Vec<Value>) -> Result<Value, FnError> {
    hex_of(Algo::Sha512, &args)
}

pub(super) fn base64sha256(args: Vec<Value>) -> Result<Value, FnError> {
    b64_of(Algo::Sha256, &args)
}

pub(super) fn base64sha512(args: Vec<Value>) -> Result<Value, FnError> {
    b64_of(Algo::Sha512, &args)
}

/// `bcrypt(str, cost)` as Terraform computes it (Go's
/// `golang.org/x/crypto/bcrypt`): a `$2a$` hash with a random salt, cost 10
/// by default (and for a cost below 4), at most 31; a password longer than
/// 72 bytes is refused.
pub(super) fn bcrypt(args: Vec<Value>) -> Result<Value, FnError> {
    let password = string_arg(&args, 0)?;
    let cost = match args.get(1) {
        Some(_) => super::int_arg(&args, 1)?,
        None => 10,
    };
    if cost > 31 {
        return Err(super::err(format!(
            "error occured generating password crypto/bcrypt: cost {cost} is outside allowed range (4,31)"
        )));
    }
    let cost = if cost < 4 { 10 } else { cost as u32 };
    if password.len() > 72 {
        return Err(super::err("password length exceeds 72 bytes"));
    }
    let parts = ::bcrypt::hash_with_result(password.as_bytes(), cost)
        .map_err(|e| super::err(format!("error occured generating password {e}")))?;
    Ok(Value::String(
        parts.format_for_version(::bcrypt::Version::TwoA).into(),
    ))
}

/// `rsadecrypt(ciphertext, privatekey)`: base64 ciphertext decrypted with
/// an RSA private key in PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE
/// KEY`), PKCS#1 v1.5 padding, as Go's `rsa.DecryptPKCS1v15` (the
/// Windows password EC2 returns for a key pair).
pub(super) fn rsadecrypt(args: Vec<Value>) -> Result<Value, FnError> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    let ciphertext = string_arg(&args, 0)?;
    let pem = string_arg(&args, 1)?;
    let data = STANDARD.decode(ciphertext.as_bytes()).map_err(|_| {
        super::arg_err(
            0,
            format!(
                "failed to decode input {}: cipher text must be base64-encoded",
                Value::String(ciphertext.clone().into())
            ),
        )
    })?;
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(&pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(&pem))
        .map_err(|_| {
            super::arg_err(
                1,
                "invalid private key: no RSA private key in PEM (PKCS#1 \"RSA PRIVATE KEY\" or PKCS#8 \"PRIVATE KEY\") found",
            )
        })?;
    let plain = key
        .decrypt(rsa::Pkcs1v15Encrypt, &data)
        .map_err(|_| super::err("failed to decrypt: crypto/rsa: decryption error"))?;
    Ok(Value::String(
        String::from_utf8_lossy(&plain).into_owned().into(),
    ))
}
