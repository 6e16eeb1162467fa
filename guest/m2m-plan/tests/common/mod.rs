// Each test crate uses part of this module.
#![allow(dead_code)]

//! What the MASM runtime tests share: reading a finished program's stack and memory, and the
//! strings of `m2m::plan::str` in it.

use miden_core::Felt;
use miden_processor::ContextId;
use miden_vm::ExecutionOutput;

/// Initial heap pointer of the test programs.
pub const HEAP: u64 = 1 << 16;

pub fn felt(x: u64) -> Felt {
    Felt::new(x).expect("canonical field element")
}

/// The final state of a program run.
pub struct Out(pub ExecutionOutput);

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Out({:?})", self.0.stack)
    }
}

impl Out {
    pub fn stack(&self, i: usize) -> u64 {
        self.0.stack.get_element(i).unwrap().as_canonical_u64()
    }

    pub fn mem(&self, addr: u64) -> u64 {
        self.0
            .memory
            .read_element(ContextId::root(), felt(addr))
            .unwrap()
            .as_canonical_u64()
    }

    /// The string at `ptr`, checking the layout: aligned, inside the heap, zero header elements,
    /// bytes < 256, zero padding.
    pub fn string(&self, ptr: u64) -> Vec<u8> {
        assert_eq!(ptr % 4, 0, "unaligned string");
        assert!(ptr >= HEAP && ptr < self.mem(0), "string outside the heap");
        let n = self.mem(ptr);
        assert!(n < 1 << 24);
        for i in 1..4 {
            assert_eq!(self.mem(ptr + i), 0, "header element {i}");
        }
        let bytes: Vec<u8> = (0..n)
            .map(|i| {
                let b = self.mem(ptr + 4 + i);
                u8::try_from(b).unwrap_or_else(|_| panic!("byte {i} = {b}"))
            })
            .collect();
        for i in n..4 * n.div_ceil(4) {
            assert_eq!(self.mem(ptr + 4 + i), 0, "padding element {i} of {n}");
        }
        bytes
    }
}

/// The advice words of a string: k = 1 + ceil(n / 4), the header [n, 0, 0, 0], the bytes and
/// zero padding.
pub fn string_advice(bytes: &[u8]) -> Vec<Felt> {
    let mut words: Vec<u64> = vec![bytes.len() as u64, 0, 0, 0];
    words.extend(bytes.iter().map(|&b| u64::from(b)));
    words.resize(4 * (1 + bytes.len().div_ceil(4)), 0);
    raw_advice(&words)
}

/// The advice of raw memory words (length a multiple of 4): k, then the elements.
pub fn raw_advice(elements: &[u64]) -> Vec<Felt> {
    assert_eq!(elements.len() % 4, 0);
    let mut v = vec![felt((elements.len() / 4) as u64)];
    v.extend(elements.iter().map(|&e| felt(e)));
    v
}

/// Drops the `outputs` zeros under the top `outputs` elements: a program must end with 16
/// elements on the stack (more is an error), and the test programs start from an empty (all-zero)
/// one.
pub fn epilogue(outputs: usize) -> String {
    match outputs {
        0 => String::new(),
        1 => "    swap drop\n".into(),
        k => format!("    movup.{k} drop\n").repeat(k),
    }
}
