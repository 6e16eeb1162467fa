import { spawnSync } from 'node:child_process';
import { PLAN_COMPILER_VERSION } from '../plan-proof/native.js';
import { nativeAddonStatus } from './native-addon.js';
import { callNativeProver, findNativeProver, nativeProverCandidates } from './native-process.js';

/** Whether a zkVM backend can be used on this machine, and why not. */
export interface BackendStatus {
  backend: 'miden' | 'risc-zero' | 'sp1';
  usable: boolean;
  detail: string;
  capabilities: string[];
}

const onPath = (command: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

interface ProverInfo {
  engine: string;
  engineVersion: string;
  securityBits: number;
  programs: Record<string, { programId: string }>;
}

export async function diagnoseBackends(): Promise<BackendStatus[]> {
  const statuses: BackendStatus[] = [];
  const binary = findNativeProver();
  // Proving needs the binary (a killable child process); verifying needs the in-process addon.
  const addon = nativeAddonStatus();
  const verifier = addon.loadable
    ? `; ${addon.detail}`
    : `; in-process verifier NOT loadable, so verifying fails with PROVER_UNAVAILABLE: ${addon.detail}`;
  if (binary === undefined) {
    statuses.push({
      backend: 'miden',
      usable: false,
      detail: `m2m-prover is not built; run \`npm run build:prover\` (looked in ${nativeProverCandidates().join(', ')})${verifier}`,
      capabilities: [],
    });
  } else {
    try {
      const { response } = await callNativeProver<ProverInfo>(
        'info',
        {},
        { binary, timeoutMs: 10_000 },
      );
      statuses.push({
        backend: 'miden',
        usable: true,
        detail: `${response.engine} ${response.engineVersion} via ${binary}, ${response.securityBits}-bit security${verifier}`,
        capabilities: [
          'compliance:aml.threshold',
          'compliance:order_total.cap',
          'compliance:batch',
          `plan (compiler ${PLAN_COMPILER_VERSION}; refuses parse (csv) and serialize (json))`,
        ],
      });
    } catch (error) {
      statuses.push({
        backend: 'miden',
        usable: false,
        detail: `${binary} does not answer: ${(error as Error).message}${verifier}`,
        capabilities: [],
      });
    }
  }
  // The RISC Zero and SP1 guest toolchains come from their own installers (rzup, sp1up), which
  // download prebuilt toolchains; neither is in a package registry this project can use.
  const riscZero = onPath('r0vm') || onPath('cargo-risczero');
  statuses.push({
    backend: 'risc-zero',
    usable: false,
    detail: riscZero
      ? 'RISC Zero tools found on PATH, but this node has no RISC Zero guest yet'
      : 'r0vm / cargo-risczero not found: the RISC Zero toolchain is installed by rzup, which downloads binaries, and is not available from the package registries',
    capabilities: [],
  });
  const sp1 = onPath('cargo-prove');
  statuses.push({
    backend: 'sp1',
    usable: false,
    detail: sp1
      ? 'SP1 tools found on PATH, but this node has no SP1 guest yet'
      : 'cargo-prove not found: the SP1 toolchain is installed by sp1up, which downloads binaries, and is not available from the package registries',
    capabilities: [],
  });
  return statuses;
}
