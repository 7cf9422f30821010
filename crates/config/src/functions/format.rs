//! `format`: Terraform's verbs (the `format` function's documentation,
//! <https://developer.hashicorp.com/terraform/language/functions/format>),
//! `%[flags][width][.precision]verb` with `%[n]` argument indexes.
//!
//! Numbers are formatted from their shortest decimal form, rounding ties to
//! even, as Terraform's arbitrary-precision numbers do: `%.2f` of 2.345 is
//! `2.34` (2.345 is exactly halfway), not the `2.35` of binary floating
//! point. A null argument makes the whole result null, as in Terraform.

use kiln_model::{Number, Type, Value};

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
    Ok(Value::String(out))
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
        'q' => json_string(&Value::String(string_arg(args, at)?)),
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
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => json_string(other),
        },
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let n = number_arg(args, at)?;
            if n.fract() != 0.0 || !n.is_finite() {
                return Err(arg_err(
                    at,
                    format!("%{verb} needs a whole number, got {}", Number(n)),
                ));
            }
            let m = n.abs() as u128;
            let body = match verb {
                'd' => m.to_string(),
                'b' => format!("{m:b}"),
                'o' => format!("{m:o}"),
                'x' => format!("{m:x}"),
                _ => format!("{m:X}"),
            };
            sign(n < 0.0, body)
        }
        'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = number_arg(args, at)?;
            let d = Decimal::of(n);
            let body = match verb {
                'f' => d.fixed(spec.precision.unwrap_or(6)),
                'e' | 'E' => d.exponent(spec.precision.unwrap_or(6), verb == 'E'),
                _ => d.general(spec.precision, verb == 'G'),
            };
            sign(d.negative, body)
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

/// A number as decimal digits: `0.d1d2…dn × 10^point`, no trailing zeros
/// (no digits for zero).
#[derive(Debug, Clone)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    point: i32,
}

impl Decimal {
    /// From the number's shortest decimal form (the one that reads back
    /// as the same number).
    fn of(n: f64) -> Decimal {
        let negative = n < 0.0;
        let sci = format!("{:e}", n.abs());
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut digits: Vec<u8> = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        while digits.last() == Some(&0) {
            digits.pop();
        }
        let point = if digits.is_empty() { 0 } else { exp + 1 };
        Decimal {
            negative: negative && !digits.is_empty(),
            digits,
            point,
        }
    }

    /// Rounded to `keep` digits (ties to even); `keep` may be zero or less.
    fn round(&self, keep: i32) -> Decimal {
        let mut d = self.clone();
        if keep >= d.digits.len() as i32 {
            return d;
        }
        if keep < 0 {
            d.digits.clear();
            d.point = 0;
            return d;
        }
        let k = keep as usize;
        let first = d.digits[k];
        let rest_nonzero = d.digits[k + 1..].iter().any(|x| *x != 0);
        let prev_odd = k > 0 && d.digits[k - 1] % 2 == 1;
        let up = first > 5 || (first == 5 && (rest_nonzero || prev_odd));
        d.digits.truncate(k);
        if up {
            let mut i = k;
            loop {
                if i == 0 {
                    d.digits.insert(0, 1);
                    d.point += 1;
                    break;
                }
                i -= 1;
                if d.digits[i] == 9 {
                    d.digits[i] = 0;
                } else {
                    d.digits[i] += 1;
                    break;
                }
            }
        }
        while d.digits.last() == Some(&0) {
            d.digits.pop();
        }
        if d.digits.is_empty() {
            d.point = 0;
        }
        d
    }

    fn digit(&self, i: i32) -> char {
        if i < 0 {
            return '0';
        }
        self.digits
            .get(i as usize)
            .map_or('0', |d| char::from(b'0' + d))
    }

    /// `%f`: `precision` digits after the point.
    fn fixed(&self, precision: usize) -> String {
        let d = self.round(self.point + precision as i32);
        let mut s = String::new();
        if d.point <= 0 {
            s.push('0');
        } else {
            for i in 0..d.point {
                s.push(d.digit(i));
            }
        }
        if precision > 0 {
            s.push('.');
            for i in 0..precision as i32 {
                s.push(d.digit(d.point + i));
            }
        }
        s
    }

    /// `%e`: one digit, `precision` more after the point, `e±XX`.
    fn exponent(&self, precision: usize, upper: bool) -> String {
        let d = self.round(precision as i32 + 1);
        let exp = if d.digits.is_empty() { 0 } else { d.point - 1 };
        let mut s = String::new();
        s.push(d.digit(0));
        if precision > 0 {
            s.push('.');
            for i in 1..=precision as i32 {
                s.push(d.digit(i));
            }
        }
        let e = if upper { 'E' } else { 'e' };
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{s}{e}{sign}{:02}", exp.abs())
    }

    /// `%g`: `%e` when the exponent is below -4 or at least the precision
    /// (6 for the shortest form, as Go's `%g`), else `%f`, without trailing
    /// zeros; with no precision, the shortest digits.
    fn general(&self, precision: Option<usize>, upper: bool) -> String {
        let (d, eprec) = match precision {
            None => (self.clone(), 6),
            Some(p) => {
                let p = p.max(1);
                (self.round(p as i32), p as i32)
            }
        };
        let digits = d.digits.len().max(1);
        let exp = if d.digits.is_empty() { 0 } else { d.point - 1 };
        if exp < -4 || exp >= eprec {
            d.exponent(digits - 1, upper)
        } else {
            let after = (digits as i32 - d.point).max(0) as usize;
            d.fixed(after)
        }
    }
}
