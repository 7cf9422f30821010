//! Numeric functions.

use kiln_model::Value;

use super::{FnError, arg_err, int_arg, num, number_arg, string_arg};

pub(super) fn ceil(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(num(number_arg(&args, 0)?.ceil()))
}

pub(super) fn floor(args: Vec<Value>) -> Result<Value, FnError> {
    Ok(num(number_arg(&args, 0)?.floor()))
}

pub(super) fn log(args: Vec<Value>) -> Result<Value, FnError> {
    let n = number_arg(&args, 0)?;
    let base = number_arg(&args, 1)?;
    let r = n.ln() / base.ln();
    if !r.is_finite() {
        return Err(arg_err(
            0,
            format!("the logarithm of {n} in base {base} is not a finite number"),
        ));
    }
    Ok(num(r))
}

pub(super) fn pow(args: Vec<Value>) -> Result<Value, FnError> {
    let r = number_arg(&args, 0)?.powf(number_arg(&args, 1)?);
    if !r.is_finite() {
        return Err(arg_err(1, "the result is not a finite number"));
    }
    Ok(num(r))
}

pub(super) fn signum(args: Vec<Value>) -> Result<Value, FnError> {
    let n = number_arg(&args, 0)?;
    // Terraform reads the argument as a whole number.
    if n.fract() != 0.0 {
        return Err(arg_err(0, "value must be a whole number"));
    }
    Ok(num(if n > 0.0 {
        1.0
    } else if n < 0.0 {
        -1.0
    } else {
        0.0
    }))
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
                Value::String(s.clone())
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
    let mut acc = 0f64;
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
        acc = acc * base as f64 + d as f64;
    }
    Ok(num(if neg { -acc } else { acc }))
}
