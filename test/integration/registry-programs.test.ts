import { describe, expect, it } from 'vitest';
import { callNativeProver } from '../../zkvm/prover/native-process.js';
import { DEFAULT_PROGRAMS } from '../../zkvm/registry/default-programs.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';

describe('embedded default registry', () => {
  it('pins exactly the program ids the built prover reports', async () => {
    const { response } = await callNativeProver<{
      proverVersion: string;
      programs: Record<string, { programId: string }>;
    }>('info', {});
    const byName = Object.fromEntries(
      DEFAULT_PROGRAMS.map((p) => [p.name.replace('compliance/', ''), p]),
    );
    for (const [name, { programId }] of Object.entries(response.programs)) {
      expect(
        byName[name]?.programId,
        `program ${name} changed: register it under a new version`,
      ).toBe(programId);
      expect(byName[name]?.version).toBe(response.proverVersion);
    }
    expect(Object.keys(response.programs).length).toBe(DEFAULT_PROGRAMS.length);
  });

  it('is loaded into a new registry and allowed by default', () => {
    const registry = new ProgramRegistry();
    for (const program of DEFAULT_PROGRAMS)
      expect(registry.isAllowed(program.programId)).toBe(true);
    expect(registry.auditTrail().every((entry) => entry.actor === 'embedded')).toBe(true);
    registry.close();
  });
});
