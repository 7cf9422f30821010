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
    Ok(Value::String(hex(&digest(
        algo,
        string_arg(args, 0)?.as_bytes(),
    ))))
}

fn b64_of(algo: Algo, args: &[Value]) -> Result<Value, FnError> {
    Ok(Value::String(
        STANDARD.encode(digest(algo, string_arg(args, 0)?.as_bytes())),
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
