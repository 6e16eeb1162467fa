//! The Miden assembly programs proven by this crate and their program ids (MAST roots).

use std::sync::OnceLock;

use miden_core::Word;
use miden_vm::{Assembler, Program};

use crate::encoding::word_to_hex;
use crate::policy::Policy;

/// Domain tag mixed into every witness commitment (ASCII "m2mwc" and version 1).
pub const COMMIT_TAG: u64 = 0x006d_326d_7763_0001;
/// Domain tag of the batch digest's initial state (ASCII "m2mbd" and version 1).
pub const BATCH_TAG: u64 = 0x006d_326d_6264_0001;
/// Largest batch accepted by the batch program's prover and verifier.
pub const MAX_BATCH: usize = 4096;
/// Prefix of program ids and VM-native digests: Miden 0.23 hashes MAST nodes with Poseidon2.
pub const NATIVE_HASH_SCHEME: &str = "poseidon2";

/// `a < T` on `[a_lo, a_hi, T_lo, T_hi, ...]`; consumes the four limbs.
const ASSERT_LT: &str = "
    movup.2 u32overflowing_sub
    # => [borrow_lo, diff_lo, a_hi, T_hi]  where diff_lo = a_lo - T_lo
    swap drop movdn.2
    swap u32overflowing_sub
    # => [borrow_hi, diff_hi, borrow_lo]   where diff_hi = a_hi - T_hi
    swap eq.0 movup.2 and or
    # => [a < T]
    assert.err=\"aml.threshold: amount is not below the threshold\"
";

/// `a <= T` on `[a_lo, a_hi, T_lo, T_hi, ...]`; consumes the four limbs.
const ASSERT_LTE: &str = "
    movup.2 swap u32overflowing_sub
    # => [borrow_lo, diff_lo, a_hi, T_hi]  where diff_lo = T_lo - a_lo
    swap drop movdn.2
    u32overflowing_sub
    # => [borrow_hi, diff_hi, borrow_lo]   where diff_hi = T_hi - a_hi
    swap eq.0 movup.2 and or
    # => [T < a]
    assertz.err=\"order_total.cap: amount exceeds the cap\"
";

/// Opens the witness commitment of one event.
/// Input:  [C0, C1, C2, C3, T_lo, T_hi, code, zero, ...]
/// Output: [a_lo, a_hi, T_lo, T_hi, code, ...]
/// Advice: [a_hi, a_lo, S0, S1, S2, S3] (consumed)
/// Asserts: zero == 0; T_lo, T_hi, a_lo, a_hi are u32;
///          C == Poseidon2.merge([a_lo, a_hi, COMMIT_TAG, 0], S).
const OPEN_COMMITMENT: &str = "
    movup.7 assertz.err=\"statement slot must be zero\"
    dup.5 dup.5 u32assert2 drop drop
    adv_push adv_push u32assert2
    # => [a_lo, a_hi, C, T_lo, T_hi, code]
    push.0 push.COMMIT_TAG dup.3 dup.3
    # => [a_lo, a_hi, COMMIT_TAG, 0, a_lo, a_hi, C, T_lo, T_hi, code]
    padw adv_loadw swapw hmerge
    # => [C', a_lo, a_hi, C, T_lo, T_hi, code]
    movup.5 movup.5 movdn.9 movdn.9
    # => [C', C, a_lo, a_hi, T_lo, T_hi, code]
    assert_eqw.err=\"witness commitment does not open to the private amount and salt\"
";

/// Single-event programs are one straight-line basic block (no procedures, no branches): this
/// keeps the hash-chiplet part of the trace small, so the whole trace pads to 128 rows.
fn single_source(policy: Policy) -> String {
    let compare = match policy {
        Policy::AmlThreshold => ASSERT_LT,
        Policy::OrderTotalCap => ASSERT_LTE,
    };
    format!(
        "const COMMIT_TAG = {COMMIT_TAG}
const POLICY_CODE = {code}

#! Single-event compliance statement.
#! Stack inputs:  [C0, C1, C2, C3, T_lo, T_hi, POLICY_CODE, 0, h0, .., h7]
#! Stack outputs: [h0, .., h7, 0, 0, 0, 0, 0, 0, 0, 0]
begin
    dup.6 push.POLICY_CODE assert_eq.err=\"statement policy code does not match this program\"
{OPEN_COMMITMENT}
    movup.4 drop
{compare}
end
",
        code = policy.code()
    )
}

fn batch_source() -> String {
    format!(
        "const COMMIT_TAG = {COMMIT_TAG}
const BATCH_TAG = {BATCH_TAG}

proc assert_lt
{ASSERT_LT}
end

proc assert_lte
{ASSERT_LTE}
end

#! Input: [C(4), T_lo, T_hi, code, zero, ...]  Output: [...]; code 1 = a < T, code 2 = a <= T.
proc check_event
{OPEN_COMMITMENT}
    movup.4 dup eq.1
    if.true
        drop exec.assert_lt
    else
        eq.2 assert.err=\"unknown policy code\"
        exec.assert_lte
    end
end

#! Batch compliance statement over N events.
#! Stack inputs:  [D0, D1, D2, D3, N, 0, ..]     Stack outputs: [N, 0, ..]
#! Advice, per event: W3 = [T_lo, T_hi, code, 0], W4 = C, a_hi, a_lo, S (4), W1, W2 (the
#! eight 32-bit limbs of the event's public-inputs hash).
#! D = fold of Poseidon2.merge over (ACC, W3), (., W4), (., W1), (., W2) per event, starting
#! from ACC = [N, BATCH_TAG, 0, 0].
begin
    dup.4 neq.0 assert.err=\"batch must not be empty\"
    dup.4 u32assert drop
    dup.4
    push.0 push.0 push.BATCH_TAG dup.3
    # => [N, BATCH_TAG, 0, 0, cnt, D, N]
    push.1
    while.true
        padw adv_loadw padw adv_loadw
        # => [W4, W3, ACC, cnt, D, N]
        dupw.1 dupw.1
        exec.check_event
        movupw.2 movupw.2 swapw hmerge hmerge
        padw adv_loadw swapw hmerge
        padw adv_loadw swapw hmerge
        # => [ACC', cnt, D, N]
        movup.4 sub.1 dup movdn.5 neq.0
    end
    # => [ACC, 0, D, N]
    movup.4 drop
    assert_eqw.err=\"batch digest does not match the public batch digest\"
end
"
    )
}

/// The compiled programs, each assembled on first use (about half a millisecond each).
pub struct Programs {
    aml_threshold: OnceLock<Program>,
    order_total_cap: OnceLock<Program>,
    batch: OnceLock<Program>,
}

fn assemble(src: &str, what: &str) -> Program {
    // The sources are fixed at compile time; failure here is a bug caught by every test.
    Assembler::default()
        .assemble_program(src)
        .unwrap_or_else(|e| panic!("the built-in {what} program failed to assemble: {e}"))
}

impl Programs {
    /// The process-wide program cache.
    pub fn get() -> &'static Programs {
        static PROGRAMS: Programs = Programs {
            aml_threshold: OnceLock::new(),
            order_total_cap: OnceLock::new(),
            batch: OnceLock::new(),
        };
        &PROGRAMS
    }

    /// The single-event program of a policy.
    pub fn single(&self, policy: Policy) -> &Program {
        let (cell, name) = match policy {
            Policy::AmlThreshold => (&self.aml_threshold, "aml.threshold"),
            Policy::OrderTotalCap => (&self.order_total_cap, "order_total.cap"),
        };
        cell.get_or_init(|| assemble(&single_source(policy), name))
    }

    /// The batch program.
    pub fn batch(&self) -> &Program {
        self.batch
            .get_or_init(|| assemble(&batch_source(), "batch"))
    }
}

/// Formats a MAST root as a program id, `poseidon2:<64 hex>`.
pub fn program_id(hash: &Word) -> String {
    format!("{NATIVE_HASH_SCHEME}:{}", word_to_hex(hash))
}

/// The Miden assembly source of a single-event program (for audit and for `info`).
pub fn single_program_source(policy: Policy) -> String {
    single_source(policy)
}

/// The Miden assembly source of the batch program.
pub fn batch_program_source() -> String {
    batch_source()
}
