/**
 * Test helper: one private PostgreSQL cluster per test file (see node/sequencer/pg-cluster.ts).
 * A missing server fails the suite with a message pointing at `npm run setup:postgres`.
 */
import {
  createDatabase,
  type PrivatePostgres,
  startPrivatePostgres,
} from '../../node/sequencer/pg-cluster.js';

export type { PrivatePostgres };

export async function startTestPostgres(): Promise<PrivatePostgres> {
  try {
    return await startPrivatePostgres({ unsafeFast: true });
  } catch (error) {
    throw new Error(
      `PostgreSQL is required for this suite and could not be started; run "npm run setup:postgres" first. Cause: ${(error as Error).message}`,
    );
  }
}

let counter = 0;
/** A fresh, empty database in the cluster (each suite gets its own). */
export async function freshDatabase(cluster: PrivatePostgres, prefix = 'seq'): Promise<string> {
  counter += 1;
  return createDatabase(cluster.url, `${prefix}_${process.pid}_${counter}`);
}
