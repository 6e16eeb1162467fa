//! `m2m::plan::text` (asm/text.masm) against Rust ports of the TypeScript reference:
//! `formatDecimal`, `parseDecimal` and `fromJsonNumber` (zkvm/numeric/decimal.ts), `JSON.parse`
//! followed by `coerceRecord` / `coerceField` as the `parse` transform does (zkvm/exec/steps.ts
//! `parseRecords`, zkvm/exec/data.ts), and `csvField` / `formatCsv` (zkvm/exec/csv.ts).
//!
//! The rule checked everywhere: the VM returns exactly what the reference returns (value or error
//! code), or refuses with M2M_TEXT_UNSUPPORTED; inputs without the refused features (exponents,
//! JSON numbers with more than 15 significant digits, escapes, nested values, duplicate keys) are
//! never refused.
//!
//! Strings enter the programs through the advice stack (`load`, as in tests/str.rs); results are
//! read back from the final memory.

use std::sync::Arc;

mod common;

use common::{epilogue, felt, string_advice, Out, HEAP};
use m2m_plan::{host, MAX_CYCLES};
use miden_core::Felt;
use miden_vm::{
    advice::AdviceInputs, Assembler, DefaultHost, ExecutionOptions, FastProcessor, Program,
    ProvingOptions, StackInputs,
};

/// Where the JSON driver logs what it read.
const LOG: u64 = 1 << 24;
/// Pushed before the body and checked under the outputs (checks stack effects exactly).
const SENTINEL: u64 = 0x5e47_14e1;

const PARSE_FAILED: &str = "EXEC_PARSE_FAILED";
const PRECISION: &str = "DATA_PRECISION";
const OVERFLOW: &str = "EXEC_OVERFLOW";
const UNSUPPORTED: &str = "M2M_TEXT_UNSUPPORTED";

// ===== INFRASTRUCTURE ============================================================================

/// `load`: reads k, then k words from the advice stack into a fresh allocation; returns it.
const PRELUDE: &str = "use m2m::plan::str
use m2m::plan::text

#! [] -> [ptr]
proc load
    adv_push dup mul.4 exec.str::alloc
    swap dup.1 swap dup neq.0
    while.true
        padw adv_loadw dup.5 mem_storew_le dropw
        sub.1 swap add.4 swap dup neq.0
    end
    drop drop
end

#! (keeps the text import used in programs that do not call it)
proc uses_text
    exec.text::json_end
end

#! [tag, a, b, c] -> []: appends a log entry at mem[8]
proc log
    mem_load.8 dup add.4 mem_store.8
    swap dup.1 mem_store
    swap dup.1 add.1 mem_store
    swap dup.1 add.2 mem_store
    add.3 mem_store
end
";

struct TestProgram {
    program: Program,
    outputs: usize,
}

fn options() -> ExecutionOptions {
    ExecutionOptions::new(Some(MAX_CYCLES), 64, 4096, false, false).unwrap()
}

struct Runner {
    host: DefaultHost,
    assembler: Assembler,
}

impl Runner {
    fn new() -> Self {
        Runner {
            host: host(),
            assembler: m2m_plan::assembler().expect("the plan assembler"),
        }
    }

    /// The prelude, the heap pointer, the sentinel, `body`, the epilogue.
    fn program(&self, body: &str, outputs: usize) -> TestProgram {
        let source = format!(
            "{PRELUDE}\nbegin\n    push.{HEAP} mem_store.0 push.{LOG} mem_store.8 push.{SENTINEL}\n{body}\n{}end\n",
            epilogue(outputs + 1)
        );
        let program = self
            .assembler
            .clone()
            .assemble_program(source.as_str())
            .unwrap_or_else(|e| panic!("{e:?}\n{source}"));
        let program = m2m_plan::with_runtime_error_messages(program).unwrap();
        TestProgram { program, outputs }
    }

    /// Runs with the advice stack `advice`; Err(code) on failure.
    fn run(&mut self, p: &TestProgram, advice: Vec<Felt>) -> Result<Out, String> {
        let out = miden_vm::execute_sync(
            &p.program,
            StackInputs::new(&[]).unwrap(),
            AdviceInputs::default().with_stack(advice),
            &mut self.host,
            options(),
        )
        .map_err(|e| {
            let err = m2m_plan::plan::execution_error(&e);
            if err.code == "M2M_PLAN_EXECUTION_FAILED" {
                format!("{}: {}", err.code, err.message)
            } else {
                err.code
            }
        })?;
        assert_eq!(
            out.stack.get_element(p.outputs).unwrap().as_canonical_u64(),
            SENTINEL,
            "stack effect"
        );
        Ok(Out(out))
    }
}

impl Out {
    fn i64_at(&self, i: usize) -> i64 {
        let (lo, hi) = (self.stack(i), self.stack(i + 1));
        assert!(lo <= 0xffff_ffff && hi <= 0xffff_ffff, "limbs {lo} {hi}");
        ((hi << 32) | lo) as i64
    }

    /// Everything from mem[0] on (the free heap) is zero.
    fn assert_free_heap_is_zero(&self) {
        let hp = self.mem(0);
        for a in hp..hp + 64 {
            assert_eq!(self.mem(a), 0, "free heap at {a} (mem[0] = {hp})");
        }
    }
}

fn limbs_advice(x: i64) -> Vec<Felt> {
    let u = x as u64;
    vec![felt(u >> 32), felt(u & 0xffff_ffff)]
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

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

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn rand_digits(&mut self, min: u64, extra: u64) -> String {
        let n = (min + self.below(extra)) as usize;
        self.digits(n)
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

// ===== REFERENCE: NUMBERS (zkvm/numeric/decimal.ts) ==============================================

const SCALE: i128 = 1_000_000;

/// `formatDecimal(a)`.
fn ref_format_decimal(a: i64) -> String {
    let negative = a < 0;
    let magnitude = (a as i128).abs();
    let whole = magnitude / SCALE;
    let fraction = format!("{:06}", magnitude % SCALE);
    let fraction = fraction.trim_end_matches('0');
    format!(
        "{}{whole}{}",
        if negative { "-" } else { "" },
        if fraction.is_empty() {
            String::new()
        } else {
            format!(".{fraction}")
        }
    )
}

/// The outcome of a reference parse: a value, `parseDecimal` returning undefined, or an error
/// code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parsed {
    Value(i64),
    NoMatch,
    Error(&'static str),
}

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// JS `Number.isSafeInteger`.
fn is_safe_integer(x: f64) -> bool {
    x.is_finite() && x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_991.0
}

/// `checked(sign ? -magnitude : magnitude)` for a magnitude given as decimal digits times
/// 10^shift.
fn checked_magnitude(digits: &[u8], shift: i64, negative: bool) -> Parsed {
    let digits: Vec<u8> = digits.iter().copied().skip_while(|&d| d == b'0').collect();
    if digits.is_empty() {
        return Parsed::Value(0);
    }
    if digits.len() as i64 + shift > 38 {
        return Parsed::Error(OVERFLOW);
    }
    let mut m: i128 = 0;
    for &d in &digits {
        m = m * 10 + i128::from(d - b'0');
    }
    for _ in 0..shift {
        m *= 10;
    }
    let v = if negative { -m } else { m };
    match i64::try_from(v) {
        Ok(v) => Parsed::Value(v),
        Err(_) => Parsed::Error(OVERFLOW),
    }
}

/// `parseDecimal(text)`, exponents included.
fn ref_parse_decimal(text: &[u8]) -> Parsed {
    // DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/
    let n = text.len();
    let negative = text.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let int_start = i;
    while i < n && is_digit(text[i]) {
        i += 1;
    }
    if i == int_start {
        return Parsed::NoMatch;
    }
    let int_part = &text[int_start..i];
    let mut frac: &[u8] = &[];
    if i < n && text[i] == b'.' {
        i += 1;
        let start = i;
        while i < n && is_digit(text[i]) {
            i += 1;
        }
        if i == start {
            return Parsed::NoMatch;
        }
        frac = &text[start..i];
    }
    let mut exponent = 0.0f64;
    if i < n && (text[i] == b'e' || text[i] == b'E') {
        i += 1;
        let start = i;
        if i < n && (text[i] == b'+' || text[i] == b'-') {
            i += 1;
        }
        let digits_start = i;
        while i < n && is_digit(text[i]) {
            i += 1;
        }
        if i == digits_start {
            return Parsed::NoMatch;
        }
        // Number(expPart)
        exponent = std::str::from_utf8(&text[start..i])
            .unwrap()
            .parse::<f64>()
            .unwrap();
    }
    if i != n {
        return Parsed::NoMatch;
    }
    if !is_safe_integer(exponent) || exponent.abs() > 64.0 {
        return Parsed::Error(PRECISION);
    }
    let exponent = exponent as i64;
    // (intPart + fracPart).replace(/^0+(?=\d)/, '')
    let mut digits: Vec<u8> = [int_part, frac].concat();
    while digits.len() > 1 && digits[0] == b'0' {
        digits.remove(0);
    }
    let mut fraction_digits = frac.len() as i64 - exponent;
    while fraction_digits > 6 && digits.last() == Some(&b'0') {
        digits.pop();
        fraction_digits -= 1;
    }
    let zero = digits.iter().all(|&d| d == b'0'); // BigInt('') is 0n
    if fraction_digits > 6 && !zero {
        return Parsed::Error(PRECISION);
    }
    if fraction_digits > 6 {
        return Parsed::Value(0);
    }
    checked_magnitude(&digits, 6 - fraction_digits, negative)
}

/// ECMAScript `Number::toString(x)` (radix 10) from the shortest round-trip digits.
fn js_number_to_string(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i64 = exp.parse().unwrap();
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e >= 0 { '+' } else { '-' };
        if k == 1 {
            format!("{digits}e{sign}{}", e.abs())
        } else {
            format!("{}.{}e{sign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    if x < 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

/// `fromJsonNumber(value)`.
fn ref_from_json_number(value: f64) -> Parsed {
    if !value.is_finite() {
        return Parsed::Error(PRECISION);
    }
    if value.fract() == 0.0 && !is_safe_integer(value) {
        return Parsed::Error(PRECISION);
    }
    match ref_parse_decimal(js_number_to_string(value).as_bytes()) {
        Parsed::NoMatch => Parsed::Error(PRECISION),
        other => other,
    }
}

/// Length of a JSON number token at the start of `text` (RFC 8259 grammar), or None.
fn json_number_token(text: &[u8]) -> Option<usize> {
    let n = text.len();
    let mut i = usize::from(text.first() == Some(&b'-'));
    if i < n && text[i] == b'0' {
        i += 1;
    } else if i < n && (b'1'..=b'9').contains(&text[i]) {
        while i < n && is_digit(text[i]) {
            i += 1;
        }
    } else {
        return None;
    }
    if i < n && text[i] == b'.' {
        i += 1;
        let start = i;
        while i < n && is_digit(text[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i < n && (text[i] == b'e' || text[i] == b'E') {
        i += 1;
        if i < n && (text[i] == b'+' || text[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < n && is_digit(text[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    Some(i)
}

/// What `JSON.parse(text)` then `fromJsonNumber` gives for a text that should be exactly one
/// JSON number (the parse transform's codes: an invalid token is EXEC_PARSE_FAILED).
fn ref_json_number(text: &[u8]) -> Parsed {
    match json_number_token(text) {
        Some(len) if len == text.len() => {
            let v: f64 = std::str::from_utf8(text).unwrap().parse().unwrap();
            ref_from_json_number(v)
        }
        _ => Parsed::Error(PARSE_FAILED),
    }
}

/// Where the VM refuses a number text: an 'e'/'E' right after a well-formed mantissa, or (JSON)
/// more than 15 significant digits. `json` selects the JSON mantissa rules (no leading zeros).
/// Returns the refusal, or None.
fn vm_refuses_number(text: &[u8], json: bool) -> bool {
    let n = text.len();
    let mut i = usize::from(text.first() == Some(&b'-'));
    let int_start = i;
    while i < n && is_digit(text[i]) {
        i += 1;
    }
    let int_part = &text[int_start..i];
    if int_part.is_empty() || (json && int_part.len() > 1 && int_part[0] == b'0') {
        return false;
    }
    let mut frac: &[u8] = &[];
    if i < n && text[i] == b'.' {
        i += 1;
        let start = i;
        while i < n && is_digit(text[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        frac = &text[start..i];
    }
    if i < n && (text[i] == b'e' || text[i] == b'E') {
        return true;
    }
    if !json || i != n {
        return false;
    }
    let int_sig = int_part.iter().skip_while(|&&d| d == b'0').count();
    let frac_sig = frac.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
    int_sig + frac_sig > 15
}

// ===== REFERENCE: JSON.parse AND THE PARSE TRANSFORM =============================================

#[derive(Debug, Clone, PartialEq)]
enum J {
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Arr(Vec<J>),
    Obj(Vec<(Vec<u8>, J)>),
}

/// A JSON.parse mirror over bytes (UTF-8 passed through; escapes decoded).
struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.i += 1)
    }

    fn value(&mut self) -> Option<J> {
        self.ws();
        match self.peek()? {
            b'{' => {
                self.i += 1;
                let mut members: Vec<(Vec<u8>, J)> = Vec::new();
                self.ws();
                if self.eat(b'}').is_some() {
                    return Some(J::Obj(members));
                }
                loop {
                    self.ws();
                    self.eat(b'"')?;
                    let key = self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    let v = self.value()?;
                    // duplicate keys: the last value wins, at the first key's position
                    match members.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = v,
                        None => members.push((key, v)),
                    }
                    self.ws();
                    if self.eat(b',').is_none() {
                        self.eat(b'}')?;
                        return Some(J::Obj(members));
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']').is_some() {
                    return Some(J::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    if self.eat(b',').is_none() {
                        self.eat(b']')?;
                        return Some(J::Arr(items));
                    }
                }
            }
            b'"' => {
                self.i += 1;
                self.string().map(J::Str)
            }
            b't' => self.literal(b"true").map(|_| J::Bool(true)),
            b'f' => self.literal(b"false").map(|_| J::Bool(false)),
            b'n' => self.literal(b"null").map(|_| J::Null),
            _ => {
                let len = json_number_token(&self.s[self.i..])?;
                let text = std::str::from_utf8(&self.s[self.i..self.i + len]).unwrap();
                self.i += len;
                Some(J::Num(text.parse().unwrap()))
            }
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        self.s[self.i..]
            .starts_with(lit)
            .then(|| self.i += lit.len())
    }

    fn string(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.i += 1;
            match b {
                b'"' => return Some(out),
                0..=0x1f => return None,
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4)?;
                            let hex = std::str::from_utf8(hex).ok()?;
                            let unit = u32::from_str_radix(hex, 16).ok()?;
                            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                                return None;
                            }
                            self.i += 4;
                            let c = char::from_u32(unit).unwrap_or('\u{fffd}');
                            out.extend(c.to_string().bytes());
                        }
                        _ => return None,
                    }
                }
                _ => out.push(b),
            }
        }
    }
}

fn json_parse(text: &[u8]) -> Option<J> {
    let mut p = JsonParser { s: text, i: 0 };
    let v = p.value()?;
    p.ws();
    (p.i == text.len()).then_some(v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    Dec,
    Int,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Str(Vec<u8>),
    Num(i64),
    Bool(bool),
}

/// `coerceField(raw, type)`; None when it fails.
fn ref_coerce_field(raw: &J, ty: Ty) -> Option<Val> {
    match (ty, raw) {
        (Ty::Str, J::Str(s)) => Some(Val::Str(s.clone())),
        (Ty::Bool, J::Bool(b)) => Some(Val::Bool(*b)),
        (Ty::Dec | Ty::Int, J::Num(_) | J::Str(_)) => {
            let parsed = match raw {
                J::Num(v) => ref_from_json_number(*v),
                J::Str(s) => ref_parse_decimal(s),
                _ => unreachable!(),
            };
            match parsed {
                Parsed::Value(v) if ty == Ty::Dec || v % 1_000_000 == 0 => Some(Val::Num(v)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `parseRecords(text)` for format 'json' (steps.ts): every failure is EXEC_PARSE_FAILED.
fn ref_parse_json_records(text: &[u8], schema: &[(&str, Ty)]) -> Result<Vec<Vec<Val>>, String> {
    let failed = || PARSE_FAILED.to_string();
    let parsed = json_parse(text).ok_or_else(failed)?;
    let raws = match parsed {
        J::Arr(items) => items,
        other => vec![other],
    };
    let mut records = Vec::new();
    for raw in &raws {
        let J::Obj(members) = raw else {
            return Err(failed());
        };
        let mut record = Vec::new();
        for (name, ty) in schema {
            let (_, v) = members
                .iter()
                .find(|(k, _)| k == name.as_bytes())
                .ok_or_else(failed)?;
            record.push(ref_coerce_field(v, *ty).ok_or_else(failed)?);
        }
        if members
            .iter()
            .any(|(k, _)| !schema.iter().any(|(name, _)| name.as_bytes() == k))
        {
            return Err(failed());
        }
        records.push(record);
    }
    Ok(records)
}

// ===== REFERENCE: CSV (zkvm/exec/csv.ts) =========================================================

/// `csvField(text)`.
fn ref_csv_field(text: &[u8]) -> Vec<u8> {
    if text
        .iter()
        .any(|b| matches!(b, b'"' | b',' | b'\r' | b'\n'))
    {
        let mut out = vec![b'"'];
        for &b in text {
            out.push(b);
            if b == b'"' {
                out.push(b'"');
            }
        }
        out.push(b'"');
        out
    } else {
        text.to_vec()
    }
}

/// `formatValue` then csvField, for one value.
fn ref_csv_value(v: &Val) -> Vec<u8> {
    match v {
        Val::Str(s) => ref_csv_field(s),
        Val::Num(x) => ref_csv_field(ref_format_decimal(*x).as_bytes()),
        Val::Bool(b) => ref_csv_field(if *b { b"true" } else { b"false" }),
    }
}

/// `formatCsv(header, rows)`.
fn ref_format_csv(header: &[&str], rows: &[Vec<Val>]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = vec![header
        .iter()
        .map(|h| ref_csv_field(h.as_bytes()))
        .collect::<Vec<_>>()
        .join(&b","[..])];
    for row in rows {
        lines.push(
            row.iter()
                .map(ref_csv_value)
                .collect::<Vec<_>>()
                .join(&b","[..]),
        );
    }
    lines.join(&b"\n"[..])
}

// ===== NUMBERS ===================================================================================

fn format_cases() -> Vec<i64> {
    let mut v = vec![
        0,
        1,
        -1,
        9,
        10,
        999_999,
        -999_999,
        1_000_000,
        -1_000_000,
        1_000_001,
        1_500_000,
        -1_500_000,
        187_000_000,
        138_600_000,
        100_000,
        10_000_000,
        999_999_999_999,
        1_000_000_000_000,
        1_000_000_000_000_000_000,
        999_999_999_999_999_999,
        i64::MAX,
        i64::MIN,
        i64::MAX - 1,
        i64::MIN + 1,
        4_294_967_295,
        4_294_967_296,
        4_294_967_296_000_000,
        9_223_372_036_854_000_000,
        -9_223_372_036_854_000_000,
    ];
    for k in 0..19 {
        let p = 10i64.pow(k);
        v.extend([p, p - 1, p + 1, -p, -p + 1, -p - 1]);
    }
    for k in 0..63 {
        v.extend([1i64 << k, (1i64 << k) - 1, -(1i64 << k)]);
    }
    let mut rng = Rng(0xdec1_3a15);
    for _ in 0..300 {
        let x = rng.next() as i64;
        v.push(x);
        v.push(x >> rng.below(64));
        v.push((x >> 20) / 1_000_000 * 1_000_000 + rng.below(10) as i64 * 100_000);
    }
    v
}

#[test]
fn format_decimal_matches_the_reference() {
    let mut r = Runner::new();
    let p = r.program("    adv_push adv_push exec.text::format_decimal", 1);
    for x in format_cases() {
        let out = r.run(&p, limbs_advice(x)).unwrap();
        let ptr = out.stack(0);
        assert_eq!(show(&out.string(ptr)), ref_format_decimal(x), "x = {x}");
        // the string is the last allocation, exactly sized
        let n = out.mem(ptr);
        assert_eq!(out.mem(0), ptr + 4 + 4 * n.div_ceil(4));
        out.assert_free_heap_is_zero();
    }
    assert_eq!(ref_format_decimal(i64::MIN), "-9223372036854.775808");
    assert_eq!(ref_format_decimal(-1), "-0.000001");
    assert_eq!(ref_format_decimal(187_000_000), "187");
}

/// A host whose u64 division handler answers (q + dq, r + dr) modulo 2^64, or puts a non-u32
/// value in q's low limb.
fn lying_host(dq: u64, dr: u64, non_u32: bool) -> DefaultHost {
    use miden_core_lib::handlers::u64_div::U64_DIV_EVENT_NAME;
    use miden_processor::{advice::AdviceMutation, event::EventError, ProcessorState};
    let handler = move |process: &ProcessorState| -> Result<Vec<AdviceMutation>, EventError> {
        // Operand stack: [event_id, d_lo, d_hi, n_lo, n_hi, ...]
        let get = |i: usize| process.get_stack_item(i).as_canonical_u64();
        let d = (get(2) << 32) | get(1);
        let n = (get(4) << 32) | get(3);
        let q = (n / d).wrapping_add(dq);
        let r = (n % d).wrapping_add(dr);
        let q_lo = (q & 0xffff_ffff) + if non_u32 { 1 << 32 } else { 0 };
        let values = [q >> 32, q_lo, r >> 32, r & 0xffff_ffff].map(felt);
        Ok(vec![AdviceMutation::extend_stack(values)])
    };
    let mut host = DefaultHost::default();
    host.register_handler(U64_DIV_EVENT_NAME, Arc::new(handler))
        .unwrap();
    host
}

#[test]
fn format_decimal_rejects_wrong_division_hints() {
    let r0 = Runner::new();
    let p = r0.program("    adv_push adv_push exec.text::format_decimal", 1);
    let scale = 1_000_000u64;
    let order = Felt::ORDER;
    for x in [0i64, 1, -1, 123_456_789, i64::MAX, i64::MIN, 999_999] {
        // honest: the same host type gives the reference
        let mut r = Runner {
            host: lying_host(0, 0, false),
            assembler: r0.assembler.clone(),
        };
        let out = r.run(&p, limbs_advice(x)).unwrap();
        assert_eq!(show(&out.string(out.stack(0))), ref_format_decimal(x));
        for (dq, dr, non_u32) in [
            (1, 0, false),
            (0, 1, false),
            (u64::MAX, scale, false),
            (1, scale.wrapping_neg(), false),
            (1 << 44, 0, false),
            ((1u64 << 44).wrapping_neg(), 0, false),
            (0, 1 << 32, false),
            (0, 0, true),
            // q + p: the same q * 10^6 + r modulo p (needs q_hi < 2^12 to be rejected)
            (order, 0, false),
        ] {
            if dq == order && x.unsigned_abs() / scale >= (1 << 32) - 1 {
                continue;
            }
            r.host = lying_host(dq, dr, non_u32);
            let err = r.run(&p, limbs_advice(x)).err();
            assert_eq!(
                err.as_deref(),
                Some("M2M_TEXT_BAD_HINT"),
                "x = {x}, lie ({dq}, {dr}, {non_u32})"
            );
        }
    }
}

/// Decimal texts: hand-picked and generated.
fn decimal_texts() -> Vec<String> {
    let mut v: Vec<String> = [
        "0",
        "-0",
        "00",
        "007",
        "-007.50",
        "1",
        "-1",
        "12",
        "123.45",
        "138.60",
        "0.1",
        "0.1000000",
        "0.1000000000000000000000000",
        "1.0000001",
        "1.000000",
        "1.0000000",
        "0.000001",
        "-0.000001",
        "0.0000001",
        "0.0000000",
        "-0.0000000",
        "0.000000000000000000000000000",
        "1e3",
        "1E3",
        "1e",
        "1e+",
        "1.5e-3",
        "-1.5E+3",
        "1.e3",
        ".e3",
        "e3",
        "",
        "-",
        "1.",
        ".5",
        "-.5",
        "+1",
        " 1",
        "1 ",
        "1.2.3",
        "--1",
        "1-",
        "0x10",
        "1,5",
        "١",
        "NaN",
        "Infinity",
        "9223372036854.775807",
        "-9223372036854.775807",
        "-9223372036854.775808",
        "9223372036854.775808",
        "-9223372036854.775809",
        "9223372036854.7758070",
        "9223372036854.775807000000000000000001",
        "9223372036854.77580700000000000000000",
        "9223372036855",
        "9223372036854",
        "-9223372036854",
        "10000000000000",
        "99999999999999999999999999999999",
        "0000000000000000000000000000001.5",
        "-0000000000000000000000000009223372036854.775808",
        "18446744069414.584321",
        "18446744069414584321",
        "184467440694145843210000",
        "18446744069414.5843210000",
        "36893488138829.168642",
        "9999999999999.999999",
        "9999999999999.9999999",
        "1234567890123456789",
        "123456789012345.6",
        "0.123456",
        "0.1234567",
        "0.12345670",
        "0.1234560000000",
        "5.",
        "5..0",
        "-5.-0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rng = Rng(0x5eed_d1e7);
    for _ in 0..600 {
        let mut s = String::new();
        if rng.below(3) == 0 {
            s.push('-');
        }
        let lead = if rng.below(4) == 0 {
            rng.below(4) as usize
        } else {
            0
        };
        s.push_str(&"0".repeat(lead));
        let nint = *rng.pick(&[0usize, 1, 1, 2, 3, 5, 8, 12, 13, 14, 15, 18, 20]);
        s.push_str(&rng.digits(nint));
        if rng.below(3) != 0 {
            s.push('.');
            let nfrac = *rng.pick(&[0usize, 1, 2, 3, 6, 6, 7, 9, 12, 20]);
            s.push_str(&rng.digits(nfrac));
            if rng.below(3) == 0 {
                s.push_str(&"0".repeat(rng.below(10) as usize));
            }
        }
        if rng.below(10) == 0 {
            s.push(*rng.pick(&['e', 'E']));
            s.push_str(&rng.rand_digits(0, 3));
        }
        if rng.below(15) == 0 {
            let pos = rng.below(s.len() as u64 + 1) as usize;
            s.insert(pos, *rng.pick(&['.', '-', '+', ' ', 'x', '0']));
        }
        v.push(s);
    }
    v
}

/// What the VM must give for a decimal text (parse_decimal_bytes codes).
fn vm_expected_decimal(text: &[u8]) -> Parsed {
    if vm_refuses_number(text, false) {
        return Parsed::Error(UNSUPPORTED);
    }
    match ref_parse_decimal(text) {
        Parsed::NoMatch => Parsed::Error(PARSE_FAILED),
        other => other,
    }
}

fn outcome(result: Result<Out, String>) -> Parsed {
    match result {
        Ok(out) => Parsed::Value(out.i64_at(0)),
        Err(code) => Parsed::Error(match code.as_str() {
            PARSE_FAILED => PARSE_FAILED,
            PRECISION => PRECISION,
            OVERFLOW => OVERFLOW,
            UNSUPPORTED => UNSUPPORTED,
            _ => panic!("unexpected failure {code}"),
        }),
    }
}

/// The advice of a byte range: the string "<pre><text><post>", then len and start.
fn range_advice(pre: &str, text: &str, post: &str) -> Vec<Felt> {
    let mut advice = string_advice(format!("{pre}{text}{post}").as_bytes());
    advice.push(felt(text.len() as u64));
    advice.push(felt(pre.len() as u64));
    advice
}

#[test]
fn parse_decimal_bytes_matches_the_reference() {
    let mut r = Runner::new();
    let p = r.program(
        "    exec.load adv_push adv_push movup.2 exec.text::parse_decimal_bytes",
        2,
    );
    let t = r.program(
        "    exec.load adv_push adv_push movup.2 exec.text::try_parse_decimal_bytes",
        3,
    );
    let mut counts = [0usize; 5];
    for text in decimal_texts() {
        let expected = vm_expected_decimal(text.as_bytes());
        // the reference agrees wherever the VM does not refuse (a check of the rule itself)
        if expected != Parsed::Error(UNSUPPORTED) {
            let reference = match ref_parse_decimal(text.as_bytes()) {
                Parsed::NoMatch => Parsed::Error(PARSE_FAILED),
                other => other,
            };
            assert_eq!(expected, reference);
        }
        counts[match expected {
            Parsed::Value(_) => 0,
            Parsed::Error(PARSE_FAILED) => 1,
            Parsed::Error(PRECISION) => 2,
            Parsed::Error(OVERFLOW) => 3,
            _ => 4,
        }] += 1;
        // digits around the range: nothing outside it may be read
        for (pre, post) in [
            ("", ""),
            ("7", "8"),
            ("123", "4567"),
            ("-", "e5"),
            ("..", ".5"),
        ] {
            let got = outcome(r.run(&p, range_advice(pre, &text, post)));
            assert_eq!(
                got, expected,
                "parse_decimal_bytes({text:?}) in {pre:?}..{post:?}"
            );
        }
        // the status form
        if expected != Parsed::Error(UNSUPPORTED) {
            let out = r.run(&t, range_advice("9", &text, "9")).unwrap();
            let status = out.stack(0);
            match expected {
                Parsed::Value(v) => assert_eq!((status, out.i64_at(1)), (0, v), "{text:?}"),
                Parsed::Error(PARSE_FAILED) => assert_eq!(status, 1, "{text:?}"),
                Parsed::Error(PRECISION) => assert_eq!(status, 2, "{text:?}"),
                _ => assert_eq!(status, 3, "{text:?}"),
            }
        }
    }
    println!("values, no match, precision, overflow, refused: {counts:?}");
    assert!(counts.iter().all(|&c| c >= 10), "{counts:?}");
    // a range past the end of its string
    let mut advice = string_advice(b"12");
    advice.extend([felt(2), felt(1)]);
    assert_eq!(r.run(&p, advice).err().unwrap(), "M2M_TEXT_INVALID");
}

/// JSON number tokens: hand-picked and generated (up to 20 significant digits).
fn json_number_texts() -> Vec<String> {
    let mut v: Vec<String> = [
        "0",
        "-0",
        "-0.0",
        "0.0000000",
        "01",
        "-01",
        "00",
        "1.50",
        "0.1",
        "0.000001",
        "-0.000001",
        "0.0000001",
        "-0.0000001",
        "0.00000010",
        "1e3",
        "1E-7",
        "1.5e+2",
        "123456789012345",
        "1234567890123456",
        "12345678901234.5",
        "1234567890123.45",
        "9223372036854.775807",
        "9223372036854",
        "9223372036855",
        "-9223372036855",
        "9999999999999",
        "10000000000000",
        "99999999999999.9",
        "999999999999999",
        "0.123456789012345",
        "0.1234567890123456",
        "0.000000000000001",
        "0.0000000000000001",
        "0.00000000000000000000000000000000000000000000001",
        "100000000000000000000",
        "1000000000000000000000",
        "9007199254740993",
        "0.1000000000000000000",
        "1.0000000000000000000001",
        "4.35",
        "0.3",
        "2.675",
        "1.005",
        "123.456",
        "-",
        "+1",
        ".5",
        "1.",
        "",
        "0x1",
        "1.5.",
        "--1",
        "- 1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rng = Rng(0x0015_0b1e);
    for _ in 0..800 {
        let mut s = String::new();
        if rng.below(3) == 0 {
            s.push('-');
        }
        let nint = *rng.pick(&[1usize, 1, 2, 3, 5, 8, 10, 12, 13, 14, 15, 16]);
        let int = rng.digits(nint);
        let int = if rng.below(3) == 0 {
            "0".to_string()
        } else {
            int.trim_start_matches('0').to_string()
        };
        s.push_str(if int.is_empty() { "7" } else { &int });
        if rng.below(4) != 0 {
            s.push('.');
            let nfrac = *rng.pick(&[1usize, 2, 3, 5, 6, 7, 9, 12, 14, 15, 16, 18]);
            s.push_str(&rng.digits(nfrac));
            if rng.below(4) == 0 {
                s.push_str(&"0".repeat(rng.below(6) as usize));
            }
        }
        if rng.below(20) == 0 {
            s.push_str(&format!("e{}", rng.below(30) as i64 - 15));
        }
        v.push(s);
    }
    v
}

/// What the VM must give for a JSON number token (parse_json_number_bytes codes).
fn vm_expected_json_number(text: &[u8]) -> Parsed {
    if vm_refuses_number(text, true) {
        return Parsed::Error(UNSUPPORTED);
    }
    ref_json_number(text)
}

#[test]
fn parse_json_number_bytes_matches_the_reference() {
    let mut r = Runner::new();
    let p = r.program(
        "    exec.load adv_push adv_push movup.2 exec.text::parse_json_number_bytes",
        2,
    );
    let mut refused = 0;
    let mut checked = 0;
    for text in json_number_texts() {
        let expected = vm_expected_json_number(text.as_bytes());
        if expected == Parsed::Error(UNSUPPORTED) {
            refused += 1;
        } else {
            // the refusal rule is sound: through a JS double the reference gives the same
            assert_eq!(expected, ref_json_number(text.as_bytes()), "{text:?}");
            checked += 1;
        }
        let got = outcome(r.run(&p, range_advice("1", &text, "2")));
        assert_eq!(got, expected, "parse_json_number_bytes({text:?})");
    }
    println!("json numbers: {checked} checked, {refused} refused");
    assert!(refused > 50 && checked > 300);
}

/// The 15-digit rule over many more tokens, in Rust only (no VM): wherever the VM would not
/// refuse, the decimal value of the token is what the reference reads through a double.
#[test]
fn fifteen_significant_digits_survive_a_double() {
    let mut rng = Rng(0xd0b1e);
    for _ in 0..200_000 {
        let nint = rng.below(16) as usize;
        let int = rng.digits(nint).trim_start_matches('0').to_string();
        let int = if int.is_empty() { "0".into() } else { int };
        let nfrac = rng.below(16) as usize;
        let text = if nfrac == 0 {
            int
        } else {
            format!("{int}.{}", rng.digits(nfrac))
        };
        let text = if rng.below(2) == 0 {
            format!("-{text}")
        } else {
            text
        };
        if vm_refuses_number(text.as_bytes(), true) {
            continue;
        }
        let exact = match ref_parse_decimal(text.as_bytes()) {
            Parsed::NoMatch => unreachable!(),
            other => other,
        };
        assert_eq!(ref_json_number(text.as_bytes()), exact, "{text}");
    }
}

// ===== JSON ======================================================================================

/// A compiler-like driver of the JSON scanner for a schema: for each object, each key is matched
/// against the field names (str::eq with literals), a second occurrence of a key is refused
/// (JSON.parse keeps the last one; the first may already have been coerced), the value is coerced
/// with json_try_* and the failures are asserted at the object's end, as are missing fields; an
/// unknown key fails at once. The driver logs [1, 0, 0, 0] per object, [2, i, v0, v1] per field
/// and [3, 0, 0, 0] at the end.
fn driver(r: &Runner, schema: &[(&str, Ty)]) -> TestProgram {
    driver_with(r, schema, 0, false)
}

/// The driver, with a string of length `trap` allocated right after the text (so the element
/// after the text's last word is not 0: reading past the end would see it; RAW_TRAP: raw words
/// from the advice stack after the text's), and with the asserting json_value_* procedures
/// instead of json_try_* when `asserting`.
fn driver_with(r: &Runner, schema: &[(&str, Ty)], trap: u64, asserting: bool) -> TestProgram {
    let mut body = String::new();
    for (i, (name, _)) in schema.iter().enumerate() {
        body.push_str(&literal(name));
        body.push_str(&format!("    mem_store.{}\n", 16 + i));
    }
    body.push_str(
        "    exec.load push.TRAP exec.str::new drop exec.text::json_begin drop
    exec.text::json_next_object
    while.true
        push.0.0.0.1 exec.log
        push.1 mem_store.9
",
    );
    for i in 0..schema.len() {
        body.push_str(&format!("        push.0 mem_store.{}\n", 10 + i));
    }
    body.push_str("        exec.text::json_next_key\n        while.true\n");
    let mut tail = String::new();
    for (i, (_, ty)) in schema.iter().enumerate() {
        let read = match (ty, asserting) {
            (Ty::Str, false) => "exec.text::json_try_string push.0 movdn.2",
            (Ty::Dec, false) => "exec.text::json_try_decimal",
            (Ty::Int, false) => "exec.text::json_try_integer",
            (Ty::Bool, false) => "exec.text::json_try_bool push.0 movdn.2",
            (Ty::Str, true) => "exec.text::json_value_string push.0 swap push.1",
            (Ty::Dec, true) => "exec.text::json_value_decimal push.1",
            (Ty::Int, true) => "exec.text::json_value_integer push.1",
            (Ty::Bool, true) => "exec.text::json_value_bool push.0 swap push.1",
        };
        body.push_str(&format!(
            "            dup mem_load.{name} exec.str::eq
            if.true
                drop mem_load.{seen} assertz.err=\"M2M_TEXT_UNSUPPORTED: a duplicate key\"
                push.1 mem_store.{seen}
                {read}
                mem_load.9 and mem_store.9
                push.{i} push.2 exec.log
            else
",
            name = 16 + i,
            seen = 10 + i,
        ));
        tail.push_str("            end\n");
    }
    body.push_str(
        "                drop push.0 assert.err=\"EXEC_PARSE_FAILED: a key not in the schema\"\n",
    );
    body.push_str(&tail);
    body.push_str("            exec.text::json_next_key\n        end\n");
    body.push_str("        mem_load.9 assert.err=\"EXEC_PARSE_FAILED: a value does not coerce\"\n");
    for i in 0..schema.len() {
        body.push_str(&format!(
            "        mem_load.{} assert.err=\"EXEC_PARSE_FAILED: a field is missing\"\n",
            10 + i
        ));
    }
    body.push_str(
        "        exec.text::json_next_object
    end
    exec.text::json_end
    push.0.0.0.3 exec.log",
    );
    let body = if trap == RAW_TRAP {
        body.replace("push.TRAP exec.str::new drop", "exec.load drop")
    } else {
        body.replace("TRAP", &trap.to_string())
    };
    r.program(&body, 0)
}

/// See [`driver_with`].
const RAW_TRAP: u64 = u64::MAX;

/// Texts whose length is a multiple of 4, followed in memory by words that would complete them
/// (or change the failure): the scanner must stop at the end address. (json_end also catches a
/// cursor past the end: it asserts the cursor is exactly at the end.)
#[test]
fn json_scanner_never_reads_past_the_end() {
    let mut r = Runner::new();
    type Case<'a> = (&'a [(&'a str, Ty)], &'a str, [u64; 4]);
    let cases: [Case; 7] = [
        (&[("id", Ty::Str)], r#"{"id": ""#, [34, 125, 0, 0]),
        (&[("id", Ty::Str)], r#"{"id": ""#, [92, 0, 0, 0]),
        (&[("id", Ty::Str)], r#"{"id": "abcd"#, [34, 125, 0, 0]),
        (&[("id", Ty::Str)], r#"{"id": "ab" "#, [125, 0, 0, 0]),
        (&[("n", Ty::Int)], r#"{"n": 123456"#, [55, 125, 0, 0]),
        (&[("n", Ty::Dec)], r#"{"n": 1234.5"#, [55, 125, 0, 0]),
        (&[("b", Ty::Bool)], r#"{"b": true  "#, [125, 0, 0, 0]),
    ];
    for (schema, text, words) in cases {
        assert_eq!(text.len() % 4, 0);
        let p = driver_with(&r, schema, RAW_TRAP, false);
        let mut advice = string_advice(text.as_bytes());
        advice.push(felt(1));
        advice.extend(words.map(felt));
        let got = r.run(&p, advice).err();
        assert_eq!(got.as_deref(), Some(PARSE_FAILED), "{text}");
        // with the words inside the text, the same bytes parse (or are refused)
        let mut whole = text.as_bytes().to_vec();
        whole.extend(words.iter().take_while(|&&w| w != 0).map(|&w| w as u8));
        let plain = driver(&r, schema);
        let got = run_driver(&mut r, &plain, schema, &whole);
        assert!(
            got.is_ok() || got == Err(UNSUPPORTED.to_string()),
            "{}",
            show(&whole)
        );
    }
}

/// MASM that pushes a new string with the given bytes.
fn literal(s: &str) -> String {
    let mut m = format!("    push.{} exec.str::new\n", s.len());
    for (i, b) in s.bytes().enumerate() {
        m.push_str(&format!("    dup push.{b} swap add.{} mem_store\n", 4 + i));
    }
    m
}

/// Runs the driver; the records (values in schema order) or the error code.
fn run_driver(
    r: &mut Runner,
    p: &TestProgram,
    schema: &[(&str, Ty)],
    text: &[u8],
) -> Result<Vec<Vec<Val>>, String> {
    let out = r.run(p, string_advice(text))?;
    let mut records: Vec<Vec<Option<Val>>> = Vec::new();
    let mut a = LOG;
    loop {
        let tag = out.mem(a);
        match tag {
            1 => records.push(vec![None; schema.len()]),
            2 => {
                let i = out.mem(a + 1) as usize;
                let (v0, v1) = (out.mem(a + 2), out.mem(a + 3));
                let v = match schema[i].1 {
                    Ty::Str => Val::Str(out.string(v0)),
                    Ty::Dec | Ty::Int => Val::Num(((v1 << 32) | v0) as i64),
                    Ty::Bool => Val::Bool(v0 == 1),
                };
                let slot = &mut records.last_mut().unwrap()[i];
                assert!(slot.is_none());
                *slot = Some(v);
            }
            3 => break,
            _ => panic!("bad log tag {tag} at {a}"),
        }
        a += 4;
    }
    out.assert_free_heap_is_zero();
    Ok(records
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.expect("every field")).collect())
        .collect())
}

const CATALOG: [(&str, Ty); 3] = [("id", Ty::Str), ("price", Ty::Dec), ("stock", Ty::Int)];

fn catalog_bodies() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../plans/data/api-catalog.json"
    ))
    .expect("plans/data/api-catalog.json");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn json_scanner_reads_the_api_catalog_sample() {
    let mut r = Runner::new();
    let p = driver(&r, &CATALOG);
    let bodies = catalog_bodies();
    assert_eq!(bodies.len(), 4);
    for body in &bodies {
        let expected = ref_parse_json_records(body.as_bytes(), &CATALOG).unwrap();
        assert_eq!(expected.len(), 15);
        let got = run_driver(&mut r, &p, &CATALOG, body.as_bytes()).unwrap();
        assert_eq!(got, expected);
    }
    // spot check against the text itself
    let first = run_driver(&mut r, &p, &CATALOG, bodies[0].as_bytes()).unwrap();
    assert_eq!(
        first[0],
        vec![
            Val::Str(b"item-0-0".to_vec()),
            Val::Num(138_600_000),
            Val::Num(26_000_000)
        ]
    );
    assert_eq!(first[12][1], Val::Num(187_000_000));
}

const MIXED: [(&str, Ty); 4] = [
    ("id", Ty::Str),
    ("price", Ty::Dec),
    ("n", Ty::Int),
    ("ok", Ty::Bool),
];

/// Hand-picked texts for the MIXED schema: (text, expected VM result: None = the reference's
/// result, Some(code) = that failure, which must be M2M_TEXT_UNSUPPORTED where the reference
/// differs).
fn json_cases() -> Vec<(String, Option<&'static str>)> {
    let ok = r#"{"id": "a", "price": "1.5", "n": 2, "ok": true}"#;
    let mut v: Vec<(String, Option<&'static str>)> = vec![
        (ok.into(), None),
        (format!("[{ok}]"), None),
        (format!("[{ok},{ok}]"), None),
        (format!(" \t\r\n[ \n{ok} ,\r\n {ok}\t] \n"), None),
        (
            r#"[{"ok":false,"n":"3","price":-0.25,"id":""}]"#.into(),
            None,
        ),
        (
            r#"{ "id" : "x y, \"z\"" , "price" : 1 , "n" : 1 , "ok" : true }"#.into(),
            Some(UNSUPPORTED),
        ),
        ("[]".into(), None),
        (" [ ] ".into(), None),
        ("{}".into(), Some(PARSE_FAILED)),
        ("[{}]".into(), Some(PARSE_FAILED)),
        ("".into(), Some(PARSE_FAILED)),
        (" ".into(), Some(PARSE_FAILED)),
        ("[".into(), Some(PARSE_FAILED)),
        ("[{".into(), Some(PARSE_FAILED)),
        (format!("[{ok}"), Some(PARSE_FAILED)),
        (format!("[{ok},]"), Some(PARSE_FAILED)),
        (format!("[,{ok}]"), Some(PARSE_FAILED)),
        (format!("[{ok}]]"), Some(PARSE_FAILED)),
        (format!("[{ok}] x"), Some(PARSE_FAILED)),
        (format!("{ok}{ok}"), Some(PARSE_FAILED)),
        (format!("[{ok} {ok}]"), Some(PARSE_FAILED)),
        ("5".into(), Some(PARSE_FAILED)),
        ("\"x\"".into(), Some(PARSE_FAILED)),
        ("null".into(), Some(PARSE_FAILED)),
        ("[1]".into(), Some(PARSE_FAILED)),
        (format!("[{ok}, 1]"), Some(PARSE_FAILED)),
        (format!("[{ok}, [1]]"), Some(PARSE_FAILED)),
        ("[null]".into(), Some(PARSE_FAILED)),
        ("\u{feff}[]".into(), Some(PARSE_FAILED)),
        (
            r#"{"id": "a", "price": "1.5", "n": 2, "ok": true,}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a" "price": "1.5", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.5", "n": 2, "ok": true"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.5", "n": 2, "ok": tru}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.5", "n": 2, "ok": True}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": 01.5, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": 1.5.1, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": -, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": +1, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": .5, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": a, "price": "1", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{id: "a", "price": "1", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            "{\"id\": \"a\tb\", \"price\": \"1\", \"n\": 2, \"ok\": true}".into(),
            Some(PARSE_FAILED),
        ),
        (
            "{\"id\": \"a\", \"price\": \"1\", \"n\": 2, \"ok\": true, \"x\": 1}".into(),
            Some(PARSE_FAILED),
        ),
        (
            "{\"id\": \"a\", \"price\": \"1\", \"n\": 2}".into(),
            Some(PARSE_FAILED),
        ),
        // coercion failures (valid JSON)
        (
            r#"{"id": 1, "price": "1.5", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.5x", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.5 ", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.0000001", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": 1.0000001, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.00000010", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1.1000000", "n": 2, "ok": true}"#.into(),
            None,
        ),
        (
            r#"{"id": "a", "price": "9223372036855", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": 9223372036855, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "-9223372036854.775808", "n": 2, "ok": true}"#.into(),
            None,
        ),
        (
            r#"{"id": "a", "price": true, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": null, "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1", "n": 2.5, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1", "n": "2.50", "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1", "n": "2.000", "ok": true}"#.into(),
            None,
        ),
        (
            r#"{"id": "a", "price": "1", "n": 2.0, "ok": true}"#.into(),
            None,
        ),
        (
            r#"{"id": "a", "price": "1", "n": 2, "ok": "true"}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1", "n": 2, "ok": 1}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": null, "price": "1", "n": 2, "ok": true}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"[{"id": "a", "price": "1", "n": 2, "ok": true}, {"id": "b", "price": "x", "n": 2, "ok": true}]"#.into(),
            Some(PARSE_FAILED),
        ),
        // refusals
        (
            r#"{"id": "a\"", "price": "1", "n": 2, "ok": true}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"{"i\u0064": "a", "price": "1", "n": 2, "ok": true}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"{"id": "a", "price": "1", "n": 2, "ok": true, "x": [1]}"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": "1", "n": 2, "ok": [true]}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"[{"id": "a", "price": "1", "n": 2, "ok": true}, [{"id": "b"}]]"#.into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "a", "price": {"v": 1}, "n": 2, "ok": true}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"{"id": "a", "price": 1e2, "n": 2, "ok": true}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"{"id": "a", "price": "1e2", "n": 2, "ok": true}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"{"id": "a", "price": 1234567890.1234567, "n": 2, "ok": true}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"{"id": "a", "price": "x", "n": 2, "ok": true, "price": "1"}"#.into(),
            Some(UNSUPPORTED),
        ),
        (
            r#"{"id": "a", "price": "1", "n": 2, "ok": true, "id": "b"}"#.into(),
            Some(UNSUPPORTED),
        ),
        // the reference reads these exactly as the VM does
        (
            r#"{"id": "é😀", "price": 1234567890.12345, "n": 123456789012345, "ok": false}"#
                .into(),
            Some(PARSE_FAILED),
        ),
        (
            r#"{"id": "é😀", "price": 123456789.012345, "n": -1234567, "ok": false}"#.into(),
            None,
        ),
        (
            r#"{"id": "é😀", "price": -0, "n": -0.0, "ok": false}"#.into(),
            None,
        ),
        (
            r#"{"id": "a", "price": 0.1000000000000000000, "n": 1, "ok": false}"#.into(),
            None,
        ),
    ];
    // a key or value string that runs into the end of the text
    for tail in ["", "d", "de", "def"] {
        let digits = "9".repeat(tail.len());
        let spaces = " ".repeat(tail.len());
        v.push((format!(r#"{{"id": "abc{tail}"#), Some(PARSE_FAILED)));
        v.push((
            format!(r#"{{"id": "a", "price": 1{digits}"#),
            Some(PARSE_FAILED),
        ));
        v.push((
            format!(r#"{{"id": "a", "price": "1{digits}"#),
            Some(PARSE_FAILED),
        ));
        v.push((
            format!(r#"{{"id": "a", "price": "1", "n": 2, "ok": true}}{spaces}"#),
            None,
        ));
        v.push((format!(r#"[ {{"id{tail}"#), Some(PARSE_FAILED)));
    }
    v.push((
        "{\"id\": \"a\u{0}b\", \"price\": \"1\", \"n\": 2, \"ok\": true}".into(),
        Some(PARSE_FAILED),
    ));
    v.push((
        "{\"id\": \"a\u{1f}b\", \"price\": \"1\", \"n\": 2, \"ok\": true}".into(),
        Some(PARSE_FAILED),
    ));
    v.push((
        "{\"id\": \"a\u{7f}\u{80}b\", \"price\": \"1\", \"n\": 2, \"ok\": true}".into(),
        None,
    ));
    v.push((
        "{\"i\u{1f}d\": \"a\", \"price\": \"1\", \"n\": 2, \"ok\": true}".into(),
        Some(PARSE_FAILED),
    ));
    v.push((r#"{"id": "abc"#.into(), Some(PARSE_FAILED)));
    v.push((r#"{"id"#.into(), Some(PARSE_FAILED)));
    v.push((r#"{"id": "a", "price": "1.5"#.into(), Some(PARSE_FAILED)));
    v.push((r#"{"id": "a", "price": 1.5"#.into(), Some(PARSE_FAILED)));
    v.push((r#"{"id": "a", "price": tr"#.into(), Some(PARSE_FAILED)));
    v
}

/// The VM result is the reference's, or a refusal.
fn assert_sound(got: &Result<Vec<Vec<Val>>, String>, reference: &Result<Vec<Vec<Val>>, String>) {
    match got {
        Err(code) if code == UNSUPPORTED => {}
        _ => assert_eq!(got, reference),
    }
}

#[test]
fn json_scanner_matches_the_reference_on_hand_picked_texts() {
    let mut r = Runner::new();
    // after the text: nothing, a '"', a '1', a space (as the next allocation's length)
    let programs: Vec<TestProgram> = [0, 34, 49, 32]
        .into_iter()
        .map(|trap| driver_with(&r, &MIXED, trap, false))
        .collect();
    let asserting = driver_with(&r, &MIXED, 34, true);
    let mut residues = [0; 4];
    for (text, expected) in json_cases() {
        residues[text.len() % 4] += 1;
        let reference = ref_parse_json_records(text.as_bytes(), &MIXED);
        let got = run_driver(&mut r, &programs[0], &MIXED, text.as_bytes());
        for p in &programs[1..] {
            assert_eq!(
                run_driver(&mut r, p, &MIXED, text.as_bytes()),
                got,
                "{text}"
            );
        }
        // the asserting procedures give the same on texts without duplicate keys
        if !text.contains(r#""price": "x""#) && !text.contains(r#""id": "b"}"#) {
            assert_eq!(
                run_driver(&mut r, &asserting, &MIXED, text.as_bytes()),
                got,
                "{text}"
            );
        }
        match expected {
            None => {
                assert!(reference.is_ok(), "{text}: {reference:?}");
                assert_eq!(got, reference, "{text}");
            }
            Some(code) => {
                assert_eq!(got, Err(code.to_string()), "{text}");
                if code != UNSUPPORTED {
                    assert_eq!(reference, Err(code.to_string()), "{text}");
                }
            }
        }
        assert_sound(&got, &reference);
    }
    assert!(residues.iter().all(|&n| n >= 5), "{residues:?}");
}

/// Numbers on both sides of the scanner's fast path (at most 9 integer digits, 1..6 fraction
/// digits, then '"' or ',' or '}') and its fallback, as JSON tokens and as decimal texts in
/// strings, in the middle and at the end of an object, at every length residue (the texts whose
/// length is a multiple of 4 are copied by json_begin).
#[test]
fn json_numbers_match_the_reference_on_and_off_the_fast_path() {
    let mut r = Runner::new();
    let p = driver_with(&r, &MIXED, 49, false);
    let numbers = [
        "0",
        "-0",
        "7",
        "26",
        "-12",
        "123456789",
        "-123456789",
        "1234567890",
        "0.5",
        "-0.5",
        "0.000001",
        "-0.000001",
        "1.0",
        "1.000000",
        "1.0000000",
        "1.1234567",
        "1.1234560",
        "999999999.999999",
        "-999999999.999999",
        "9999999999.999999",
        "3.14159",
        "00",
        "00.5",
        "01",
        "-01",
        "-",
        "-.5",
        ".5",
        "1.",
        "1.e2",
        "12e3",
        "1E3",
        "1.5e2",
        "1.5E-2",
        "--1",
        "1-",
        "1.2.3",
        "0x1",
        "9007199254740993",
        "123456789012345",
        "1234567890123456",
        "",
        " 5",
        "5 ",
        "+5",
    ];
    let mut residues = [0; 4];
    for num in numbers {
        for quoted in [false, true] {
            let v = if quoted {
                format!("\"{num}\"")
            } else {
                num.to_string()
            };
            for pad in 0..4 {
                let sp = " ".repeat(pad);
                for text in [
                    format!(r#"{{"id": "a", "price": {v}, "n": 1, "ok": true}}{sp}"#),
                    format!(r#"[{{"id": "a", "ok": false, "n": {v}{sp}, "price": {v}}}]"#),
                    format!(r#"{{"id": "a", "n": 2, "ok": true, "price": {v}{sp}}}"#),
                ] {
                    residues[text.len() % 4] += 1;
                    let reference = ref_parse_json_records(text.as_bytes(), &MIXED);
                    let got = run_driver(&mut r, &p, &MIXED, text.as_bytes());
                    if !vm_refuses_number(num.as_bytes(), !quoted) {
                        assert_eq!(got, reference, "{text}");
                    }
                    assert_sound(&got, &reference);
                }
            }
        }
    }
    assert!(residues.iter().all(|&n| n >= 50), "{residues:?}");
}

/// Random valid texts for MIXED: records in random key order and spacing, values of every kind
/// (including wrong types and failing numbers), sometimes missing or extra keys.
fn random_json(rng: &mut Rng, plain: bool) -> String {
    let ws = |rng: &mut Rng| -> String {
        (0..rng.below(3))
            .map(|_| *rng.pick(&[' ', ' ', '\n', '\t', '\r']))
            .collect()
    };
    let n = rng.below(4);
    let mut items = Vec::new();
    for _ in 0..n {
        let mut members: Vec<(String, String)> = Vec::new();
        let id = {
            let len = rng.below(12);
            let s: String = (0..len)
                .map(|_| *rng.pick(&['a', 'Z', '0', ' ', ',', '-', 'é', '😀', '.', ':', '{', ']']))
                .collect();
            format!("\"{s}\"")
        };
        let price = match rng.below(8) {
            0 => format!("\"{}\"", rng.rand_digits(1, 14)),
            1 => format!("\"-{}.{}\"", rng.rand_digits(1, 8), rng.rand_digits(1, 8)),
            2 => format!("{}.{}", 1 + rng.below(999_999), rng.rand_digits(1, 7)),
            3 => format!("-{}", rng.below(1_000_000)),
            4 => "\"abc\"".into(),
            5 => (*rng.pick(&["true", "null", "\"\"", "\"1.\"", "0"])).into(),
            6 if !plain => (*rng.pick(&["1e5", "\"2E3\"", "0.12345678901234567", "[1]"])).into(),
            _ => format!("\"{}.{}\"", rng.below(100_000), rng.digits(2)),
        };
        let n_value = match rng.below(6) {
            0 => format!("{}", rng.below(100_000)),
            1 => format!("\"{}.000\"", rng.below(100)),
            2 => format!("{}.5", rng.below(100)),
            3 => "\"7\"".into(),
            4 => "-0".into(),
            _ => format!("{}", rng.below(50)),
        };
        let ok = (*rng.pick(&["true", "false", "true", "\"true\"", "0"])).to_string();
        members.push(("id".into(), id));
        members.push(("price".into(), price));
        members.push(("n".into(), n_value));
        members.push(("ok".into(), ok));
        if rng.below(10) == 0 {
            members.remove(rng.below(4) as usize);
        }
        if rng.below(10) == 0 {
            members.push(("extra".into(), "1".into()));
        }
        if !plain && rng.below(10) == 0 {
            members.push(("price".into(), "\"2\"".into()));
        }
        for i in (1..members.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            members.swap(i, j);
        }
        let body: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}\"{k}\"{}:{}{v}{}", ws(rng), ws(rng), ws(rng), ws(rng)))
            .collect();
        items.push(format!("{}{{{}}}{}", ws(rng), body.join(","), ws(rng)));
    }
    if n == 1 && rng.below(2) == 0 {
        format!("{}{}{}", ws(rng), items[0], ws(rng))
    } else {
        format!("{}[{}]{}", ws(rng), items.join(","), ws(rng))
    }
}

#[test]
fn json_scanner_matches_the_reference_on_random_texts() {
    let mut r = Runner::new();
    let p = driver_with(&r, &MIXED, 34, false);
    let asserting = driver_with(&r, &MIXED, 49, true);
    let mut rng = Rng(0x0015_0a7e);
    let (mut ok, mut failed) = (0, 0);
    for round in 0..800 {
        let plain = round % 2 == 0;
        let text = random_json(&mut rng, plain);
        let reference = ref_parse_json_records(text.as_bytes(), &MIXED);
        let got = run_driver(&mut r, &p, &MIXED, text.as_bytes());
        if plain {
            assert_eq!(got, reference, "{text}");
            let got = run_driver(&mut r, &asserting, &MIXED, text.as_bytes());
            assert_eq!(got, reference, "{text}");
        } else {
            assert_sound(&got, &reference);
        }
        if reference.is_ok() {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    println!("random JSON: {ok} parsed, {failed} failed in the reference");
    assert!(ok > 160 && failed > 160);
}

#[test]
fn json_scanner_is_sound_on_mutated_texts() {
    let mut r = Runner::new();
    let p = driver_with(&r, &MIXED, 34, false);
    let p_catalog = driver_with(&r, &CATALOG, 49, false);
    let mut rng = Rng(0x0bad_f00d);
    let alphabet: &[u8] = "{}[],:\" \n0123456789.-+eEtrufalsn\\xé".as_bytes();
    let mut refused = 0;
    let bodies = catalog_bodies();
    for round in 0..1500 {
        let catalog = round % 3 == 0;
        let mut text = if catalog {
            bodies[round % 4][..200 + rng.below(200) as usize].to_string() + "]"
        } else {
            random_json(&mut rng, true)
        }
        .into_bytes();
        for _ in 0..1 + rng.below(2) {
            let pos = rng.below(text.len() as u64 + 1) as usize;
            match rng.below(3) {
                0 if pos < text.len() => {
                    text.remove(pos);
                }
                1 if pos < text.len() => text[pos] = *rng.pick(alphabet),
                _ => text.insert(pos, *rng.pick(alphabet)),
            }
        }
        let (schema, prog) = if catalog {
            (&CATALOG[..], &p_catalog)
        } else {
            (&MIXED[..], &p)
        };
        let reference = ref_parse_json_records(&text, schema);
        let got = run_driver(&mut r, prog, schema, &text);
        if got == Err(UNSUPPORTED.to_string()) {
            refused += 1;
        }
        assert_sound(&got, &reference);
    }
    println!("mutated JSON: {refused} refused");
}

// ===== CSV =======================================================================================

fn csv_strings() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "",
        "a",
        "abc",
        "abcd",
        "abcde",
        "item-0-0",
        "hello world",
        "a,b",
        ",",
        "\"",
        "\"\"",
        "say \"hi\"",
        "line\nbreak",
        "cr\rhere",
        "crlf\r\n",
        "\"quoted, with comma\"",
        "end\"",
        "é😀,x",
        "tab\there",
        "-+*/;:<=>?@[]{}|~",
        "0123456789012345678901234567890",
        "\"a\"\"b\"",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let mut rng = Rng(0xc5f);
    for _ in 0..200 {
        let n = rng.below(30) as usize;
        v.push(
            (0..n)
                .map(|_| *rng.pick(b"ab ,\"\n\r-.0\x7f\x80\xff\x09\x2c\x22"))
                .collect(),
        );
    }
    v
}

#[test]
fn csv_field_matches_the_reference() {
    let mut r = Runner::new();
    let p = r.program("    exec.load dup exec.text::csv_field", 2);
    for s in csv_strings() {
        let out = r.run(&p, string_advice(&s)).unwrap();
        let (field, input) = (out.stack(0), out.stack(1));
        let expected = ref_csv_field(&s);
        assert_eq!(out.string(field), expected, "csv_field({})", show(&s));
        // the same string when nothing is quoted
        assert_eq!(field == input, expected == s, "{}", show(&s));
        assert_eq!(out.string(input), s);
        out.assert_free_heap_is_zero();
    }
}

#[test]
fn builder_appends_every_piece_kind() {
    let mut r = Runner::new();
    // builder: "x" + csv(s) + "," + decimal(x) + bool + s, for strings s and numbers x
    let p = r.program(
        "    exec.load adv_push adv_push
    # => [lo, hi, s]
    exec.text::builder_start
    push.120 exec.text::builder_append_byte
    dup.2 exec.text::builder_append_csv_field
    push.44 exec.text::builder_append_byte
    exec.text::builder_append_decimal
    dup mem_load neq.0 exec.text::builder_append_bool
    push.0 exec.text::builder_append_bool
    exec.text::builder_append
    exec.text::builder_finish",
        1,
    );
    let mut rng = Rng(0xb1d);
    let strings = csv_strings();
    for (k, s) in strings.iter().enumerate() {
        let x = match k % 3 {
            0 => rng.next() as i64,
            1 => (rng.next() as i64) >> 30,
            _ => format_cases()[k % 100],
        };
        let mut advice = string_advice(s);
        advice.extend(limbs_advice(x));
        let out = r.run(&p, advice).unwrap();
        let mut expected = b"x".to_vec();
        expected.extend(ref_csv_field(s));
        expected.push(b',');
        expected.extend(ref_format_decimal(x).bytes());
        expected.extend(if s.is_empty() { &b"false"[..] } else { b"true" });
        expected.extend(b"false");
        expected.extend(s);
        let ptr = out.stack(0);
        assert_eq!(show(&out.string(ptr)), show(&expected));
        assert_eq!(
            out.mem(0),
            ptr + 4 + 4 * (expected.len() as u64).div_ceil(4)
        );
        out.assert_free_heap_is_zero();
    }
}

#[test]
fn builder_refuses_allocation_while_active() {
    let mut r = Runner::new();
    let p = r.program(
        "    exec.text::builder_start
    push.1 exec.str::alloc drop
    push.65 exec.text::builder_append_byte",
        0,
    );
    assert_eq!(r.run(&p, vec![]).err().unwrap(), "M2M_TEXT_INVALID");
    let p = r.program(
        "    exec.text::builder_start exec.text::builder_finish
    push.65 exec.text::builder_append_byte",
        1,
    );
    assert_eq!(r.run(&p, vec![]).err().unwrap(), "M2M_TEXT_INVALID");
    let p = r.program(
        "    exec.text::builder_start push.256 exec.text::builder_append_byte",
        0,
    );
    assert_eq!(r.run(&p, vec![]).err().unwrap(), "M2M_TEXT_INVALID");
}

/// `serialize (csv)` of records as a compiler would emit it: the header (sorted keys through
/// csv_field), then per record the values (strings through csv_field, numbers formatted,
/// booleans), ',' between values and '\n' between lines, all into one builder.
#[test]
fn serialize_csv_as_a_compiler_would() {
    let mut r = Runner::new();
    let mut rng = Rng(0xc5f2);
    let bodies = catalog_bodies();
    let records = ref_parse_json_records(bodies[1].as_bytes(), &CATALOG).unwrap();
    let mut records: Vec<Vec<Val>> = records;
    records.push(vec![
        Val::Str(b"needs \"quotes\", yes".to_vec()),
        Val::Num(-1),
        Val::Num(i64::MIN),
    ]);
    for _ in 0..5 {
        records.push(vec![
            Val::Str(format!("r{}", rng.below(1000)).into_bytes()),
            Val::Num(rng.next() as i64 >> 8),
            Val::Num((rng.below(1000) * 1_000_000) as i64),
        ]);
    }
    // program: load every id string up front (their pointers go to mem[LOG..]), then build
    let mut body = String::from(
        "    adv_push dup neq.0
    while.true
        exec.load mem_load.8 dup add.1 mem_store.8 mem_store
        sub.1 dup neq.0
    end
    drop
    push.LOG_START mem_store.8
    exec.text::builder_start
",
    );
    body = body.replace("LOG_START", &LOG.to_string());
    body.push_str(&literal_bytes_builder(b"id,price,stock"));
    body.push_str(
        "    adv_push dup neq.0
    while.true
        sub.1
        push.10 exec.text::builder_append_byte
        mem_load.8 dup add.1 mem_store.8 mem_load exec.text::builder_append_csv_field
        push.44 exec.text::builder_append_byte
        adv_push adv_push exec.text::builder_append_decimal
        push.44 exec.text::builder_append_byte
        adv_push adv_push exec.text::builder_append_decimal
        dup neq.0
    end
    drop
    exec.text::builder_finish",
    );
    let p = r.program(&body, 1);
    let mut advice = vec![felt(records.len() as u64)];
    for rec in &records {
        let Val::Str(s) = &rec[0] else { unreachable!() };
        advice.extend(string_advice(s));
    }
    advice.push(felt(records.len() as u64));
    for rec in &records {
        for v in &rec[1..] {
            let Val::Num(x) = v else { unreachable!() };
            advice.extend(limbs_advice(*x));
        }
    }
    let out = r.run(&p, advice).unwrap();
    let expected = ref_format_csv(&["id", "price", "stock"], &records);
    assert_eq!(show(&out.string(out.stack(0))), show(&expected));
    out.assert_free_heap_is_zero();
}

/// MASM appending literal bytes to the active builder.
fn literal_bytes_builder(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("    push.{b} exec.text::builder_append_byte\n"))
        .collect()
}

// ===== CYCLES ====================================================================================

fn trace_len(p: &TestProgram, advice: Vec<Felt>) -> usize {
    let processor = FastProcessor::new_with_options(
        StackInputs::new(&[]).unwrap(),
        AdviceInputs::default().with_stack(advice),
        options(),
    )
    .unwrap();
    let inputs = processor
        .execute_trace_inputs_sync(&p.program, &mut host())
        .unwrap();
    miden_vm::trace::build_trace(inputs)
        .unwrap()
        .trace_len_summary()
        .main_trace_len()
}

/// Cycles of `op` (a body fragment taking `inputs` elements and leaving `outputs`) on the same
/// advice: the program with it minus the program that drops the inputs and pushes zeros instead
/// (those inputs + outputs cycles are added back).
fn op_cycles(
    r: &Runner,
    setup: &str,
    op: &str,
    (inputs, outputs): (usize, usize),
    advice: Vec<Felt>,
) -> usize {
    let with = r.program(&format!("{setup}\n{op}"), outputs);
    let stub = format!(
        "{}{}",
        "    drop\n".repeat(inputs),
        "    push.0\n".repeat(outputs)
    );
    let without = r.program(&format!("{setup}\n{stub}"), outputs);
    trace_len(&with, advice.clone()) + inputs + outputs - trace_len(&without, advice)
}

/// Prints the cost table (`cargo test ... --test text -- --nocapture cycles`) and guards it.
#[test]
fn cycles() {
    let r = Runner::new();
    println!("operation                                  cycles");
    // format_decimal
    let mut fmt = Vec::new();
    for x in [0i64, 1_500_000, 138_600_000, -1, 123_456_789_012, i64::MIN] {
        let c = op_cycles(
            &r,
            "    adv_push adv_push",
            "    exec.text::format_decimal",
            (2, 1),
            limbs_advice(x),
        );
        println!("format_decimal({:<22}) {c:>10}", ref_format_decimal(x));
        fmt.push(c);
    }
    // parse_decimal_bytes: per digit
    let mut per = Vec::new();
    for text in ["1", "138.60", "123456789.123456", "9223372036854.775807"] {
        let c = op_cycles(
            &r,
            "    exec.load adv_push adv_push movup.2",
            "    exec.text::parse_decimal_bytes",
            (3, 2),
            range_advice("", text, ""),
        );
        println!("parse_decimal_bytes({text:<22}) {c:>6}");
        per.push((text.len(), c));
    }
    let slope = (per[3].1 - per[0].1) as f64 / (per[3].0 - per[0].0) as f64;
    println!("parse_decimal_bytes: {slope:.1} cycles per byte");
    // csv_field
    for s in [
        "item-0-12",
        "hello world, again",
        "0123456789012345678901234567890123456789",
    ] {
        let c = op_cycles(
            &r,
            "    exec.load",
            "    exec.text::csv_field",
            (1, 1),
            string_advice(s.as_bytes()),
        );
        println!("csv_field({s:?}) {c:>6}");
    }
    // builder appends (the builder started on top of the loaded string)
    let mut per_word = Vec::new();
    for (op, ins) in [
        ("builder_append_csv_field", 1),
        ("builder_append", 1),
        ("builder_append_decimal", 2),
        ("builder_append_byte", 1),
    ] {
        let mut row = Vec::new();
        for s in [
            "item-0-12",
            "0123456789012345678901234567890123456789",
            "a b, c",
        ] {
            let (setup, advice) = match op {
                "builder_append_decimal" => (
                    "    adv_push adv_push exec.text::builder_start",
                    limbs_advice(138_600_000),
                ),
                "builder_append_byte" => ("    push.44 exec.text::builder_start", vec![]),
                _ => (
                    "    exec.load exec.text::builder_start",
                    string_advice(s.as_bytes()),
                ),
            };
            let c = op_cycles(&r, setup, &format!("    exec.text::{op}"), (ins, 0), advice);
            row.push(c);
        }
        println!("{op:<28} item-0-12 / 40 digits / \"a b, c\": {row:?}");
        per_word.push(row);
    }
    let csv_word = (per_word[0][1] - per_word[0][0]) as f64 / 7.0;
    let copy_word = (per_word[1][1] - per_word[1][0]) as f64 / 7.0;
    println!("builder_append_csv_field: {csv_word:.1} cycles per 4 bytes; builder_append: {copy_word:.1}");
    assert!(csv_word < 80.0 && copy_word < 45.0);
    // the JSON driver over the catalog bodies
    let p = driver(&r, &CATALOG);
    let empty = driver(&r, &CATALOG);
    let base = trace_len(&empty, string_advice(b"[]"));
    for body in catalog_bodies().iter().take(1) {
        let c = trace_len(&p, string_advice(body.as_bytes())) - base;
        let bytes = body.len();
        println!(
            "JSON catalog body ({bytes} bytes, 15 records, 45 values): {c} cycles, {:.1} per byte, {:.0} per value",
            c as f64 / bytes as f64,
            c as f64 / 45.0
        );
        assert!(c < 90 * bytes, "{c} cycles for {bytes} bytes");
    }
    // the scanner alone, driven with the catalog's known key order (no key matching)
    let scan = r.program(
        "    exec.load exec.text::json_begin drop
    exec.text::json_next_object
    while.true
        exec.text::json_next_key drop drop exec.text::json_value_string drop
        exec.text::json_next_key drop drop exec.text::json_value_decimal drop drop
        exec.text::json_next_key drop drop exec.text::json_value_integer drop drop
        exec.text::json_next_key drop
        exec.text::json_next_object
    end
    exec.text::json_end",
        0,
    );
    let body = &catalog_bodies()[0];
    let c =
        trace_len(&scan, string_advice(body.as_bytes())) - trace_len(&scan, string_advice(b"[]"));
    println!(
        "JSON catalog body, scanner only: {c} cycles, {:.1} per byte, {:.0} per record",
        c as f64 / body.len() as f64,
        c as f64 / 15.0
    );
    assert!(c < 75 * body.len(), "{c}");
    for (what, op, k) in [
        (
            "json_next_key \"price\"",
            "exec.text::json_next_key drop drop",
            0,
        ),
        (
            "json_value_string \"item-0-10\"",
            "exec.text::json_value_string drop",
            1,
        ),
        (
            "json_value_decimal \"138.60\"",
            "exec.text::json_value_decimal drop drop",
            2,
        ),
        (
            "json_value_integer 26",
            "exec.text::json_value_integer drop drop",
            3,
        ),
        ("json_next_key (end)", "exec.text::json_next_key drop", 4),
    ] {
        let text = [
            r#"{"price": 1}"#,
            r#"{"id": "item-0-10"}"#,
            r#"{"p": "138.60"}"#,
            r#"{"s": 26}"#,
            r#"{}"#,
        ][k];
        let pre = if k == 0 || k == 4 {
            ""
        } else {
            "exec.text::json_next_key drop drop"
        };
        let c = op_cycles(
            &r,
            &format!(
                "    exec.load exec.text::json_begin drop exec.text::json_next_object drop {pre}"
            ),
            &format!("    {op}"),
            (0, 0),
            string_advice(text.as_bytes()),
        );
        println!("{what:<40} {c:>6}");
    }
    assert!(fmt.iter().all(|&c| c < 700), "{fmt:?}");
    assert!(slope < 40.0, "{slope}");
}

// ===== PROOF =====================================================================================

#[test]
fn prove_and_verify_a_text_program() {
    let r = Runner::new();
    let source = format!(
        "use m2m::plan::str
use m2m::plan::text
begin
    push.{HEAP} mem_store.0
{json}    exec.text::json_begin drop
    exec.text::json_next_object drop
    exec.text::json_next_key drop drop
    exec.text::json_value_decimal
    # => [lo, hi]
    dup.1 dup.1 exec.text::format_decimal exec.text::csv_field mem_load
    # => [n, lo, hi]
    exec.text::json_next_key drop drop
    exec.text::json_value_bool
    exec.text::json_next_key exec.text::json_next_object
    exec.text::json_end
    # => [0, 0, flag, n, lo, hi]
    drop drop
    movup.4 drop movup.4 drop movup.4 drop movup.4 drop
end
",
        json = literal(r#" {"price": 1.25, "ok": true} "#)
    );
    let program = r
        .assembler
        .clone()
        .assemble_program(source.as_str())
        .unwrap();
    let (outputs, proof) = miden_vm::prove_sync(
        &program,
        StackInputs::new(&[]).unwrap(),
        AdviceInputs::default(),
        &mut host(),
        options(),
        ProvingOptions::new(m2m_plan::PROOF_HASH),
    )
    .unwrap();
    let top: Vec<u64> = outputs
        .iter()
        .take(4)
        .map(|f| f.as_canonical_u64())
        .collect();
    assert_eq!(top, vec![1, 4, 1_250_000, 0]);
    let outputs: Vec<Felt> = outputs.iter().copied().collect();
    m2m_plan::verify(program.hash(), &[], &outputs, &proof.to_bytes()).unwrap();
}
