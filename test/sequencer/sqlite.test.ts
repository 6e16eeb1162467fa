import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { sequencerConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'm2m-seq-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Inline signature checks here; the PostgreSQL run uses the worker pool.
sequencerConformance(
  'SQLite, inline Ed25519',
  async () => ({ kind: 'sqlite', path: join(dir, 'sequencer.db') }),
  0,
);
