import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where `npm run build:prover` leaves a release artifact (the m2m-prover binary, the napi addon):
 * the file named by the override variable, then $CARGO_TARGET_DIR (default
 * ~/.cache/m2m/cargo-target), then guest/target, seen from the source tree and from dist/.
 */
export function releaseArtifactCandidates(fileName: string, overrideVariable: string): string[] {
  const override = process.env[overrideVariable];
  const targetDir =
    process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'm2m', 'cargo-target');
  return [
    ...(override ? [override] : []),
    join(targetDir, 'release', fileName),
    join(fileURLToPath(new URL('../../guest/target/release/', import.meta.url)), fileName),
    join(fileURLToPath(new URL('../../../guest/target/release/', import.meta.url)), fileName),
  ];
}

export function findReleaseArtifact(
  fileName: string,
  overrideVariable: string,
): string | undefined {
  return releaseArtifactCandidates(fileName, overrideVariable).find((path) => existsSync(path));
}
