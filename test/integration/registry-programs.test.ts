import { describe, expect, it } from 'vitest';
import { planProgramId } from '../../zkvm/plan-proof/native.js';
import { callNativeProver } from '../../zkvm/prover/native-process.js';
import { DEFAULT_PROGRAMS } from '../../zkvm/registry/default-programs.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';

describe('embedded default registry', () => {
  it('pins exactly the program ids the built prover reports', async () => {
    const { response } = await callNativeProver<{
      proverVersion: string;
      programs: Record<string, { programId: string }>;
    }>('info', {});
    const compliance = DEFAULT_PROGRAMS.filter((p) => p.name.startsWith('compliance/'));
    const byName = Object.fromEntries(
      compliance.map((p) => [p.name.replace('compliance/', ''), p]),
    );
    for (const [name, { programId }] of Object.entries(response.programs)) {
      expect(
        byName[name]?.programId,
        `program ${name} changed: register it under a new version`,
      ).toBe(programId);
      expect(byName[name]?.version).toBe(response.proverVersion);
    }
    expect(Object.keys(response.programs).length).toBe(compliance.length);
  });

  it('pins the plan compiler and runtime the package ships', () => {
    const entry = DEFAULT_PROGRAMS.find((p) => p.name === 'plan/compiler');
    expect(
      entry?.programId,
      'the plan compiler or its MASM runtime changed: register it under a new version',
    ).toBe(planProgramId());
  });

  it('is loaded into a new registry and allowed by default', () => {
    const registry = new ProgramRegistry();
    for (const program of DEFAULT_PROGRAMS)
      expect(registry.isAllowed(program.programId)).toBe(true);
    expect(registry.auditTrail().every((entry) => entry.actor === 'embedded')).toBe(true);
    registry.close();
  });
});
