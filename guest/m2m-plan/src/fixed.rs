//! Rust reference of the plan numeric model (`zkvm/numeric/decimal.ts`), in plain i64/i128
//! arithmetic. The Miden library `asm/fixed.masm` must agree with it on every input.
//!
//! A number is a signed 64-bit mantissa `m` standing for `m / 10^6`.

use std::cmp::Ordering;
use std::fmt;

/// Fractional digits of the model.
pub const SCALE_DIGITS: u32 = 6;
/// 10^6: the mantissa of 1.
pub const SCALE: i64 = 1_000_000;

/// Error classes of the numeric model (the `code` of `NumericError` in the TypeScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumError {
    /// The result is outside `[-2^63, 2^63 - 1]`.
    Overflow,
    /// `div` or `mod` by zero.
    DivisionByZero,
    /// `round` digits outside `0..=6`.
    InvalidArgument,
}

impl NumError {
    /// The error code used by the TypeScript reference and the vectors.
    pub fn code(self) -> &'static str {
        match self {
            NumError::Overflow => "EXEC_OVERFLOW",
            NumError::DivisionByZero => "EXEC_DIVISION_BY_ZERO",
            NumError::InvalidArgument => "EXEC_INVALID_ARGUMENT",
        }
    }

    /// The error class of a vector's `error` code.
    pub fn from_code(code: &str) -> Option<NumError> {
        [
            NumError::Overflow,
            NumError::DivisionByZero,
            NumError::InvalidArgument,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for NumError {}

/// Result of a numeric operation.
pub type NumResult = Result<i64, NumError>;

fn checked(v: i128) -> NumResult {
    i64::try_from(v).map_err(|_| NumError::Overflow)
}

/// a + b, exact.
pub fn add(a: i64, b: i64) -> NumResult {
    a.checked_add(b).ok_or(NumError::Overflow)
}

/// a - b, exact.
pub fn sub(a: i64, b: i64) -> NumResult {
    a.checked_sub(b).ok_or(NumError::Overflow)
}

/// -a.
pub fn neg(a: i64) -> NumResult {
    a.checked_neg().ok_or(NumError::Overflow)
}

/// |a|.
pub fn abs(a: i64) -> NumResult {
    a.checked_abs().ok_or(NumError::Overflow)
}

/// trunc(a * b / 10^6) with a 128-bit intermediate (i128 division truncates toward zero).
pub fn mul(a: i64, b: i64) -> NumResult {
    checked(i128::from(a) * i128::from(b) / i128::from(SCALE))
}

/// trunc(a * 10^6 / b) with a 128-bit intermediate.
pub fn div(a: i64, b: i64) -> NumResult {
    if b == 0 {
        return Err(NumError::DivisionByZero);
    }
    checked(i128::from(a) * i128::from(SCALE) / i128::from(b))
}

/// a % b with the sign of the dividend; `i64::MIN % -1 == 0`.
pub fn rem(a: i64, b: i64) -> NumResult {
    if b == 0 {
        return Err(NumError::DivisionByZero);
    }
    checked(i128::from(a) % i128::from(b))
}

/// compareNum: -1, 0 or 1.
pub fn cmp(a: i64, b: i64) -> i64 {
    match a.cmp(&b) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// Largest integer (multiple of 10^6) <= a.
pub fn floor(a: i64) -> NumResult {
    let r = a % SCALE;
    if r == 0 {
        return Ok(a);
    }
    let down = if a < 0 { SCALE } else { 0 };
    checked(i128::from(a) - i128::from(r) - i128::from(down))
}

/// Smallest integer (multiple of 10^6) >= a.
pub fn ceil(a: i64) -> NumResult {
    let r = a % SCALE;
    if r == 0 {
        return Ok(a);
    }
    let up = if a > 0 { SCALE } else { 0 };
    checked(i128::from(a) - i128::from(r) + i128::from(up))
}

/// Round to `digits` decimals (0..=6), half away from zero.
pub fn round(a: i64, digits: u32) -> NumResult {
    if digits > SCALE_DIGITS {
        return Err(NumError::InvalidArgument);
    }
    let unit = 10i128.pow(SCALE_DIGITS - digits);
    let magnitude = i128::from(a).abs();
    let rounded = (magnitude + unit / 2) / unit * unit;
    checked(if a < 0 { -rounded } else { rounded })
}
