import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  configPathOf,
  createAgentKey,
  loadAgentKey,
  loadSyncConfig,
  saveSyncConfig,
  syncDir,
} from '../../node/sync/config.js';
import { agentPublicKey } from '../../node/ves/sign.js';
import { AGENT, STORE, TENANT, tempDir } from '../support/ves.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
const dir = () => {
  const t = tempDir('sync-config');
  cleanups.push(t.cleanup);
  return t.dir;
};

describe('sync config', () => {
  it('resolves the sync dir from --dir, $M2M_HOME, then ~/.m2m', () => {
    expect(syncDir('/x/y', {})).toBe('/x/y');
    expect(syncDir(undefined, { M2M_HOME: '/home/a/.m2m' })).toBe('/home/a/.m2m/sync');
    expect(syncDir(undefined, {})).toMatch(/\.m2m\/sync$/);
  });

  it('saves with defaults (0600) and loads; env API key wins; errors name the file and field', () => {
    const d = dir();
    const saved = saveSyncConfig(d, {
      sequencerUrl: 'http://127.0.0.1:1/api',
      apiKey: 'stored',
      tenantId: TENANT,
      storeId: STORE,
      agentId: AGENT,
      keyId: 1,
      agentKeyFile: 'agent.key',
      outbox: '/abs/outbox.db',
      batchSize: 500,
    });
    expect(statSync(configPathOf(d)).mode & 0o777).toBe(0o600);
    expect(saved.agentKeyPath).toBe(join(d, 'agent.key'));
    expect(saved.outboxPath).toBe('/abs/outbox.db');
    expect(loadSyncConfig(d, {}).apiKey).toBe('stored');
    expect(loadSyncConfig(d, { M2M_SYNC_API_KEY: 'env' }).apiKey).toBe('env');
    const onDisk = JSON.parse(readFileSync(configPathOf(d), 'utf8')) as Record<string, unknown>;
    writeFileSync(
      configPathOf(d),
      JSON.stringify({ ...onDisk, tenantId: 'nope', batchSize: 5000 }),
    );
    expect(() => loadSyncConfig(d, {})).toThrow(
      expect.objectContaining({ code: 'SYNC_CONFIG_INVALID' }),
    );
    expect(() => loadSyncConfig(d, {})).toThrow(/tenantId.*batchSize/);
    writeFileSync(configPathOf(d), '{');
    expect(() => loadSyncConfig(d, {})).toThrow(
      expect.objectContaining({ code: 'SYNC_CONFIG_INVALID' }),
    );
    expect(() => loadSyncConfig(join(d, 'none'), {})).toThrow(
      expect.objectContaining({ code: 'SYNC_NOT_INITIALIZED' }),
    );
  });

  it('agent key: created 0600, read back, never silently replaced', () => {
    const path = join(dir(), 'keys', 'agent.key');
    expect(() => loadAgentKey(path)).toThrow(
      expect.objectContaining({ code: 'SYNC_NO_AGENT_KEY' }),
    );
    const k = createAgentKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(agentPublicKey(loadAgentKey(path))).toEqual(k.publicKey);
    expect(() => createAgentKey(path)).toThrow(
      expect.objectContaining({ code: 'SYNC_AGENT_KEY_EXISTS' }),
    );
    const replaced = createAgentKey(path, true);
    expect(replaced.publicKey).not.toEqual(k.publicKey);
    writeFileSync(path, 'not hex');
    expect(() => loadAgentKey(path)).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });
});
