import type { ProgramMetadata } from './metadata.js';

/**
 * Programs trusted as part of this package (the embedded default registry): the Miden compliance
 * programs of guest/m2m-stark 0.1.0 (ids are the MAST roots `m2m-prover info` reports) and the
 * plan compiler 0.2.0 with its runtime.
 * test/integration/registry-programs.test.ts fails when the Rust programs drift from these ids,
 * so a changed program can never be trusted silently: it needs a new entry (and version).
 */
const common = {
  backend: 'miden',
  version: '0.1.0',
  releaseDate: '2026-11-21',
  deprecated: false,
  minCompatibleVersion: '0.1.0',
} as const;

export const DEFAULT_PROGRAMS: readonly ProgramMetadata[] = [
  {
    ...common,
    programId: 'poseidon2:00d7911c2e188a568808a6b8666f154d86ff3c21d989c0c841f691b4983e793b',
    name: 'compliance/aml.threshold',
    features: ['compliance', 'aml.threshold'],
  },
  {
    ...common,
    programId: 'poseidon2:be4a6588592f94e09e2084e47a48c5aff0f9ac78649e9b056d2519c46ce62ba2',
    name: 'compliance/order_total.cap',
    features: ['compliance', 'order_total.cap'],
  },
  {
    ...common,
    programId: 'poseidon2:264cd3b6db609919679a52e337c08e0544e47e1f5915d18bfdfe974721445a7d',
    name: 'compliance/batch',
    features: ['compliance', 'aml.threshold', 'order_total.cap', 'batch'],
  },
  {
    ...common,
    // Not a single program: the plan compiler 0.2.0 with its MASM runtime (fixed, str, data,
    // text). Every plan compiles to its own program, which the verifier recompiles; see
    // zkvm/plan-proof/native.ts planProgramId and test/integration/registry-programs.test.ts.
    // 0.2.0 added parse (json), serialize (csv), toString and toNumber; 0.1.0 refused them.
    programId: 'sha256:356aa82447ef88f41c15aa58e1f0d114095d95e285ab4defdf826ee60fc8bc56',
    version: '0.2.0',
    name: 'plan/compiler',
    features: [
      'plan',
      'data-input',
      'transform',
      'filter',
      'aggregate',
      'compute',
      'branch',
      'loop',
      'parse:json',
      'serialize:csv',
      'text',
    ],
  },
];
