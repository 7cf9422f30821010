//! `format`: Terraform's verbs (the `format` function's documentation,
//! <https://developer.hashicorp.com/terraform/language/functions/format>),
//! `%[flags][width][.precision]verb` with `%[n]` argument indexes.
//!
//! Numbers are formatted as Terraform formats its arbitrary-precision
//! numbers (Go's `big.Float` and `big.Int` formatting, through
//! [`Number::text`]): `%.2f` rounds the exact binary value to nearest, ties
//! to even; `%v` and `%g` with no precision give the shortest digits (`%v`
//! of `1e21` is `1e+21`). A null argument makes the whole result null, as
//! in Terraform.

use kiln_model::{Type, Value};

use super::{FnError, arg_err, json_string, number_arg, string_arg};
use crate::convert::convert;

/// One verb's settings.
#[derive(Debug, Default)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub(super) fn format(args: Vec<Value>) -> Result<Value, FnError> {
    let fmt = string_arg(&args, 0)?;
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut next = 1;
    let mut used_max = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut spec = Spec::default();
        let index = |i: &mut usize| -> Result<Option<usize>, FnError> {
            if chars.get(*i) != Some(&'[') {
                return Ok(None);
            }
            let close = chars[*i..]
                .iter()
                .position(|c| *c == ']')
                .ok_or_else(|| arg_err(0, "an argument index %[ has no closing ]"))?;
            let digits: String = chars[*i + 1..*i + close].iter().collect();
            let n = digits
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| arg_err(0, format!("invalid argument index %[{digits}]")))?;
            *i += close + 1;
            Ok(Some(n))
        };
        if let Some(n) = index(&mut i)? {
            next = n;
        }
        while let Some(f) = chars.get(i) {
            match f {
                '+' => spec.plus = true,
                '-' => spec.minus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        if let Some(n) = index(&mut i)? {
            next = n;
        }
        let mut digits = String::new();
        while let Some(d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            i += 1;
        }
        spec.width = digits.parse().ok();
        if chars.get(i) == Some(&'.') {
            i += 1;
            let mut digits = String::new();
            while let Some(d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                i += 1;
            }
            spec.precision = Some(digits.parse().unwrap_or(0));
        }
        if let Some(n) = index(&mut i)? {
            next = n;
        }
        let Some(&verb) = chars.get(i) else {
            return Err(arg_err(0, "the format ends inside a verb (a lone \"%\")"));
        };
        i += 1;
        let Some(v) = args.get(next) else {
            return Err(arg_err(
                0,
                format!("not enough arguments for the format: verb %{verb} has none"),
            ));
        };
        let at = next;
        next += 1;
        used_max = used_max.max(at);
        if v.is_null() {
            return Ok(Value::Null);
        }
        let text = verb_text(verb, &spec, &args, at)?;
        if verb == 't' {
            // Terraform (cty) pads no bool.
            out.push_str(&text);
        } else {
            out.push_str(&pad(text, &spec, is_numeric(verb)));
        }
    }
    if used_max + 1 < args.len() {
        return Err(arg_err(
            used_max + 1,
            format!(
                "too many arguments: the format uses {used_max}, got {}",
                args.len() - 1
            ),
        ));
    }
    Ok(Value::String(out.into()))
}

fn is_numeric(verb: char) -> bool {
    matches!(
        verb,
        'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'g' | 'G'
    )
}

/// Width and the zero flag: spaces on the left (right with `-`), or zeros
/// after the sign of a number.
fn pad(text: String, spec: &Spec, numeric: bool) -> String {
    let len = text.chars().count();
    let Some(width) = spec.width.filter(|w| *w > len) else {
        return text;
    };
    let fill = width - len;
    if spec.minus {
        format!("{text}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, rest) = match text.chars().next() {
            Some(c @ ('+' | '-' | ' ')) => (c.to_string(), text[1..].to_string()),
            _ => (String::new(), text),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

fn verb_text(verb: char, spec: &Spec, args: &[Value], at: usize) -> Result<String, FnError> {
    let v = &args[at];
    let sign = |negative: bool, body: String| {
        if negative {
            format!("-{body}")
        } else if spec.plus {
            format!("+{body}")
        } else if spec.space {
            format!(" {body}")
        } else {
            body
        }
    };
    Ok(match verb {
        's' => {
            let s = string_arg(args, at)?;
            // Terraform (cty) takes a zero precision as none.
            match spec.precision.filter(|p| *p > 0) {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        'q' => json_string(&Value::from(string_arg(args, at)?)),
        't' => match convert(v.clone(), &Type::Bool) {
            Ok(Value::Bool(b)) => b.to_string(),
            _ => {
                return Err(arg_err(
                    at,
                    format!("%t needs a bool, got {}", v.type_name()),
                ));
            }
        },
        'v' if spec.sharp => json_string(v.unmarked()),
        'v' => match v.unmarked() {
            Value::String(s) => s.to_string(),
            Value::Number(n) => n.text('g', -1),
            Value::Bool(b) => b.to_string(),
            other => json_string(other),
        },
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let n = number_arg(args, at)?;
            let Some(i) = n.to_bigint() else {
                return Err(arg_err(
                    at,
                    format!("%{verb} needs a whole number, got {n}"),
                ));
            };
            let m = i.magnitude();
            let mut body = match verb {
                'd' => m.to_string(),
                'b' => m.to_str_radix(2),
                'o' => m.to_str_radix(8),
                'x' => m.to_str_radix(16),
                _ => m.to_str_radix(16).to_uppercase(),
            };
            // Go's `big.Int` formatting: a precision is a minimum number of
            // digits; `#` adds the base's prefix.
            if let Some(p) = spec.precision
                && body.len() < p
            {
                body = format!("{}{body}", "0".repeat(p - body.len()));
            }
            if spec.sharp {
                let prefix = match verb {
                    'b' => "0b",
                    'o' => "0",
                    'x' => "0x",
                    'X' => "0X",
                    _ => "",
                };
                body = format!("{prefix}{body}");
            }
            sign(i.sign() == num_bigint::Sign::Minus, body)
        }
        'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = number_arg(args, at)?;
            let precision = spec.precision.map(|p| p as i64);
            let prec = match verb {
                'g' | 'G' => precision.unwrap_or(-1),
                _ => precision.unwrap_or(6),
            };
            let text = n.abs().text(verb, prec);
            sign(n.signum() < 0, text)
        }
        other => {
            return Err(arg_err(
                0,
                format!(
                    "unsupported format verb %{other}; Terraform's are %v %#v %t %b %d %o %x %X %e %E %f %g %G %s %q"
                ),
            ));
        }
    })
}
