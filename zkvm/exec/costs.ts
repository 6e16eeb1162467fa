/**
 * Cycle costs of the reference executor. A cycle is an abstract unit: every backend meters the
 * same counts so `maxCycles` means the same everywhere. See COSTS.md for the table and rationale.
 */
export const COST = {
  /** Reading and type-checking one input record, plus per field. */
  recordRead: 8,
  fieldRead: 2,
  /** SHA-256 compression of one 64-byte block (Merkle leaves of data and output). */
  hashBlock: 64,
  /** Expression nodes. */
  leaf: 1,
  arith: 1,
  mul: 3,
  div: 8,
  compare: 1,
  logic: 1,
  stringOp: 2,
  /** Extra per 8 bytes of string touched by a string operation, parse or serialize. */
  per8Bytes: 1,
  /** Per record a step visits, and per field it writes. */
  record: 1,
  fieldWrite: 1,
  /** Per record per aggregation; per group lookup; per comparison when sorting. */
  aggregate: 2,
  groupLookup: 4,
  sortCompare: 2,
  loopIteration: 2,
  branch: 1,
  /** Per value parsed from or serialised to text. */
  textValue: 4,
} as const;

/** Blocks SHA-256 processes for a message of `bytes` (with padding). */
export const sha256Blocks = (bytes: number): number => Math.floor((bytes + 8) / 64) + 1;

/** Comparisons charged for sorting n items: n * ceil(log2 n). */
export const sortComparisons = (n: number): number => (n < 2 ? 0 : n * Math.ceil(Math.log2(n)));
