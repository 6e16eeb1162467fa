//! `m2m::plan::str` (asm/str.masm) against a plain Rust reference: equality, order, ASCII case
//! maps, code point length and concatenation on hand-picked and pseudo-random byte strings, the
//! memory layout of every string the library builds (zero header and padding), allocation, the
//! validation of untrusted strings, cycle costs, and one proven program.
//!
//! Strings enter a test program through the advice stack: `load` (below) allocates and copies
//! raw words, so tests can also build malformed strings for `assert_valid`. Results that are
//! strings are read back from the final memory of the execution.

use std::cmp::Ordering;

mod common;

use common::{epilogue, raw_advice, string_advice, Out, HEAP};
use m2m_plan::{assemble_program, host, prove, verify, MAX_CYCLES};
use miden_core::Felt;
use miden_vm::{
    advice::AdviceInputs, DefaultHost, ExecutionOptions, FastProcessor, Program, StackInputs,
};

/// Pushed before the body of a test program and checked under its outputs: together with the
/// final stack depth of 16 this checks the stack effect of the procedures exactly.
const SENTINEL: u64 = 0x5e47_14e1;

/// `load`: reads k, then k words from the advice stack into a fresh allocation; returns it.
const PRELUDE: &str = "use m2m::plan::str

#! [] -> [ptr]
proc load
    adv_push dup mul.4 exec.str::alloc
    # => [p, k]
    swap dup.1 swap dup neq.0
    while.true
        padw adv_loadw dup.5 mem_storew_le dropw
        sub.1 swap add.4 swap dup neq.0
    end
    drop drop
end
";

/// -1 as a field element.
fn minus_one() -> u64 {
    Felt::ORDER - 1
}

/// A test program: `body` leaves `outputs` elements on top of the sentinel.
struct TestProgram {
    program: Program,
    outputs: usize,
}

/// The prelude, the heap pointer, the sentinel, `body`, the epilogue.
fn program(body: &str, outputs: usize) -> TestProgram {
    let source = format!(
        "{PRELUDE}\nbegin\n    push.{HEAP} mem_store.0 push.{SENTINEL}\n{body}\n{}end\n",
        epilogue(outputs + 1)
    );
    let program = assemble_program(&source).unwrap_or_else(|e| panic!("{e}\n{source}"));
    TestProgram { program, outputs }
}

fn options() -> ExecutionOptions {
    ExecutionOptions::new(Some(MAX_CYCLES), 64, 4096, false, false).unwrap()
}

fn advice_of(strings: &[&[u8]]) -> AdviceInputs {
    AdviceInputs::default().with_stack(strings.iter().flat_map(|s| string_advice(s)))
}

/// A runner that keeps one host (creating one loads the core library).
struct Runner {
    host: DefaultHost,
}

impl Runner {
    fn new() -> Self {
        Runner { host: host() }
    }

    fn run_advice(&mut self, p: &TestProgram, advice: AdviceInputs) -> Result<Out, String> {
        let out = miden_vm::execute_sync(
            &p.program,
            StackInputs::new(&[]).unwrap(),
            advice,
            &mut self.host,
            options(),
        )
        .map(Out)
        .map_err(|e| format!("{e} {e:?}"))?;
        assert_eq!(out.stack(p.outputs), SENTINEL, "stack effect");
        Ok(out)
    }

    fn run(&mut self, program: &TestProgram, strings: &[&[u8]]) -> Out {
        self.run_advice(program, advice_of(strings))
            .unwrap_or_else(|e| panic!("strings {strings:?}: {e}"))
    }
}

impl Out {
    fn top(&self) -> u64 {
        self.0.stack.get_element(0).unwrap().as_canonical_u64()
    }
}

// ===== REFERENCE =================================================================================

fn ref_cmp(a: &[u8], b: &[u8]) -> u64 {
    match a.cmp(b) {
        Ordering::Less => minus_one(),
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// Code points: bytes that are not UTF-8 continuation bytes 0x80..0xBF.
fn ref_len(a: &[u8]) -> u64 {
    a.iter().filter(|&&b| !(0x80..0xC0).contains(&b)).count() as u64
}

fn ref_upper(a: &[u8]) -> Vec<u8> {
    a.to_ascii_uppercase()
}

fn ref_lower(a: &[u8]) -> Vec<u8> {
    a.to_ascii_lowercase()
}

// ===== CASES =====================================================================================

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A random string: bytes from a small alphabet (so that equal prefixes are common), any
    /// byte, or valid UTF-8 with multi-byte characters.
    fn string(&mut self, max_len: u64) -> Vec<u8> {
        let n = self.below(max_len + 1) as usize;
        match self.below(3) {
            0 => (0..n)
                .map(|_| b"aAzZ\x00\x7f\x80\xff"[self.below(8) as usize])
                .collect(),
            1 => (0..n).map(|_| self.below(256) as u8).collect(),
            _ => {
                const CHARS: [&str; 10] = ["a", "Z", "é", "€", "😀", "ß", "0", " ", "ÿ", "z"];
                let mut s = String::new();
                while s.len() < n {
                    s.push_str(CHARS[self.below(10) as usize]);
                }
                s.into_bytes()
            }
        }
    }
}

/// Hand-picked strings: empty, every length 1..13 around word boundaries, the bytes 0x00,
/// 0x7f, 0x80, 0xff, multi-byte UTF-8 and mixed case.
fn fixed_strings() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![Vec::new()];
    let alphabet = b"abcdefghijklm";
    for n in 1..=13 {
        v.push(alphabet[..n].to_vec());
    }
    for s in [
        "abcd\0",
        "abcdefgh\0",
        "abc\u{7f}",
        "Hello, World!",
        "hello, world!",
        "HELLO, WORLD!",
        "é",
        "€",
        "😀",
        "naïve café",
        "NAÏVE CAFÉ",
        "Grüße, 世界 😀!",
        "@[`{",
        "AZaz",
        "abd",
        "abcz",
        "abcdefgz",
    ] {
        v.push(s.as_bytes().to_vec());
    }
    for bytes in [
        vec![0u8],
        vec![0, 0],
        vec![0x7f],
        vec![0x80],
        vec![0xff],
        vec![0xff, 0xff, 0xff, 0xff, 0xff],
        vec![b'a', 0x80, b'b', 0xbf, 0xc0, 0xff, 0x00, b'Z'],
    ] {
        v.push(bytes);
    }
    v
}

/// Pairs that share long prefixes: a string against its truncations, extensions and single
/// byte changes at every position.
fn prefix_pairs(rng: &mut Rng) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    for _ in 0..60 {
        let a = rng.string(40);
        let mut b = a.clone();
        match rng.below(4) {
            0 => b.truncate(rng.below(a.len() as u64 + 1) as usize),
            1 => b.push(rng.below(256) as u8),
            2 if !a.is_empty() => {
                let i = rng.below(a.len() as u64) as usize;
                b[i] = rng.below(256) as u8;
            }
            _ => {}
        }
        if rng.below(2) == 0 {
            pairs.push((a, b));
        } else {
            pairs.push((b, a));
        }
    }
    pairs
}

fn all_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    let fixed = fixed_strings();
    let mut pairs = Vec::new();
    for a in &fixed {
        for b in &fixed {
            pairs.push((a.clone(), b.clone()));
        }
    }
    let mut rng = Rng(0x5eed_0123_4567_89ab);
    for _ in 0..300 {
        pairs.push((rng.string(24), rng.string(24)));
    }
    pairs.extend(prefix_pairs(&mut rng));
    pairs
}

fn all_strings() -> Vec<Vec<u8>> {
    let mut v = fixed_strings();
    let mut rng = Rng(0x0dd_ba11_cafe);
    for _ in 0..300 {
        v.push(rng.string(40));
    }
    v
}

// ===== TESTS =====================================================================================

#[test]
fn loader_round_trips() {
    let mut r = Runner::new();
    let p = program("    exec.load", 1);
    for s in all_strings() {
        let out = r.run(&p, &[&s]);
        assert_eq!(out.string(out.top()), s);
    }
}

#[test]
fn eq_and_cmp_match_the_reference() {
    let mut r = Runner::new();
    let ops = ["eq", "cmp", "lt", "lte", "gt", "gte"].map(|op| {
        (
            op,
            program(&format!("    exec.load exec.load exec.str::{op}"), 1),
        )
    });
    let pairs = all_pairs();
    for (a, b) in &pairs {
        let c = ref_cmp(a, b);
        for (op, p) in &ops {
            let expected = match *op {
                "eq" => u64::from(a == b),
                "cmp" => c,
                "lt" => u64::from(a < b),
                "lte" => u64::from(a <= b),
                "gt" => u64::from(a > b),
                _ => u64::from(a >= b),
            };
            let out = r.run(p, &[a, b]);
            assert_eq!(out.top(), expected, "{op}({a:?}, {b:?})");
        }
    }
    assert!(pairs.len() > 1000);
}

#[test]
fn a_string_equals_itself_and_its_copy() {
    let mut r = Runner::new();
    let same = program(
        "    exec.load dup exec.str::eq exec.load dup exec.str::cmp",
        2,
    );
    let copy = program("    exec.load exec.load exec.str::eq", 1);
    for s in all_strings() {
        let out = r.run(&same, &[&s, &s]);
        assert_eq!((out.top(), out.stack(1)), (0, 1));
        assert_eq!(r.run(&copy, &[&s, &s]).top(), 1);
    }
}

#[test]
fn case_maps_match_the_reference_and_keep_the_layout() {
    let mut r = Runner::new();
    let upper = program("    exec.load exec.str::upper", 1);
    let lower = program("    exec.load exec.str::lower", 1);
    let mut all: Vec<Vec<u8>> = all_strings();
    all.push((0..=255).collect());
    for s in &all {
        let out = r.run(&upper, &[s]);
        assert_eq!(out.string(out.top()), ref_upper(s), "upper({s:?})");
        let out = r.run(&lower, &[s]);
        assert_eq!(out.string(out.top()), ref_lower(s), "lower({s:?})");
    }
    // the input is not modified
    let both = program("    exec.load dup exec.str::upper drop", 1);
    let out = r.run(&both, &[b"MiXeD case \xc3\xa9"]);
    assert_eq!(out.string(out.top()), b"MiXeD case \xc3\xa9");
}

#[test]
fn len_counts_code_points() {
    let mut r = Runner::new();
    let p = program("    exec.load exec.str::len", 2);
    let mut all: Vec<Vec<u8>> = all_strings();
    all.push((0..=255).collect());
    for s in &all {
        let out = r.run(&p, &[s]);
        let expected = ref_len(s) * 1_000_000;
        assert_eq!(out.top(), expected & 0xffff_ffff, "len({s:?})");
        assert_eq!(out.stack(1), expected >> 32, "len({s:?})");
        if let Ok(text) = std::str::from_utf8(s) {
            assert_eq!(ref_len(s), text.chars().count() as u64);
        }
    }
    // a long string: the mantissa needs the high limb
    let long = "😀é".repeat(700).into_bytes();
    let out = r.run(&p, &[&long]);
    let m = 1400 * 1_000_000u64;
    assert_eq!((out.top(), out.stack(1)), (m & 0xffff_ffff, m >> 32));
}

#[test]
fn concat_matches_the_reference_and_writes_nothing_else() {
    let mut r = Runner::new();
    let p = program("    exec.load exec.load exec.str::concat", 1);
    let mut pairs = all_pairs();
    // every alignment of both parts
    for na in 0..=9 {
        for nb in 0..=9 {
            let a: Vec<u8> = (0..na).map(|i| b'a' + i).collect();
            let b: Vec<u8> = (0..nb).map(|i| b'A' + i).collect();
            pairs.push((a, b));
        }
    }
    for (a, b) in &pairs {
        let out = r.run(&p, &[a, b]);
        let ptr = out.top();
        let expected = [a.as_slice(), b.as_slice()].concat();
        assert_eq!(out.string(ptr), expected, "concat({a:?}, {b:?})");
        // the operands are unchanged
        let pa = HEAP;
        let pb = HEAP + 4 + 4 * a.len().div_ceil(4) as u64;
        assert_eq!(out.string(pa), *a);
        assert_eq!(out.string(pb), *b);
        // the result is the last allocation: everything after its bytes is zero
        let n = expected.len() as u64;
        let end = out.mem(0);
        assert_eq!(end, ptr + 4 + 4 * (n + 3).div_ceil(4));
        for addr in ptr + 4 + n..end + 64 {
            assert_eq!(out.mem(addr), 0, "concat({a:?}, {b:?}): mem[{addr}]");
        }
    }
}

#[test]
fn concat_chains() {
    let mut r = Runner::new();
    // ((a + b) + c) + (c + a)
    let p = program(
        "    exec.load exec.load exec.load
    # => [c, b, a]
    movup.2 dup movdn.3 movup.2 exec.str::concat
    # => [a + b, c, a]
    dup.1 exec.str::concat
    # => [a + b + c, c, a]
    movdn.2 swap exec.str::concat
    # => [c + a, a + b + c]
    exec.str::concat",
        1,
    );
    let mut rng = Rng(42);
    for _ in 0..100 {
        let (a, b, c) = (rng.string(11), rng.string(11), rng.string(11));
        let out = r.run(&p, &[&a, &b, &c]);
        let expected = [&a[..], &b[..], &c[..], &c[..], &a[..]].concat();
        assert_eq!(out.string(out.top()), expected);
    }
}

#[test]
fn alloc_and_new() {
    let mut r = Runner::new();
    for n in 0..=9u64 {
        let p = program(
            &format!("    push.{n} exec.str::alloc push.{n} exec.str::new push.1 exec.str::alloc"),
            3,
        );
        let out = r.run(&p, &[]);
        let (third, string, first) = (out.top(), out.stack(1), out.stack(2));
        let rounded = 4 * n.div_ceil(4);
        assert_eq!(first, HEAP);
        assert_eq!(string, HEAP + rounded);
        assert_eq!(third, string + 4 + rounded);
        assert_eq!(out.mem(0), third + 4);
        assert_eq!(out.string(string), vec![0u8; n as usize]);
    }
    // the heap must stay below 2^31
    let limit = 1u64 << 31;
    let ok = program(
        &format!("    push.{} mem_store.0 push.4 exec.str::alloc", limit - 8),
        1,
    );
    assert_eq!(r.run(&ok, &[]).top(), limit - 8);
    let full = program(
        &format!("    push.{} mem_store.0 push.5 exec.str::alloc", limit - 8),
        1,
    );
    let err = r.run_advice(&full, AdviceInputs::default()).unwrap_err();
    assert!(err.contains("M2M_STR_OUT_OF_MEMORY"), "{err}");
}

#[test]
fn assert_valid_accepts_well_formed_strings() {
    let mut r = Runner::new();
    let p = program("    exec.load dup exec.str::assert_valid eq", 1);
    for s in all_strings() {
        assert_eq!(r.run(&p, &[&s]).top(), 1);
    }
}

#[test]
fn assert_valid_rejects_malformed_strings() {
    let mut r = Runner::new();
    let p = program("    exec.load exec.str::assert_valid", 1);
    let check = |r: &mut Runner, words: Vec<u64>, what: &str| {
        let err = r
            .run_advice(&p, AdviceInputs::default().with_stack(raw_advice(&words)))
            .expect_err(what);
        assert!(err.contains("M2M_STR_INVALID"), "{what}: {err}");
    };
    let p_1 = minus_one();
    // header
    for i in 1..4 {
        let mut w = vec![0u64; 8];
        w[0] = 3;
        w[4] = 97;
        w[i] = 1;
        check(&mut r, w, "non-zero header element");
    }
    // length
    check(&mut r, vec![1 << 24, 0, 0, 0], "length 2^24");
    check(&mut r, vec![1 << 32, 0, 0, 0], "length 2^32");
    check(&mut r, vec![p_1, 0, 0, 0], "length -1");
    // bytes
    for bad in [256, 1 << 32, p_1, Felt::ORDER - 256] {
        for n in 1..=9u64 {
            for i in 0..n {
                let mut w = vec![0u64; 4 * (1 + n.div_ceil(4)) as usize];
                w[0] = n;
                for j in 0..n {
                    w[4 + j as usize] = 0x41 + j;
                }
                w[4 + i as usize] = bad;
                check(&mut r, w, "bad byte");
            }
        }
    }
    // padding, including values that are not bytes
    for n in 1..=11u64 {
        let size = 4 * (1 + n.div_ceil(4)) as usize;
        for i in 4 + n as usize..size {
            for bad in [1, 255, 256, p_1] {
                let mut w = vec![0u64; size];
                w[0] = n;
                w[i] = bad;
                check(&mut r, w, "non-zero padding");
            }
        }
    }
}

// ===== CYCLES ====================================================================================

/// Main-trace rows, and hasher + memory chiplet rows, of an execution.
fn trace_rows(program: &TestProgram, strings: &[&[u8]]) -> (usize, usize) {
    let processor = FastProcessor::new_with_options(
        StackInputs::new(&[]).unwrap(),
        advice_of(strings),
        options(),
    )
    .unwrap();
    let inputs = processor
        .execute_trace_inputs_sync(&program.program, &mut host())
        .unwrap();
    let trace = miden_vm::trace::build_trace(inputs).unwrap();
    let summary = trace.trace_len_summary();
    let chiplets = summary.chiplets_trace_len();
    (
        summary.main_trace_len(),
        chiplets.hash_chiplet_len() + chiplets.memory_chiplet_len(),
    )
}

/// (main-trace rows, hasher + memory chiplet rows) of one call: the rows of
/// `load..., exec.str::op` minus those of the loads alone (which drop or push what the op
/// consumes or produces, one cycle each, added back).
fn op_rows(op: &str, strings: &[&[u8]]) -> (usize, usize) {
    let inputs = strings.len().max(1);
    let outputs = if op == "len" { 2 } else { 1 };
    let mut setup = "    exec.load\n".repeat(strings.len());
    if strings.is_empty() {
        setup.push_str("    push.5\n");
    }
    let with = program(&format!("{setup}    exec.str::{op}"), outputs);
    let adjust = if inputs >= outputs {
        "    drop\n".repeat(inputs - outputs)
    } else {
        "    push.0\n".repeat(outputs - inputs)
    };
    let without = program(&format!("{setup}{adjust}"), outputs);
    let (with, without) = (trace_rows(&with, strings), trace_rows(&without, strings));
    (
        with.0 - without.0 + inputs.abs_diff(outputs),
        with.1 - without.1,
    )
}

/// Prints the cycle table (`cargo test ... --test str -- --nocapture cycles`) and guards the
/// per-word costs.
#[test]
fn cycles() {
    println!("op                 n     cycles  hasher+memory rows");
    let mut table = Vec::new();
    for n in [0usize, 4, 16, 64, 256] {
        let a: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        let mut b = a.clone();
        if let Some(last) = b.last_mut() {
            *last = b'!';
        }
        let mut first = a.clone();
        if let Some(x) = first.first_mut() {
            *x = b'!';
        }
        let rows = [
            ("eq equal", op_rows("eq", &[&a, &a])),
            ("eq last differs", op_rows("eq", &[&a, &b])),
            (
                "eq lengths differ",
                op_rows("eq", &[&a, &[&a[..], b"x"].concat()]),
            ),
            ("cmp equal", op_rows("cmp", &[&a, &a])),
            ("cmp last differs", op_rows("cmp", &[&a, &b])),
            ("cmp first differs", op_rows("cmp", &[&a, &first])),
            ("lt equal", op_rows("lt", &[&a, &a])),
            ("upper", op_rows("upper", &[&a])),
            ("len", op_rows("len", &[&a])),
            ("concat (n, n)", op_rows("concat", &[&a, &a])),
            (
                "concat (n+1, n)",
                op_rows("concat", &[&[&a[..], b"x"].concat(), &a]),
            ),
            ("assert_valid", op_rows("assert_valid", &[&a])),
        ];
        for (name, (c, chiplets)) in rows {
            println!("{name:<18} {n:<4} {c:>7} {chiplets:>7}");
            table.push((name, n, c));
        }
    }
    let (c, chiplets) = op_rows("alloc", &[]);
    println!("alloc (5 felts)         {c:>7} {chiplets:>7}");
    let at = |name: &str, n: usize| {
        table
            .iter()
            .find(|(m, k, _)| *m == name && *k == n)
            .unwrap()
            .2
    };
    // per 4 bytes (64 words between n = 256 and n = 0)
    let per_word = |name: &str| (at(name, 256) - at(name, 0)) as f64 / 64.0;
    for (name, limit) in [
        ("eq equal", 50.0),
        ("cmp equal", 50.0),
        ("upper", 75.0),
        ("len", 50.0),
        ("concat (n, n)", 40.0),
        ("concat (n+1, n)", 50.0),
        ("assert_valid", 50.0),
    ] {
        let c = per_word(name);
        println!("{name}: {c:.1} cycles per 4 bytes");
        assert!(c <= limit, "{name}: {c} cycles per 4 bytes");
    }
    // fixed costs, and the early exit at the first differing word
    assert!(at("eq equal", 0) < 70);
    assert!(at("cmp equal", 0) < 90);
    assert_eq!(at("cmp first differs", 256), at("cmp first differs", 4));
    assert!(at("cmp first differs", 256) < 170);
}

// ===== PROOF =====================================================================================

/// MASM that pushes a new string with the given bytes.
fn literal(s: &str) -> String {
    let mut m = format!("    push.{} exec.str::new\n", s.len());
    for (i, b) in s.bytes().enumerate() {
        m.push_str(&format!("    dup push.{b} swap add.{} mem_store\n", 4 + i));
    }
    m
}

#[test]
fn prove_and_verify_a_string_program() {
    let source = format!(
        "use m2m::plan::str
begin
    push.{HEAP} mem_store.0
{hello}    exec.str::assert_valid exec.str::upper
{upper}    exec.str::eq
    # => [1]
{abc}{abd}    exec.str::cmp
    # => [-1, 1]
{a}{b}    exec.str::concat exec.str::len
    # => [m_lo, m_hi, -1, 1]
{}end
",
        epilogue(4),
        hello = literal("Hello, wörld"),
        upper = literal("HELLO, WöRLD"),
        abc = literal("abc"),
        abd = literal("abd"),
        a = literal("Grüße, "),
        b = literal("世界 😀"),
    );
    let program = assemble_program(&source).unwrap();
    let (outputs, proof) = prove(&program, &[]).unwrap();
    let m = "Grüße, 世界 😀".chars().count() as u64 * 1_000_000;
    let top: Vec<u64> = outputs[..4].iter().map(|f| f.as_canonical_u64()).collect();
    assert_eq!(top, vec![m & 0xffff_ffff, m >> 32, minus_one(), 1]);
    verify(program.hash(), &[], &outputs, &proof).unwrap();
    let mut forged = outputs.clone();
    forged[3] += Felt::from_u32(1);
    assert!(verify(program.hash(), &[], &forged, &proof).is_err());
}
