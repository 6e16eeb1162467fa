import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

const HttpUrl = z
  .string()
  .refine((text) => /^https?:\/\/[^\s]+$/.test(text), 'must be an http:// or https:// URL');

/** The `proofStorage` section of node.yaml (and what `m2m proof` builds from its options). */
export const ProofStorageSection = z
  .object({
    /** Proof envelopes larger than this go by `proof-ref`; smaller ones inline. */
    inlineMaxBytes: z.number().int().nonnegative().optional(),
    blossom: z
      .object({
        /** Other Blossom servers, in order; the embedded one (when on) comes first. */
        servers: z.array(HttpUrl).default([]),
        /** Upload to at most this many servers (default: all). */
        mirrors: z.number().int().positive().optional(),
        /** This node's own Blossom server; `false` runs none. */
        embedded: z
          .union([
            z.literal(false),
            z
              .object({
                host: z.string().default('127.0.0.1'),
                port: z.number().int().min(0).max(65535).default(0),
                publicUrl: HttpUrl.optional(),
                dir: z.string().optional(),
                maxBlobBytes: z.number().int().positive().optional(),
                quotaBytesPerPubkey: z.number().int().positive().optional(),
              })
              .strict(),
          ])
          .default(false),
      })
      .strict()
      .default({ servers: [], embedded: false }),
    /** `helia` (embedded, default), `none`, or a Kubo daemon's RPC API. */
    ipfs: z
      .union([z.literal('helia'), z.literal('none'), z.object({ kubo: HttpUrl }).strict()])
      .default('helia'),
    /** Gateways that serve this node's IPFS blocks, written into ipfs: references as hints. */
    gateways: z.array(HttpUrl).default([]),
    /** Size of the local proof cache. */
    cacheMb: z.number().positive().default(256),
    /** Unpinned, unreferenced proofs older than this are collected by `gc`. */
    retentionHours: z.number().positive().default(168),
  })
  .strict();

export type ProofStorageSectionInput = z.input<typeof ProofStorageSection>;

/** A resolved proof storage configuration (paths absolute). */
export interface ProofStoreConfig {
  /** proofs.db, proof-cache/, ipfs/ and (embedded) blossom/ live here. */
  dataDir: string;
  blossomServers: string[];
  mirrors?: number | undefined;
  embeddedBlossom:
    | false
    | {
        host: string;
        port: number;
        publicUrl?: string | undefined;
        dir: string;
        maxBlobBytes?: number | undefined;
        quotaBytesPerPubkey?: number | undefined;
      };
  ipfs: { kind: 'helia'; dir: string } | { kind: 'kubo'; api: string } | { kind: 'none' };
  gateways: string[];
  cacheBytes: number;
  retentionMs: number;
  timeoutMs?: number | undefined;
}

export function resolveProofStoreConfig(
  section: z.output<typeof ProofStorageSection>,
  dataDir: string,
  baseDir: string,
): ProofStoreConfig {
  const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const embedded = section.blossom.embedded;
  return {
    dataDir,
    blossomServers: section.blossom.servers,
    mirrors: section.blossom.mirrors,
    embeddedBlossom:
      embedded === false
        ? false
        : {
            ...embedded,
            dir: embedded.dir === undefined ? resolve(dataDir, 'blossom') : at(embedded.dir),
          },
    ipfs:
      section.ipfs === 'helia'
        ? { kind: 'helia', dir: resolve(dataDir, 'ipfs') }
        : section.ipfs === 'none'
          ? { kind: 'none' }
          : { kind: 'kubo', api: section.ipfs.kubo },
    gateways: section.gateways,
    cacheBytes: Math.round(section.cacheMb * 1024 * 1024),
    retentionMs: Math.round(section.retentionHours * 3600_000),
  };
}
