//! The digest of `m2m::plan::data` (blobs of field elements) on the Rust side, and its hex form.
//!
//! * [`hash_felts`] is miden-crypto's `Poseidon2::hash_elements`: the sequential sponge the VM's
//!   `data::load_blob` and `data::hash_memory` compute for a blob whose length is a multiple of
//!   8 (tests/data.rs checks they agree). For other lengths it is still `hash_elements` (with its
//!   length-mod-8 padding flag), which the VM procedures never produce: they reject such lengths.
//! * **Digest hex**: the four elements `D0..D3` in order, each as its canonical value in 8 bytes
//!   little-endian, 64 lowercase hex characters, no `0x` ([`digest_hex`], [`digest_from_hex`]).
//!   This is Miden's `Word::to_hex` without the prefix, and `m2m-stark`'s word encoding.

use miden_core::{crypto::hash::Poseidon2, Felt, Word};

/// Goldilocks modulus `2^64 - 2^32 + 1`.
pub const FIELD_MODULUS: u64 = 0xffff_ffff_0000_0001;

/// Digest of a blob: `Poseidon2::hash_elements(felts)`.
pub fn hash_felts(felts: &[Felt]) -> Word {
    Poseidon2::hash_elements(felts)
}

/// [`hash_felts`] over canonical u64 values; `None` if a value is not below the field modulus.
pub fn hash_u64s(values: &[u64]) -> Option<Word> {
    Some(hash_felts(&felts_from_u64s(values)?))
}

/// Field elements from canonical u64 values; `None` if a value is `>= 2^64 - 2^32 + 1`.
pub fn felts_from_u64s(values: &[u64]) -> Option<Vec<Felt>> {
    values.iter().map(|v| felt(*v)).collect()
}

/// A field element from a canonical u64 value.
pub fn felt(value: u64) -> Option<Felt> {
    if value >= FIELD_MODULUS {
        return None;
    }
    Felt::new(value).ok()
}

/// Canonical u64 values of a word's elements, in order.
pub fn word_u64s(word: &Word) -> [u64; 4] {
    let e = word.into_elements();
    [
        e[0].as_canonical_u64(),
        e[1].as_canonical_u64(),
        e[2].as_canonical_u64(),
        e[3].as_canonical_u64(),
    ]
}

/// A word from four canonical u64 values.
pub fn word_from_u64s(values: [u64; 4]) -> Option<Word> {
    Some(Word::new([
        felt(values[0])?,
        felt(values[1])?,
        felt(values[2])?,
        felt(values[3])?,
    ]))
}

/// 64 lowercase hex characters: elements `D0..D3` in order, each 8 bytes little-endian.
pub fn digest_hex(word: &Word) -> String {
    let mut out = String::with_capacity(64);
    for v in word_u64s(word) {
        for b in v.to_le_bytes() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Why a digest hex string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestHexError(pub String);

impl std::fmt::Display for DigestHexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DigestHexError {}

/// Inverse of [`digest_hex`]: exactly 64 lowercase hex characters, every element canonical.
pub fn digest_from_hex(text: &str) -> Result<Word, DigestHexError> {
    if text.len() != 64 {
        return Err(DigestHexError(format!(
            "expected 64 lowercase hex characters, got {} characters",
            text.len()
        )));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = text.as_bytes();
    let mut values = [0u64; 4];
    for (i, value) in values.iter_mut().enumerate() {
        let mut le = [0u8; 8];
        for (j, slot) in le.iter_mut().enumerate() {
            let at = 16 * i + 2 * j;
            let (hi, lo) = match (nibble(bytes[at]), nibble(bytes[at + 1])) {
                (Some(h), Some(l)) => (h, l),
                _ => {
                    return Err(DigestHexError(format!(
                        "character at position {at} is not lowercase hex"
                    )))
                }
            };
            *slot = (hi << 4) | lo;
        }
        *value = u64::from_le_bytes(le);
    }
    word_from_u64s(values).ok_or_else(|| {
        DigestHexError(
            "an element is not a canonical Goldilocks field element (must be < 2^64 - 2^32 + 1)"
                .into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_word_to_hex() {
        let w = word_from_u64s([1, 2, FIELD_MODULUS - 1, 0]).unwrap();
        let h = digest_hex(&w);
        assert_eq!(h.len(), 64);
        assert_eq!(format!("0x{h}"), w.to_hex());
        assert_eq!(digest_from_hex(&h).unwrap(), w);
        assert!(digest_from_hex(&h.to_uppercase()).is_err());
        assert!(digest_from_hex(&h[..62]).is_err());
        let non_canonical = format!("{}{}", "01000000ffffffff", "00".repeat(24));
        assert!(digest_from_hex(&non_canonical).is_err());
    }

    #[test]
    fn empty_blob_hashes_to_zero() {
        assert_eq!(hash_felts(&[]), Word::default());
        assert_eq!(hash_u64s(&[FIELD_MODULUS]), None);
    }
}
