import { afterAll } from 'vitest';
import { freshDatabase, type PrivatePostgres, startTestPostgres } from '../support/postgres.js';
import { sequencerConformance } from './conformance.js';

let cluster: PrivatePostgres | undefined;
afterAll(async () => {
  await cluster?.stop();
}, 30_000);

sequencerConformance('PostgreSQL', async () => {
  cluster = await startTestPostgres();
  return { kind: 'postgres', url: await freshDatabase(cluster) };
});
