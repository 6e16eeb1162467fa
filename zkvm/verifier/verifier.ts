import { canonicalJson, sha256, toDigest } from '../commitment/digest.js';
import {
  type BatchMember,
  type CompliancePublicInputs,
  verifyCompliance,
  verifyComplianceBatch,
} from '../compliance/compliance.js';
import { type PlanExpectation, verifyPlanProof } from '../plan-proof/verify.js';
import type { ProofEnvelope } from '../proof/envelope.js';
import type { ProgramRegistry } from '../registry/registry.js';

/** What the verifier is told to expect; the proof must match it, not the other way round. */
export type Expectation =
  | ({ kind: 'plan'; jobRequestHash: string } & PlanExpectation)
  | { kind: 'compliance'; publicInputs: CompliancePublicInputs }
  | { kind: 'compliance-batch'; members: BatchMember[] };

export interface VerificationResult {
  valid: boolean;
  /** Stable code of the first failed check (absent when valid). */
  code?: string;
  reason?: string;
  programId: string;
  proofHash: string;
  outputHash?: string;
  metadata?: ProofEnvelope['metadata'];
  /** True when the verdict came from the cache. */
  cached: boolean;
}

export interface VerifierOptions {
  /** Verdicts kept (LRU); a proof is re-verified after eviction. */
  cacheSize?: number;
  /** Refuse programs older than this version (a job's min-program-version). */
  minProgramVersion?: string;
}

/**
 * Verifies proof envelopes (seed story 25.5): program allowed by the registry, expectation met,
 * then the proof itself. Never throws for a bad proof: every failure is a verdict with a code.
 * Infrastructure failures (the native verifier missing) do throw, as PROVER_* errors.
 */
export class ZKVerifier {
  private readonly cache = new Map<string, Omit<VerificationResult, 'cached'>>();
  private readonly cacheSize: number;

  constructor(
    private readonly registry: ProgramRegistry,
    private readonly options: VerifierOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 1000;
  }

  /** `expected` as a string is the job request hash of a plan proof (the seed's signature). */
  async verify(
    envelope: ProofEnvelope,
    expected: string | Expectation,
  ): Promise<VerificationResult> {
    const expectation: Expectation =
      typeof expected === 'string' ? { kind: 'plan', jobRequestHash: expected } : expected;
    const key = `${envelope.proofHash}|${envelope.programId}|${toDigest(sha256(Buffer.from(canonicalJson({ header: { ...envelope, proof: undefined }, expectation }))))}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return { ...hit, cached: true };
    }
    const verdict = await this.check(envelope, expectation);
    this.cache.set(key, verdict);
    if (this.cache.size > this.cacheSize)
      this.cache.delete(this.cache.keys().next().value as string);
    return { ...verdict, cached: false };
  }

  async verifyBatch(
    items: { envelope: ProofEnvelope; expected: string | Expectation }[],
  ): Promise<{ allValid: boolean; validCount: number; results: VerificationResult[] }> {
    const results: VerificationResult[] = [];
    for (const item of items) results.push(await this.verify(item.envelope, item.expected));
    const validCount = results.filter((r) => r.valid).length;
    return { allValid: validCount === results.length, validCount, results };
  }

  private async check(
    envelope: ProofEnvelope,
    expectation: Expectation,
  ): Promise<Omit<VerificationResult, 'cached'>> {
    const base = {
      programId: envelope.programId,
      proofHash: envelope.proofHash,
      metadata: envelope.metadata,
    };
    const reject = (code: string, reason: string) => ({ ...base, valid: false, code, reason });
    const program = this.registry.getProgram(envelope.programId);
    if (program === undefined)
      return reject(
        'PROGRAM_UNKNOWN',
        `program ${envelope.programId} is not in the program registry`,
      );
    if (program.deprecated)
      return reject(
        'PROGRAM_DEPRECATED',
        `program ${envelope.programId} is deprecated: ${program.deprecationReason ?? 'no reason given'}`,
      );
    if (program.backend !== envelope.backend)
      return reject(
        'PROGRAM_BACKEND_MISMATCH',
        `program ${envelope.programId} is a ${program.backend} program, the proof says ${envelope.backend}`,
      );
    const minimum = this.options.minProgramVersion;
    if (minimum !== undefined && !this.registry.isCompatible(envelope.programId, minimum)) {
      return reject(
        'PROGRAM_VERSION_TOO_OLD',
        `program ${envelope.programId} is version ${program.version}; at least ${minimum} is required`,
      );
    }
    if (envelope.kind !== expectation.kind)
      return reject(
        'PROOF_KIND_MISMATCH',
        `expected a ${expectation.kind} proof, got a ${envelope.kind} proof`,
      );

    switch (expectation.kind) {
      case 'plan':
        if (envelope.publicInputs.jobRequestHash !== expectation.jobRequestHash) {
          return reject(
            'JOB_HASH_MISMATCH',
            `proof is for job ${envelope.publicInputs.jobRequestHash}, expected ${expectation.jobRequestHash}`,
          );
        }
        return this.planVerdict(envelope, expectation, base);
      case 'compliance': {
        const verdict = await verifyCompliance(envelope, expectation.publicInputs);
        return verdict.valid
          ? { ...base, valid: true }
          : reject('PROOF_INVALID', verdict.reason ?? 'proof rejected');
      }
      case 'compliance-batch': {
        const verdict = await verifyComplianceBatch(envelope, expectation.members);
        return verdict.valid
          ? { ...base, valid: true }
          : reject('PROOF_INVALID', verdict.reason ?? 'proof rejected');
      }
    }
  }

  private planVerdict(
    envelope: ProofEnvelope,
    expectation: PlanExpectation,
    base: Pick<VerificationResult, 'programId' | 'proofHash' | 'metadata'>,
  ): Omit<VerificationResult, 'cached'> {
    const verdict = verifyPlanProof(envelope, expectation);
    return verdict.valid
      ? { ...base, valid: true, outputHash: verdict.outputHash }
      : {
          ...base,
          valid: false,
          code: verdict.code ?? 'PROOF_INVALID',
          reason: verdict.reason ?? 'proof rejected',
        };
  }
}
