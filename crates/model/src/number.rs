//! Terraform's numbers: binary floating point of arbitrary precision.
//!
//! Terraform's values are cty values, whose numbers are Go `*big.Float`s:
//! a sign, a binary mantissa of up to `prec` bits and an exponent, rounded to
//! nearest, ties to even. Every number written in HCL (or read from JSON, or
//! converted from a string) is parsed at 512 bits (`cty.ParseNumberVal`);
//! numbers made from Go integers (`length`, an index) have 64 bits, and those
//! made from Go `float64`s (`pow`, `log`) 53. An operation's result has the
//! larger precision of its operands (Go's `z.Add(x, y)` with a fresh `z`).
//! [`Number`] keeps exactly that, so that `0.1 + 0.2` is `0.3`, `1 / 3`
//! prints Terraform's 154 digits, `18446744073709551616` is exact and
//! `1.5e300 * 1e10` is a number.
//!
//! Text is Go's: [`Number`]'s `Display` is `Text('f', -1)` (the shortest
//! decimal that reads back as the same number at its precision, never an
//! exponent), which is also what `tostring`, templates and JSON use;
//! [`Number::text`] is Go's `Text` for `%e`/`%f`/`%g` with a precision.
//! Equality is cty's: two numbers are equal when both are the same integer,
//! or neither is an integer and their texts are equal (so `0.1 + 0.2 ==
//! 0.3`); [`Number::cmp_value`] is the exact order `<` and `>` use.
//!
//! Integers that fit an `i64` (nearly every number a configuration holds)
//! are kept inline and added, subtracted and multiplied without allocating.
//!
//! Sources: go-cty `cty/value_init.go`, `cty/value_ops.go`,
//! `cty/primitive_type.go` (`rawNumberEqual`); Go `math/big` `Float`
//! (`floatconv.go` parsing, `ftoa.go` and `decimal.go` formatting).

use std::cmp::Ordering;
use std::fmt;

use num_bigint::{BigInt, BigUint, Sign};
use num_integer::Integer;
use num_traits::{ToPrimitive, Zero};

/// The precision of a number parsed from text: cty's `ParseNumberVal`.
pub const PARSED_PRECISION: u32 = 512;
/// The precision of a number made from a Go `int64` (`cty.NumberIntVal`).
pub const INT_PRECISION: u32 = 64;
/// The precision of a number made from a Go `float64` (`cty.NumberFloatVal`).
pub const FLOAT_PRECISION: u32 = 53;

/// A Terraform number (see the module documentation).
#[derive(Clone)]
pub struct Number {
    repr: Repr,
    /// Mantissa bits, as Go's `Float.Prec()`.
    prec: u32,
}

#[derive(Clone)]
enum Repr {
    /// An integer that fits an `i64` (and the precision).
    Int(i64),
    /// Any other finite number.
    Big(Box<Big>),
    /// An infinity (`pow(2, 2000)`, as Go's float64 arithmetic gives).
    Inf { negative: bool },
}

/// `±mant · 2^exp`, `mant` odd.
#[derive(Clone)]
struct Big {
    negative: bool,
    mant: BigUint,
    exp: i64,
}

/// A finite number's parts: `±mant · 2^exp` (`mant` may be even or zero).
struct Parts {
    negative: bool,
    mant: BigUint,
    exp: i64,
}

fn bits_u64(v: u64) -> u64 {
    u64::from(64 - v.leading_zeros())
}

impl Number {
    /// A whole number at the precision Go's `SetInt64` gives (64 bits).
    pub fn from_i64(v: i64) -> Number {
        Number {
            repr: Repr::Int(v),
            prec: INT_PRECISION,
        }
    }

    /// A whole number at Go's `SetUint64` precision (64 bits).
    pub fn from_u64(v: u64) -> Number {
        match i64::try_from(v) {
            Ok(i) => Number::from_i64(i),
            Err(_) => Number::from_parts(false, BigUint::from(v), 0, INT_PRECISION),
        }
    }

    /// A Go `float64` as cty's `NumberFloatVal` makes it (53 bits, exact);
    /// `None` for NaN, which cty cannot hold.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Number {
                repr: Repr::Inf { negative: f < 0.0 },
                prec: FLOAT_PRECISION,
            });
        }
        let bits = f.to_bits();
        let negative = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1 << 52) - 1);
        let (mant, exp) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1 << 52), biased - 1075)
        };
        Some(Number::from_parts(
            negative,
            BigUint::from(mant),
            exp,
            FLOAT_PRECISION,
        ))
    }

    /// A big integer at Go's `SetInt` precision (its bit length, at least 64).
    pub fn from_bigint(v: &BigInt) -> Number {
        let prec = (v.bits().max(64)).min(u64::from(u32::MAX)) as u32;
        Number::from_parts(v.sign() == Sign::Minus, v.magnitude().clone(), 0, prec)
    }

    /// Parses decimal text as cty does (`big.ParseFloat(s, 10, 512,
    /// ToNearestEven)`): an optional sign, digits with an optional point
    /// (`1`, `1.5`, `.5`, `5.`) and an optional exponent (`e-3`). `None`
    /// for anything else (spaces, `0x10`, `1_000`, an empty string, and
    /// `inf`, which Terraform refuses too).
    pub fn parse(s: &str) -> Option<Number> {
        let (negative, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        // Most numbers are short integers: no big arithmetic for them.
        if !body.is_empty() && body.len() <= 18 && body.bytes().all(|b| b.is_ascii_digit()) {
            let v: i64 = body.parse().ok()?;
            return Some(Number {
                repr: Repr::Int(if negative { -v } else { v }),
                prec: PARSED_PRECISION,
            });
        }
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() && frac_part.is_empty()
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return None;
        }
        let exp10: i64 = match exponent {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return None;
                }
                // An exponent beyond any float Go can hold is refused as Go
                // refuses it ("exponent overflow").
                e.parse::<i64>().ok().filter(|x| x.abs() < 1 << 31)?
            }
        };
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Some(Number {
                repr: Repr::Int(0),
                prec: PARSED_PRECISION,
            });
        }
        let mant: BigUint = digits.parse().ok()?;
        let exp5 = exp10 - frac_part.len() as i64;
        let prec = PARSED_PRECISION;
        if exp5 == 0 {
            return Some(Number::from_parts(negative, mant, 0, prec));
        }
        // 10^e = 5^e · 2^e; Go divides (or multiplies) the exact digits by
        // 5^|e| computed at prec + 64 bits.
        let (p_mant, p_exp) = pow5(exp5.unsigned_abs(), prec + 64);
        let x = Parts {
            negative,
            mant,
            exp: exp5,
        };
        let p = Parts {
            negative: false,
            mant: p_mant,
            exp: p_exp,
        };
        Some(if exp5 < 0 {
            quo_parts(&x, &p, prec)
        } else {
            mul_parts(&x, &p, prec)
        })
    }

    /// `±mant · 2^exp` rounded to `prec` bits.
    fn from_parts(negative: bool, mant: BigUint, exp: i64, prec: u32) -> Number {
        let (mant, exp) = round(mant, exp, false, prec);
        Number::normalized(negative, mant, exp, prec)
    }

    /// `±mant · 2^exp` (already within `prec` bits) in canonical form.
    fn normalized(negative: bool, mut mant: BigUint, mut exp: i64, prec: u32) -> Number {
        if mant.is_zero() {
            return Number {
                repr: Repr::Int(0),
                prec,
            };
        }
        let tz = mant.trailing_zeros().unwrap_or(0);
        mant >>= tz;
        exp += tz as i64;
        if exp >= 0 && mant.bits() + exp as u64 <= 63 {
            let v = (mant.to_u64().unwrap_or(0) << exp) as i64;
            return Number {
                repr: Repr::Int(if negative { -v } else { v }),
                prec,
            };
        }
        Number {
            repr: Repr::Big(Box::new(Big {
                negative,
                mant,
                exp,
            })),
            prec,
        }
    }

    /// An `i64` result of an operation at `prec`, rounded if it needs more bits.
    fn int_at(v: i64, prec: u32) -> Number {
        if bits_u64(v.unsigned_abs()) <= u64::from(prec) {
            Number {
                repr: Repr::Int(v),
                prec,
            }
        } else {
            Number::from_parts(v < 0, BigUint::from(v.unsigned_abs()), 0, prec)
        }
    }

    fn parts(&self) -> Option<Parts> {
        match &self.repr {
            Repr::Int(v) => Some(Parts {
                negative: *v < 0,
                mant: BigUint::from(v.unsigned_abs()),
                exp: 0,
            }),
            Repr::Big(b) => Some(Parts {
                negative: b.negative,
                mant: b.mant.clone(),
                exp: b.exp,
            }),
            Repr::Inf { .. } => None,
        }
    }

    /// Go's `Float.Prec()`.
    pub fn precision(&self) -> u32 {
        self.prec
    }

    /// The same value at another precision (rounded), as Go's
    /// `new(big.Float).SetPrec(prec).Set(x)`.
    pub fn with_precision(&self, prec: u32) -> Number {
        // An inline integer that fits keeps its value (no big arithmetic: a
        // state's integers are read this way).
        if let Repr::Int(v) = self.repr {
            return Number::int_at(v, prec);
        }
        match (&self.repr, self.parts()) {
            (_, Some(p)) => Number::from_parts(p.negative, p.mant, p.exp, prec),
            (repr, None) => Number {
                repr: repr.clone(),
                prec,
            },
        }
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        match &self.repr {
            Repr::Int(v) => v.signum() as i32,
            Repr::Big(b) => {
                if b.negative {
                    -1
                } else {
                    1
                }
            }
            Repr::Inf { negative } => {
                if *negative {
                    -1
                } else {
                    1
                }
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.repr, Repr::Int(0))
    }

    pub fn is_infinite(&self) -> bool {
        matches!(self.repr, Repr::Inf { .. })
    }

    /// True for a finite whole number.
    pub fn is_integer(&self) -> bool {
        match &self.repr {
            Repr::Int(_) => true,
            Repr::Big(b) => b.exp >= 0,
            Repr::Inf { .. } => false,
        }
    }

    /// The value as an `i64` if it is a whole number that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self.repr {
            Repr::Int(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a big integer if it is a whole number.
    pub fn to_bigint(&self) -> Option<BigInt> {
        match &self.repr {
            Repr::Int(v) => Some(BigInt::from(*v)),
            Repr::Big(b) if b.exp >= 0 => {
                let m = BigInt::from(b.mant.clone() << b.exp as usize);
                Some(if b.negative { -m } else { m })
            }
            _ => None,
        }
    }

    /// The nearest `f64` (ties to even), as Go's `Float.Float64`;
    /// infinite beyond its range.
    pub fn as_f64(&self) -> f64 {
        match &self.repr {
            Repr::Int(v) => *v as f64,
            Repr::Inf { negative } => {
                if *negative {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Repr::Big(b) => {
                let (mant, exp) = round(b.mant.clone(), b.exp, false, 53);
                let m = mant.to_u64().unwrap_or(0) as f64;
                let f = ldexp(m, exp);
                if b.negative { -f } else { f }
            }
        }
    }

    pub fn neg(&self) -> Number {
        match &self.repr {
            Repr::Int(v) => match v.checked_neg() {
                Some(n) => Number {
                    repr: Repr::Int(n),
                    prec: self.prec,
                },
                None => Number::from_parts(false, BigUint::from(v.unsigned_abs()), 0, self.prec),
            },
            Repr::Big(b) => Number {
                repr: Repr::Big(Box::new(Big {
                    negative: !b.negative,
                    mant: b.mant.clone(),
                    exp: b.exp,
                })),
                prec: self.prec,
            },
            Repr::Inf { negative } => Number {
                repr: Repr::Inf {
                    negative: !negative,
                },
                prec: self.prec,
            },
        }
    }

    pub fn abs(&self) -> Number {
        if self.signum() < 0 {
            self.neg()
        } else {
            self.clone()
        }
    }

    /// `self + other`; `None` for `Inf + -Inf`.
    pub fn add(&self, other: &Number) -> Option<Number> {
        let prec = self.prec.max(other.prec);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.repr, &other.repr)
            && let Some(r) = a.checked_add(*b)
        {
            return Some(Number::int_at(r, prec));
        }
        match (self.parts(), other.parts()) {
            (Some(a), Some(b)) => Some(add_parts(&a, &b, prec)),
            _ => self.infinite_sum(other, false),
        }
    }

    /// `self - other`; `None` for `Inf - Inf`.
    pub fn sub(&self, other: &Number) -> Option<Number> {
        let prec = self.prec.max(other.prec);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.repr, &other.repr)
            && let Some(r) = a.checked_sub(*b)
        {
            return Some(Number::int_at(r, prec));
        }
        match (self.parts(), other.parts()) {
            (Some(a), Some(mut b)) => {
                b.negative = !b.negative;
                Some(add_parts(&a, &b, prec))
            }
            _ => self.infinite_sum(other, true),
        }
    }

    fn infinite_sum(&self, other: &Number, subtract: bool) -> Option<Number> {
        let sign = |n: &Number, flip: bool| match n.repr {
            Repr::Inf { negative } => Some(negative != flip),
            _ => None,
        };
        let prec = self.prec.max(other.prec);
        let inf = |negative| Number {
            repr: Repr::Inf { negative },
            prec,
        };
        match (sign(self, false), sign(other, subtract)) {
            (Some(a), Some(b)) if a != b => None,
            (Some(a), _) => Some(inf(a)),
            (None, Some(b)) => Some(inf(b)),
            (None, None) => None,
        }
    }

    /// `self × other` as cty's `Multiply`: the product rounded to 512
    /// bits, at the larger of the operands' precisions and the bits the
    /// product needs (two `float64`s multiply exactly); `None` for `0 × Inf`.
    pub fn mul(&self, other: &Number) -> Option<Number> {
        let mut product = self.mul_at(other, PARSED_PRECISION)?;
        product.prec = self.prec.max(other.prec).max(product.min_precision());
        Some(product)
    }

    /// Go's `Float.MinPrec`: the bits the mantissa needs.
    fn min_precision(&self) -> u32 {
        match &self.repr {
            Repr::Int(0) | Repr::Inf { .. } => 0,
            Repr::Int(v) => {
                let m = v.unsigned_abs();
                (bits_u64(m) - u64::from(m.trailing_zeros())) as u32
            }
            Repr::Big(b) => b.mant.bits() as u32,
        }
    }

    fn mul_at(&self, other: &Number, prec: u32) -> Option<Number> {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.repr, &other.repr)
            && let Some(r) = a.checked_mul(*b)
        {
            return Some(Number::int_at(r, prec));
        }
        match (self.parts(), other.parts()) {
            (Some(a), Some(b)) => Some(mul_parts(&a, &b, prec)),
            _ if self.is_zero() || other.is_zero() => None,
            _ => Some(Number {
                repr: Repr::Inf {
                    negative: (self.signum() < 0) != (other.signum() < 0),
                },
                prec,
            }),
        }
    }

    /// `self / other`; `None` when `other` is zero or both are infinite
    /// (Terraform refuses division by zero).
    pub fn div(&self, other: &Number) -> Option<Number> {
        let prec = self.prec.max(other.prec);
        if other.is_zero() {
            return None;
        }
        if let (Repr::Int(a), Repr::Int(b)) = (&self.repr, &other.repr)
            && let Some(0) = a.checked_rem(*b)
            && let Some(q) = a.checked_div(*b)
        {
            return Some(Number::int_at(q, prec));
        }
        match (self.parts(), other.parts()) {
            (Some(a), Some(b)) => Some(quo_parts(&a, &b, prec)),
            (None, None) => None,
            (Some(_), None) => Some(Number {
                repr: Repr::Int(0),
                prec,
            }),
            (None, Some(_)) => Some(Number {
                repr: Repr::Inf {
                    negative: (self.signum() < 0) != (other.signum() < 0),
                },
                prec,
            }),
        }
    }

    /// cty's `Modulo`: `self - other × trunc(self / other)`, at `self`'s
    /// precision; `self` when `other` is zero.
    pub fn rem(&self, other: &Number) -> Option<Number> {
        if self.is_infinite() || other.is_infinite() {
            return self.mul(other);
        }
        if other.is_zero() {
            return Some(self.clone());
        }
        if let (Repr::Int(a), Repr::Int(b)) = (&self.repr, &other.repr)
            && let Some(r) = a.checked_rem(*b)
        {
            return Some(Number::int_at(r, self.prec));
        }
        let quotient = self.div(other)?.trunc();
        let whole = quotient.with_precision(self.prec);
        let product = other.mul_at(&whole, self.prec)?;
        let (a, mut b) = (self.parts()?, product.parts()?);
        b.negative = !b.negative;
        Some(add_parts(&a, &b, self.prec))
    }

    /// Rounded toward zero to a whole number, at the same precision.
    pub fn trunc(&self) -> Number {
        self.to_whole(|_, _| false)
    }

    /// The greatest whole number not above the value.
    pub fn floor(&self) -> Number {
        self.to_whole(|negative, fraction| negative && fraction)
    }

    /// The least whole number not below the value.
    pub fn ceil(&self) -> Number {
        self.to_whole(|negative, fraction| !negative && fraction)
    }

    /// Truncates, then moves one away from zero when `away(negative,
    /// had_fraction)` says so.
    fn to_whole(&self, away: impl Fn(bool, bool) -> bool) -> Number {
        let Repr::Big(b) = &self.repr else {
            return self.clone();
        };
        if b.exp >= 0 {
            return self.clone();
        }
        let shift = b.exp.unsigned_abs();
        let mut whole = if shift >= b.mant.bits() {
            BigUint::zero()
        } else {
            &b.mant >> shift as usize
        };
        // A Big is never whole when exp < 0 (its mantissa is odd).
        if away(b.negative, true) {
            whole += 1u32;
        }
        Number::from_parts(b.negative, whole, 0, self.prec)
    }

    /// The exact order of two numbers (cty's `<`, `>`, `max`, `min`).
    pub fn cmp_value(&self, other: &Number) -> Ordering {
        match (&self.repr, &other.repr) {
            (Repr::Int(a), Repr::Int(b)) => a.cmp(b),
            (Repr::Inf { negative: a }, Repr::Inf { negative: b }) => b.cmp(a),
            (Repr::Inf { negative }, _) => {
                if *negative {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, Repr::Inf { negative }) => {
                if *negative {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => compare_signed(&self.signed(), &other.signed()),
        }
    }

    /// `(±mant, exp)` of a finite number.
    fn signed(&self) -> (BigInt, i64) {
        let p = self.parts().unwrap_or(Parts {
            negative: false,
            mant: BigUint::zero(),
            exp: 0,
        });
        let m = BigInt::from(p.mant);
        (if p.negative { -m } else { m }, p.exp)
    }

    /// The exact decimal digits (no leading or trailing zeros) and the
    /// decimal point's position: the value is `0.d1d2… × 10^point`. Empty
    /// for zero.
    fn exact_decimal(&self) -> Decimal {
        match &self.repr {
            Repr::Int(v) => Decimal::of_integer(&BigUint::from(v.unsigned_abs())),
            Repr::Big(b) => Decimal::of(&b.mant, b.exp),
            Repr::Inf { .. } => Decimal::default(),
        }
    }

    /// The shortest decimal that reads back as this number at its precision
    /// (Go's `roundShortest`).
    fn shortest_decimal(&self) -> Decimal {
        let mut d = self.exact_decimal();
        let Repr::Big(b) = &self.repr else {
            // An integer within its precision: its digits are the shortest.
            return d;
        };
        // The mantissa with prec + 1 bits, so that its last bit is half an
        // ulp at the number's precision.
        let bits = b.mant.bits() as i64;
        let s = bits - (i64::from(self.prec) + 1);
        let (mant, exp) = if s < 0 {
            (&b.mant << (-s) as usize, b.exp + s)
        } else {
            (&b.mant >> s as usize, b.exp + s)
        };
        let lower = Decimal::of(&(&mant - 1u32), exp);
        let upper = Decimal::of(&(&mant + 1u32), exp);
        let inclusive = !mant.bit(1);
        for i in 0..d.digits.len() {
            let m = d.digits[i];
            let l = lower.at(i as i64);
            let u = upper.at(i as i64);
            let okdown = l != m || inclusive && i + 1 == lower.digits.len();
            let okup = m != u && (inclusive || m + 1 < u || i + 1 < upper.digits.len());
            if okdown && okup {
                d.round(i as i64 + 1);
                break;
            } else if okdown {
                d.round_down(i as i64 + 1);
                break;
            } else if okup {
                d.round_up(i as i64 + 1);
                break;
            }
        }
        d
    }

    /// Go's `Float.Text(format, prec)` for `format` one of `e E f g G`:
    /// `%e` has `prec` digits after the point, `%f` too, `%g` `prec` digits
    /// in all; a negative `prec` asks for the shortest digits that read back
    /// as this number. Infinities are `+Inf` / `-Inf`.
    pub fn text(&self, format: char, prec: i64) -> String {
        let mut out = String::new();
        if self.signum() < 0 {
            out.push('-');
        }
        if let Repr::Inf { negative } = self.repr {
            if !negative {
                out.push('+');
            }
            out.push_str("Inf");
            return out;
        }
        let shortest = prec < 0;
        let mut prec = prec;
        let mut d = if shortest {
            let d = self.shortest_decimal();
            prec = match format {
                'e' | 'E' => d.digits.len() as i64 - 1,
                'f' => (d.digits.len() as i64 - d.point).max(0),
                _ => d.digits.len() as i64,
            };
            d
        } else {
            self.exact_decimal()
        };
        if !shortest {
            match format {
                'e' | 'E' => d.round(1 + prec),
                'f' => d.round(d.point + prec),
                _ => {
                    if prec == 0 {
                        prec = 1;
                    }
                    d.round(prec);
                }
            }
        }
        match format {
            'e' | 'E' => d.fmt_e(&mut out, format, prec),
            'f' => d.fmt_f(&mut out, prec),
            _ => {
                let mut eprec = prec;
                let len = d.digits.len() as i64;
                if eprec > len && len >= d.point {
                    eprec = len;
                }
                if shortest {
                    eprec = 6;
                }
                let exp = d.point - 1;
                if exp < -4 || exp >= eprec {
                    if prec > len {
                        prec = len;
                    }
                    let e = if format == 'G' { 'E' } else { 'e' };
                    d.fmt_e(&mut out, e, prec - 1);
                } else {
                    if prec > d.point {
                        prec = len;
                    }
                    d.fmt_f(&mut out, (prec - d.point).max(0));
                }
            }
        }
        out
    }
}

fn compare_signed(a: &(BigInt, i64), b: &(BigInt, i64)) -> Ordering {
    let e = a.1.min(b.1);
    let x = &a.0 << (a.1 - e) as usize;
    let y = &b.0 << (b.1 - e) as usize;
    x.cmp(&y)
}

/// `f × 2^exp` without intermediate overflow.
fn ldexp(mut f: f64, mut exp: i64) -> f64 {
    while exp > 0 {
        let step = exp.min(1000);
        f *= 2f64.powi(step as i32);
        exp -= step;
    }
    while exp < 0 {
        let step = (-exp).min(1000);
        f /= 2f64.powi(step as i32);
        exp += step;
    }
    f
}

/// Rounds `mant · 2^exp` to at most `prec` mantissa bits, to nearest, ties
/// to even; `sticky` says a nonzero remainder below `mant` was dropped.
fn round(mant: BigUint, exp: i64, sticky: bool, prec: u32) -> (BigUint, i64) {
    let bits = mant.bits();
    let prec = u64::from(prec.max(1));
    if bits <= prec {
        return (mant, exp);
    }
    let shift = bits - prec;
    let half = mant.bit(shift - 1);
    let below_half = sticky || mant.trailing_zeros().is_some_and(|tz| tz < shift - 1);
    let mut q = &mant >> shift as usize;
    if half && (below_half || q.bit(0)) {
        q += 1u32;
    }
    (q, exp + shift as i64)
}

fn add_parts(a: &Parts, b: &Parts, prec: u32) -> Number {
    let e = a.exp.min(b.exp);
    let signed = |p: &Parts| {
        let m = BigInt::from(&p.mant << (p.exp - e) as usize);
        if p.negative { -m } else { m }
    };
    let sum = signed(a) + signed(b);
    Number::from_parts(sum.sign() == Sign::Minus, sum.magnitude().clone(), e, prec)
}

fn mul_parts(a: &Parts, b: &Parts, prec: u32) -> Number {
    Number::from_parts(
        a.negative != b.negative,
        &a.mant * &b.mant,
        a.exp + b.exp,
        prec,
    )
}

/// `a / b` (b nonzero) correctly rounded to `prec` bits.
fn quo_parts(a: &Parts, b: &Parts, prec: u32) -> Number {
    if a.mant.is_zero() {
        return Number {
            repr: Repr::Int(0),
            prec,
        };
    }
    // Enough quotient bits for rounding: prec + 2, plus a sticky remainder.
    let want = u64::from(prec) + 2;
    let shift = (want + b.mant.bits()).saturating_sub(a.mant.bits());
    let (q, r) = (&a.mant << shift as usize).div_rem(&b.mant);
    let (mant, exp) = round(q, a.exp - b.exp - shift as i64, !r.is_zero(), prec);
    Number::normalized(a.negative != b.negative, mant, exp, prec)
}

/// 5^n as Go's `Float.pow5` computes it at precision `prec`: exact up to
/// 5^27, then by squaring with rounding at each step.
fn pow5(n: u64, prec: u32) -> (BigUint, i64) {
    const TABLE_MAX: u64 = 27;
    if n <= TABLE_MAX {
        return (BigUint::from(5u32).pow(n as u32), 0);
    }
    let mut z = (BigUint::from(5u32).pow(TABLE_MAX as u32), 0i64);
    let mut f = (BigUint::from(5u32), 0i64);
    let mut n = n - TABLE_MAX;
    while n > 0 {
        if n & 1 != 0 {
            z = round(&z.0 * &f.0, z.1 + f.1, false, prec);
        }
        f = round(&f.0 * &f.0, 2 * f.1, false, prec + 64);
        n >>= 1;
    }
    z
}

/// A decimal `0.d1d2… × 10^point` (Go's `math/big` `decimal`): digits
/// 0–9 with no leading or trailing zero; no digits for zero.
#[derive(Debug, Clone, Default)]
struct Decimal {
    digits: Vec<u8>,
    point: i64,
}

impl Decimal {
    fn of_integer(n: &BigUint) -> Decimal {
        if n.is_zero() {
            return Decimal::default();
        }
        let digits: Vec<u8> = n.to_string().bytes().map(|b| b - b'0').collect();
        let point = digits.len() as i64;
        let mut d = Decimal { digits, point };
        d.trim();
        d
    }

    /// The exact decimal of `mant · 2^exp`.
    fn of(mant: &BigUint, exp: i64) -> Decimal {
        if exp >= 0 {
            return Decimal::of_integer(&(mant << exp as usize));
        }
        // mant / 2^k = mant · 5^k / 10^k
        let k = exp.unsigned_abs();
        let scaled = mant * BigUint::from(5u32).pow(k as u32);
        let mut d = Decimal::of_integer(&scaled);
        if !d.digits.is_empty() {
            d.point -= k as i64;
        }
        d
    }

    fn trim(&mut self) {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        if self.digits.is_empty() {
            self.point = 0;
        }
    }

    fn at(&self, i: i64) -> u8 {
        if i < 0 {
            return 0;
        }
        self.digits.get(i as usize).copied().unwrap_or(0)
    }

    /// Rounds to `n` digits, to nearest, ties to even.
    fn round(&mut self, n: i64) {
        if n < 0 || n >= self.digits.len() as i64 {
            return;
        }
        let i = n as usize;
        let up = if self.digits[i] == 5 && i + 1 == self.digits.len() {
            i > 0 && self.digits[i - 1] % 2 == 1
        } else {
            self.digits[i] >= 5
        };
        if up {
            self.round_up(n);
        } else {
            self.round_down(n);
        }
    }

    fn round_up(&mut self, n: i64) {
        if n < 0 || n >= self.digits.len() as i64 {
            return;
        }
        let mut i = n as usize;
        while i > 0 && self.digits[i - 1] >= 9 {
            i -= 1;
        }
        if i == 0 {
            self.digits.clear();
            self.digits.push(1);
            self.point += 1;
            return;
        }
        self.digits[i - 1] += 1;
        self.digits.truncate(i);
    }

    fn round_down(&mut self, n: i64) {
        if n < 0 || n >= self.digits.len() as i64 {
            return;
        }
        self.digits.truncate(n as usize);
        self.trim();
    }

    fn fmt_e(&self, out: &mut String, e: char, prec: i64) {
        out.push(char::from(b'0' + self.digits.first().copied().unwrap_or(0)));
        if prec > 0 {
            out.push('.');
            for i in 1..=prec {
                out.push(char::from(b'0' + self.at(i)));
            }
        }
        out.push(e);
        let exp = if self.digits.is_empty() {
            0
        } else {
            self.point - 1
        };
        out.push(if exp < 0 { '-' } else { '+' });
        if exp.abs() < 10 {
            out.push('0');
        }
        out.push_str(&exp.abs().to_string());
    }

    fn fmt_f(&self, out: &mut String, prec: i64) {
        if self.point > 0 {
            for i in 0..self.point {
                out.push(char::from(b'0' + self.at(i)));
            }
        } else {
            out.push('0');
        }
        if prec > 0 {
            out.push('.');
            for i in 0..prec {
                out.push(char::from(b'0' + self.at(self.point + i)));
            }
        }
    }
}

impl PartialEq for Number {
    /// cty's number equality (`rawNumberEqual`): the same sign, and either
    /// the same integer or — neither being an integer — the same text.
    fn eq(&self, other: &Number) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Int(a), Repr::Int(b)) => a == b,
            (Repr::Inf { negative: a }, Repr::Inf { negative: b }) => a == b,
            _ => {
                if self.signum() != other.signum() || self.is_integer() != other.is_integer() {
                    return false;
                }
                if self.is_integer() {
                    return self.cmp_value(other) == Ordering::Equal;
                }
                self.to_string() == other.to_string()
            }
        }
    }
}

impl fmt::Display for Number {
    /// Go's `Text('f', -1)`: the shortest digits that read back as the
    /// same number, without an exponent (`1e21` is
    /// `1000000000000000000000`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.repr {
            Repr::Int(v) => write!(f, "{v}"),
            _ => f.write_str(&self.text('f', -1)),
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        Number::from_i64(i)
    }
}

impl From<f64> for Number {
    /// A `float64` as cty holds it; NaN (which cty cannot hold) becomes 0.
    fn from(f: f64) -> Number {
        Number::from_f64(f).unwrap_or_else(|| Number::from_i64(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn decimal_arithmetic_reads_as_written() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("0.1").add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(n("3").mul(&n("0.1")).unwrap().to_string(), "0.3");
        assert_eq!(n("10").div(&n("4")).unwrap().to_string(), "2.5");
    }

    #[test]
    fn a_third_has_terraforms_digits() {
        let third = n("1").div(&n("3")).unwrap();
        let text = third.to_string();
        assert_eq!(text.len(), 2 + 155, "{text}");
        assert!(text.starts_with("0.3333") && text.ends_with("35"), "{text}");
        // At 64 bits (two `length` results) the digits are Go's shortest at 64.
        let third64 = Number::from_i64(1).div(&Number::from_i64(3)).unwrap();
        assert_eq!(third64.to_string(), "0.33333333333333333334");
    }

    #[test]
    fn big_integers_are_exact() {
        assert_eq!(n("9007199254740993").to_string(), "9007199254740993");
        assert_eq!(
            n("18446744073709551616").to_string(),
            "18446744073709551616"
        );
        let big = n("1.5e300").mul(&n("1e10")).unwrap().to_string();
        assert_eq!(big, format!("15{}", "0".repeat(309)));
        assert_eq!(n("1e21").to_string(), "1000000000000000000000");
        assert_eq!(
            n("18446744073709551616").add(&n("1")).unwrap().to_string(),
            "18446744073709551617"
        );
    }

    #[test]
    fn floats_from_go_keep_53_bits() {
        let x = Number::from_f64(0.1).unwrap();
        assert_eq!(x.to_string(), "0.1");
        assert_eq!(
            Number::from_f64(1e21).unwrap().to_string(),
            "1000000000000000000000"
        );
        assert_eq!(
            Number::from_f64(2f64.powi(70)).unwrap().to_string(),
            "1180591620717411300000"
        );
        assert_eq!(Number::from_f64(f64::INFINITY).unwrap().to_string(), "+Inf");
        assert_eq!(
            Number::from_f64(1.234_567_890_123_456_7).unwrap().as_f64(),
            1.234_567_890_123_456_7
        );
    }

    #[test]
    fn remainders_follow_cty() {
        assert_eq!(n("7").rem(&n("3")).unwrap().to_string(), "1");
        assert_eq!(n("-7").rem(&n("3")).unwrap().to_string(), "-1");
        assert_eq!(n("7").rem(&n("-3")).unwrap().to_string(), "1");
        assert_eq!(n("5").rem(&n("0")).unwrap().to_string(), "5");
        assert_eq!(n("7.5").rem(&n("2")).unwrap().to_string(), "1.5");
    }

    #[test]
    fn whole_parts() {
        assert_eq!(n("7.9").floor().to_string(), "7");
        assert_eq!(n("-7.5").floor().to_string(), "-8");
        assert_eq!(n("-7.5").ceil().to_string(), "-7");
        assert_eq!(n("7.1").ceil().to_string(), "8");
        assert_eq!(n("-0.5").trunc().to_string(), "0");
        assert_eq!(n("1e21").floor().to_string(), "1000000000000000000000");
    }

    #[test]
    fn go_text_formats() {
        assert_eq!(n("2.345").text('f', 2), "2.34");
        assert_eq!(n("2.355").text('f', 2), "2.36");
        assert_eq!(n("1234.5").text('e', 6), "1.234500e+03");
        assert_eq!(n("0.00001234").text('E', 3), "1.234E-05");
        assert_eq!(n("1e20").text('g', -1), "1e+20");
        assert_eq!(n("100000").text('g', -1), "100000");
        assert_eq!(n("1000000").text('g', -1), "1e+06");
        assert_eq!(n("0.0001").text('g', -1), "0.0001");
        assert_eq!(n("1234").text('g', 3), "1.23e+03");
        assert_eq!(n("0").text('e', 6), "0.000000e+00");
        assert_eq!(n("0.5").text('f', 0), "0");
        assert_eq!(n("1.5").text('f', 0), "2");
        assert_eq!(n("-3.5").text('f', 3), "-3.500");
    }

    #[test]
    fn parsing_refuses_what_go_refuses() {
        for bad in ["", " 12", "0x10", "1e", "e5", ".", "1..2", "--1", "1_000"] {
            assert!(Number::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(n(".5").to_string(), "0.5");
        assert_eq!(n("5.").to_string(), "5");
        assert_eq!(n("-1.5e3").to_string(), "-1500");
        assert_eq!(n("12.50").to_string(), "12.5");
        assert_eq!(n("1e-7").to_string(), "0.0000001");
        assert!(Number::parse("inf").is_none());
        // cty multiplies at 512 bits and keeps what the product needs.
        let root2 = Number::from_f64(2f64.sqrt()).unwrap();
        assert_eq!(
            root2.mul(&root2).unwrap().to_string(),
            "2.00000000000000027343234630647693"
        );
    }

    #[test]
    fn equality_and_order() {
        assert_eq!(n("1"), n("1.0"));
        assert_eq!(Number::from_i64(3), n("3"));
        assert_ne!(n("1"), n("1.5"));
        assert_eq!(n("-1").cmp_value(&n("1")), Ordering::Less);
        assert_eq!(n("1e30").cmp_value(&n("1e29")), Ordering::Greater);
        let inf = Number::from_f64(f64::INFINITY).unwrap();
        assert_eq!(inf.cmp_value(&n("1e300")), Ordering::Greater);
        assert_eq!(n("9007199254740993").as_i64(), Some(9007199254740993));
        assert_eq!(n("2.5").as_f64(), 2.5);
        assert_eq!(n("0.1").as_f64(), 0.1);
        assert_eq!(n("-3").abs().to_string(), "3");
    }
}
