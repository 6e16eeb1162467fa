//! Conversions between wire strings and field elements.
//!
//! * A *word* (four Goldilocks elements) is written as 64 lowercase hex characters: each
//!   element as 8 little-endian bytes, elements in order. This is the byte order Miden itself
//!   uses for `Word::to_hex`, without the `0x`.
//! * A 32-byte digest (sha256) enters the VM as eight 32-bit big-endian limbs.
//! * An unsigned 64-bit amount or limit enters the VM as two 32-bit limbs `(lo, hi)`.

use miden_core::{Felt, Word};

use crate::error::{Error, ErrorCode, Result};

/// Goldilocks modulus `2^64 - 2^32 + 1`.
pub const FIELD_MODULUS: u64 = 0xffff_ffff_0000_0001;

/// Splits a u64 into `(lo, hi)` 32-bit limbs as field elements.
pub fn u64_limbs(value: u64) -> (Felt, Felt) {
    (
        Felt::from_u32(value as u32),
        Felt::from_u32((value >> 32) as u32),
    )
}

/// Eight big-endian 32-bit limbs of a 32-byte digest.
pub fn digest_limbs(digest: &[u8; 32]) -> [Felt; 8] {
    let mut out = [Felt::from_u32(0); 8];
    for (i, chunk) in digest.chunks_exact(4).enumerate() {
        out[i] = Felt::from_u32(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
    }
    out
}

/// The two words `(W1, W2)` that carry a 32-byte digest through the VM.
pub fn digest_words(digest: &[u8; 32]) -> (Word, Word) {
    let l = digest_limbs(digest);
    (
        Word::new([l[0], l[1], l[2], l[3]]),
        Word::new([l[4], l[5], l[6], l[7]]),
    )
}

/// Word <-> canonical u64 conversions are shared with the plan runtime.
pub use m2m_plan::data::{word_from_u64s, word_u64s};

/// 64 lowercase hex characters of a word (little-endian bytes per element).
pub fn word_to_hex(word: &Word) -> String {
    let mut bytes = Vec::with_capacity(32);
    for v in word_u64s(word) {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    hex::encode(bytes)
}

/// Parses 64 lowercase hex characters into a word; every element must be canonical.
pub fn word_from_hex(text: &str, code: ErrorCode, what: &str) -> Result<Word> {
    let bytes = hex32(text, code, what)?;
    let mut values = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        values[i] = u64::from_le_bytes(b);
    }
    word_from_u64s(values).ok_or_else(|| {
        Error::new(
            code,
            format!("{what}: element is not a canonical Goldilocks field element (must be < 2^64 - 2^32 + 1)"),
        )
    })
}

/// Parses exactly 64 lowercase hex characters into 32 bytes.
pub fn hex32(text: &str, code: ErrorCode, what: &str) -> Result<[u8; 32]> {
    if text.len() != 64 {
        return Err(Error::new(
            code,
            format!(
                "{what}: expected 64 lowercase hex characters, got {} characters",
                text.len()
            ),
        ));
    }
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
    {
        return Err(Error::new(
            code,
            format!("{what}: character {c:?} at position {i} is not lowercase hex"),
        ));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out)
        .map_err(|e| Error::new(code, format!("{what}: invalid hex: {e}")))?;
    Ok(out)
}

/// Strips a required `scheme:` prefix.
pub fn strip_scheme<'a>(
    text: &'a str,
    scheme: &str,
    code: ErrorCode,
    what: &str,
) -> Result<&'a str> {
    text.strip_prefix(scheme)
        .and_then(|t| t.strip_prefix(':'))
        .ok_or_else(|| {
            Error::new(
                code,
                format!("{what}: expected the form \"{scheme}:<64 hex>\", got {text:?}"),
            )
        })
}

/// Parses a decimal string of an unsigned 64-bit integer (no sign, no leading zeros except "0").
pub fn parse_u64_decimal(text: &str, code: ErrorCode, what: &str) -> Result<u64> {
    let bad = || {
        Error::new(
            code,
            format!(
                "{what}: expected a decimal string of an unsigned integer in 0..=18446744073709551615 \
                 without sign or leading zeros, got {text:?}"
            ),
        )
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(bad());
    }
    text.parse::<u64>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_hex_round_trip() {
        let w = word_from_u64s([1, 2, FIELD_MODULUS - 1, 0]).unwrap();
        let h = word_to_hex(&w);
        assert_eq!(h.len(), 64);
        assert_eq!(
            word_from_hex(&h, ErrorCode::InvalidSalt, "salt").unwrap(),
            w
        );
        assert_eq!(w.to_hex(), format!("0x{h}"));
    }

    #[test]
    fn non_canonical_word_rejected() {
        let h = format!(
            "{}{}",
            hex::encode(FIELD_MODULUS.to_le_bytes()),
            "00".repeat(24)
        );
        assert!(word_from_hex(&h, ErrorCode::InvalidSalt, "salt").is_err());
    }

    #[test]
    fn decimal_parsing() {
        let c = ErrorCode::InvalidAmount;
        assert_eq!(parse_u64_decimal("0", c, "a").unwrap(), 0);
        assert_eq!(
            parse_u64_decimal("18446744073709551615", c, "a").unwrap(),
            u64::MAX
        );
        for bad in [
            "",
            "-1",
            "+1",
            "01",
            "1.0",
            "1e3",
            " 1",
            "18446744073709551616",
        ] {
            assert!(parse_u64_decimal(bad, c, "a").is_err(), "{bad}");
        }
    }
}
