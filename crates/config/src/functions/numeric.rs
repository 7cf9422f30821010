//! Numeric functions.

use kiln_model::{Number, Value};
use num_bigint::BigInt;

use super::{FnError, arg_err, float_arg, int, int_arg, number_arg, string_arg};

pub(super) fn ceil(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Number(number_arg(&args, 0)?.ceil()))
}

pub(super) fn floor(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(Value::Number(number_arg(&args, 0)?.floor()))
}

/// Terraform computes `log` and `pow` in Go `float64`s.
pub(super) fn log(args: Vec<Value>) -> Result<Value, FnError> {
    let n = float_arg(&args, 0)?;
    let base = float_arg(&args, 1)?;
    let r = n.ln() / base.ln();
    if !r.is_finite() {
        return Err(arg_err(
            0,
            format!("the logarithm of {n} in base {base} is not a finite number"),
        ));
    }
    Ok(Value::Number(Number::from(r)))
}

pub(super) fn pow(args: Vec<Value>) -> Result<Value, FnError> {
    let r = float_arg(&args, 0)?.powf(float_arg(&args, 1)?);
    if !r.is_finite() {
        return Err(arg_err(1, "the result is not a finite number"));
    }
    Ok(Value::Number(Number::from(r)))
}

pub(super) fn signum(args: Vec<Value>) -> Result<Value, FnError> {
    // Terraform reads the argument as a whole number.
    let n = number_arg(&args, 0)?;
    if !n.is_integer() {
        return Err(arg_err(0, "value must be a whole number"));
    }
    Ok(int(i64::from(n.signum())))
}

/// `parseint("FF", 16)`: bases 2 to 62; digits 0-9, then a-z, then A-Z
/// (letters are case-insensitive up to base 36).
pub(super) fn parseint(args: Vec<Value>) -> Result<Value, FnError> {
    let s = string_arg(&args, 0)?;
    let base = int_arg(&args, 1)?;
    if !(2..=62).contains(&base) {
        return Err(arg_err(
            1,
            "base must be a whole number between 2 and 62 inclusive",
        ));
    }
    let bad = || {
        arg_err(
            0,
            format!(
                "cannot parse {} as a base {base} integer",
                Value::String(s.clone().into())
            ),
        )
    };
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let mut acc = BigInt::from(0);
    for c in digits.chars() {
        let d = match c {
            '0'..='9' => c as i64 - '0' as i64,
            'a'..='z' => c as i64 - 'a' as i64 + 10,
            'A'..='Z' if base <= 36 => c as i64 - 'A' as i64 + 10,
            'A'..='Z' => c as i64 - 'A' as i64 + 36,
            _ => return Err(bad()),
        };
        if d >= base {
            return Err(bad());
        }
        acc = acc * base + d;
    }
    Ok(Value::Number(Number::from_bigint(&if neg {
        -acc
    } else {
        acc
    })))
}
