//! The prover's Fiat-Shamir challenger: the same transcript as Miden's BLAKE3 configuration,
//! with a proof-of-work search that does not re-hash the transcript for every candidate.
//!
//! Miden's `blake3_256_config` uses Plonky3's `HashChallenger<u8, Blake3, 32>`, which keeps the
//! bytes observed since the last sample in a buffer and hashes the whole buffer whenever it is
//! sampled. Proof-of-work grinding samples once per candidate witness. Before the 16-bit query
//! grind the buffer holds the FRI final polynomial (about 2 KB), so each of the ~65,000 expected
//! candidates costs ~33 BLAKE3 compressions; for a small trace that search is most of the proving
//! time (compliance proofs: 15 ms at best, ~100 ms median, up to 0.7 s).
//!
//! [`IncrementalBlake3`] keeps a running `blake3::Hasher` over the same bytes instead, so a
//! candidate clones the hasher, absorbs 8 bytes and finalizes: a few compressions. Outputs,
//! chaining and the final digest are byte for byte those of `HashChallenger` (checked by the
//! tests below against Plonky3's own type), so the proof is unchanged in format and verified by
//! the stock verifier (`miden_verifier::verify` rebuilds the stock challenger). Only the prover
//! uses this type; how the prover finds a witness cannot affect soundness, which the verifier's
//! check of the witness alone provides.

use miden_core::{field::QuadFelt, Felt};
use miden_crypto::{
    hash::blake::Blake3Hasher,
    stark::{
        dft::Radix2DitParallel, hasher::ChainingHasher, lmcs::config::LmcsConfig,
        symmetric::CompressionFunctionFromHasher, GenericStarkConfig,
    },
};
use miden_prover::config;
use p3_challenger::{CanFinalizeDigest, CanObserve, CanSample, SerializingChallenger64};

/// A byte challenger equal to Plonky3's `HashChallenger<u8, Blake3, 32>`, hashing incrementally.
#[derive(Clone, Debug, Default)]
pub struct IncrementalBlake3 {
    /// BLAKE3 state over the input buffer (the bytes observed since the last flush, after the
    /// chaining value of that flush).
    absorbed: blake3::Hasher,
    /// Output of the last flush; bytes `output[..output_len]` are still unsampled, taken from
    /// the end as `HashChallenger` pops them.
    output: [u8; 32],
    output_len: usize,
}

impl IncrementalBlake3 {
    fn flush(&mut self) {
        let digest = *self.absorbed.finalize().as_bytes();
        self.absorbed.reset();
        self.absorbed.update(&digest);
        self.output = digest;
        self.output_len = digest.len();
    }
}

impl CanObserve<u8> for IncrementalBlake3 {
    fn observe(&mut self, value: u8) {
        self.output_len = 0;
        self.absorbed.update(&[value]);
    }

    fn observe_slice(&mut self, values: &[u8]) {
        self.output_len = 0;
        self.absorbed.update(values);
    }
}

impl CanSample<u8> for IncrementalBlake3 {
    fn sample(&mut self) -> u8 {
        if self.output_len == 0 {
            self.flush();
        }
        self.output_len -= 1;
        self.output[self.output_len]
    }
}

impl CanFinalizeDigest for IncrementalBlake3 {
    type Digest = [u8; 32];

    fn finalize(mut self) -> [u8; 32] {
        self.flush();
        self.output
    }
}

/// The field challenger the prover uses: Miden's BLAKE3 challenger over [`IncrementalBlake3`].
pub type ProverChallenger = SerializingChallenger64<Felt, IncrementalBlake3>;

/// Miden's BLAKE3 commitment scheme (`BlakeLmcs` in `miden_air::config`).
pub type Blake3Lmcs = LmcsConfig<
    Felt,
    u8,
    ChainingHasher<Blake3Hasher>,
    CompressionFunctionFromHasher<Blake3Hasher, 2, 32>,
    32,
    32,
>;

/// The prover's STARK configuration.
pub type ProverConfig =
    GenericStarkConfig<Felt, QuadFelt, Blake3Lmcs, Radix2DitParallel<Felt>, ProverChallenger>;

/// Miden's `blake3_256_config` (same PCS parameters, commitment scheme and domain separation)
/// with [`ProverChallenger`] in place of the stock challenger.
pub fn blake3_prover_config() -> ProverConfig {
    let lmcs = LmcsConfig::new(
        ChainingHasher::new(Blake3Hasher),
        CompressionFunctionFromHasher::new(Blake3Hasher),
    );
    let mut challenger = ProverChallenger::new(IncrementalBlake3::default());
    challenger.observe_slice(&config::RELATION_DIGEST);
    GenericStarkConfig::new(
        config::pcs_params(),
        lmcs,
        Radix2DitParallel::default(),
        challenger,
    )
}

#[cfg(test)]
mod tests {
    use miden_crypto::stark::challenger::{GrindingChallenger, HashChallenger};
    use p3_challenger::CanSampleBits;

    use super::*;

    type Stock = SerializingChallenger64<Felt, HashChallenger<u8, Blake3Hasher, 32>>;

    fn stock() -> Stock {
        Stock::from_hasher(vec![], Blake3Hasher)
    }

    fn ours() -> ProverChallenger {
        ProverChallenger::new(IncrementalBlake3::default())
    }

    /// A deterministic pseudo-random byte stream (xorshift), so the scripts cover many shapes.
    struct Script(u64);
    impl Script {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn samples_and_digest_equal_plonky3_hash_challenger() {
        for seed in 1..=200u64 {
            let mut script = Script(seed * 0x9e37_79b9_7f4a_7c15);
            let (mut a, mut b) = (stock(), ours());
            for _ in 0..(script.next() % 40) {
                match script.next() % 4 {
                    0 => {
                        // Long runs cross BLAKE3's 64-byte blocks and 1 KiB chunks.
                        let n = (script.next() % 700) as usize;
                        let felts: Vec<Felt> = (0..n)
                            .map(|_| Felt::new(script.next() % 0xffff_ffff_0000_0001).unwrap())
                            .collect();
                        a.observe_slice(&felts);
                        b.observe_slice(&felts);
                    }
                    1 => {
                        let (x, y): (QuadFelt, QuadFelt) = (a.sample(), b.sample());
                        assert_eq!(x, y, "seed {seed}");
                    }
                    2 => {
                        let bits = (script.next() % 30) as usize;
                        assert_eq!(a.sample_bits(bits), b.sample_bits(bits), "seed {seed}");
                    }
                    _ => {
                        let (x, y): (Felt, Felt) = (a.sample(), b.sample());
                        assert_eq!(x, y, "seed {seed}");
                    }
                }
            }
            assert_eq!(a.finalize(), b.finalize(), "seed {seed}");
        }
    }

    #[test]
    fn a_ground_witness_passes_the_stock_check_and_keeps_the_transcripts_equal() {
        let mut script = Script(7);
        let felts: Vec<Felt> = (0..256)
            .map(|_| Felt::new(script.next() % 0xffff_ffff_0000_0001).unwrap())
            .collect();
        let (mut a, mut b) = (stock(), ours());
        a.observe_slice(&felts);
        b.observe_slice(&felts);
        for bits in [4, 12] {
            let witness = b.grind(bits);
            assert!(a.check_witness(bits, witness), "{bits}-bit witness");
            let (x, y): (Felt, Felt) = (a.sample(), b.sample());
            assert_eq!(x, y);
        }
    }
}
