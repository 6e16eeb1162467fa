import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  authorityPublicKey,
  newAuthoritySecretKey,
  type ProgramMetadata,
  signDocument,
  signMetadata,
} from '../../zkvm/registry/metadata.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';
import { codeOf } from '../support/errors.js';

const authority = newAuthoritySecretKey();
const stranger = newAuthoritySecretKey();
const program = (
  id: string,
  version = '1.2.0',
  minCompatibleVersion = '1.0.0',
): ProgramMetadata => ({
  programId: `rpo256:${id.repeat(64 / id.length)}`,
  backend: 'miden',
  name: 'plan-executor',
  version,
  releaseDate: '2026-11-21',
  features: ['filter', 'aggregate'],
  deprecated: false,
  minCompatibleVersion,
});
const open = (path?: string) =>
  new ProgramRegistry({
    authorities: [authorityPublicKey(authority)],
    embedded: [],
    ...(path ? { path } : {}),
  });

describe('program registry', () => {
  it('registers programs signed by an authority, idempotently', () => {
    const r = open();
    const signed = signMetadata(program('a1'), authority);
    expect(r.register(signed)).toBe('added');
    expect(r.register(signed)).toBe('unchanged');
    expect(r.isAllowed(signed.programId)).toBe(true);
    expect(r.getProgram(signed.programId)?.version).toBe('1.2.0');
  });

  it('refuses unsigned, stranger-signed and tampered entries', () => {
    const r = open();
    expect(codeOf(() => r.register(program('b2')))).toBe('REGISTRY_SIGNATURE_INVALID');
    expect(codeOf(() => r.register(signMetadata(program('b2'), stranger)))).toBe(
      'REGISTRY_SIGNATURE_INVALID',
    );
    const tampered = { ...signMetadata(program('b2'), authority), version: '9.9.9' };
    expect(codeOf(() => r.register(tampered))).toBe('REGISTRY_SIGNATURE_INVALID');
    expect(r.isAllowed(program('b2').programId)).toBe(false);
  });

  it('refuses different metadata under an existing id', () => {
    const r = open();
    r.register(signMetadata(program('c3'), authority));
    expect(codeOf(() => r.register(signMetadata(program('c3', '1.3.0'), authority)))).toBe(
      'REGISTRY_CONFLICT',
    );
  });

  it('deprecation disallows a program and keeps its reason', () => {
    const r = open();
    const p = signMetadata(program('d4'), authority);
    r.register(p);
    r.deprecate(p.programId, 'soundness bug in filter step');
    expect(r.isAllowed(p.programId)).toBe(false);
    expect(r.isDeprecated(p.programId)).toBe(true);
    expect(r.getProgram(p.programId)?.deprecationReason).toBe('soundness bug in filter step');
    expect(codeOf(() => r.deprecate(program('e5').programId, 'x'))).toBe(
      'REGISTRY_UNKNOWN_PROGRAM',
    );
  });

  it('checks semver compatibility against a job minimum version', () => {
    const r = open();
    const p = signMetadata(program('f6', '1.4.0', '1.1.0'), authority);
    r.register(p);
    expect(r.isCompatible(p.programId, '1.2.0')).toBe(true);
    expect(r.isCompatible(p.programId, '1.4.0')).toBe(true);
    expect(r.isCompatible(p.programId, '1.5.0')).toBe(false);
    expect(r.isCompatible(p.programId, '1.0.0')).toBe(false);
    expect(r.isCompatible(p.programId, 'latest')).toBe(false);
  });

  it('syncs a signed remote document and rejects untrusted or tampered ones', () => {
    const r = open();
    const existing = signMetadata(program('a7'), authority);
    r.register(existing);
    const doc = signDocument(
      {
        version: 1,
        issuedAt: '2026-11-21T00:00:00Z',
        programs: [existing, signMetadata(program('b8'), authority)],
        deprecations: { [existing.programId]: 'superseded by 1.3.0' },
      },
      authority,
    );
    const result = r.sync(doc);
    expect(result.added).toEqual([program('b8').programId]);
    expect(result.unchanged).toEqual([existing.programId]);
    expect(result.deprecated).toEqual([existing.programId]);
    expect(codeOf(() => r.sync({ ...doc, issuedAt: '2027-01-01T00:00:00Z' }))).toBe(
      'REGISTRY_SIGNATURE_INVALID',
    );
    expect(
      codeOf(() => r.sync(signDocument({ version: 1, issuedAt: 'x', programs: [] }, stranger))),
    ).toBe('REGISTRY_UNTRUSTED_AUTHORITY');
    expect(codeOf(() => r.sync({ nope: true }))).toBe('REGISTRY_INVALID_DOCUMENT');
  });

  it('persists to SQLite with an append-only, hash-chained audit trail', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'm2m-registry-')), 'registry.db');
    const r = open(path);
    const p = signMetadata(program('c9'), authority);
    r.register(p);
    r.deprecate(p.programId, 'replaced');
    r.close();

    const reopened = open(path);
    expect(reopened.isDeprecated(p.programId)).toBe(true);
    expect(reopened.auditTrail().map((e) => e.action)).toEqual(['register', 'deprecate']);
    expect(reopened.verifyAuditTrail()).toBe(true);
    reopened.close();

    const raw = new Database(path);
    expect(() => raw.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    expect(() => raw.prepare("UPDATE audit SET actor = 'mallory'").run()).toThrow(/append-only/);
    raw.exec('DROP TRIGGER audit_append_only_update');
    raw.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 1").run();
    raw.close();
    const tampered = open(path);
    expect(tampered.verifyAuditTrail()).toBe(false);
    tampered.close();
  });
});
