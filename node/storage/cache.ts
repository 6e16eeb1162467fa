import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from './hash.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * A local cache of proof bytes on disk (`<dir>/<sha256>`), bounded by total size with least
 * recently used eviction. Entries `isPinned` says are pinned are never evicted. Reads re-check
 * the SHA-256, and a damaged entry is dropped as if it were absent.
 */
export class ProofCache {
  /** sha256 → size; Map order is the recency order (first = least recently used). */
  private readonly entries = new Map<string, number>();
  private total = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly isPinned: (sha256: string) => boolean = () => false,
  ) {
    mkdirSync(dir, { recursive: true });
    const found = readdirSync(dir)
      .filter((name) => SHA256_HEX.test(name))
      .map((name) => ({ name, stat: statSync(join(dir, name)) }))
      .sort((a, b) => a.stat.mtimeMs - b.stat.mtimeMs);
    for (const { name, stat } of found) {
      this.entries.set(name, stat.size);
      this.total += stat.size;
    }
  }

  get bytes(): number {
    return this.total;
  }

  has(sha256: string): boolean {
    return this.entries.has(sha256);
  }

  get(sha256: string): Uint8Array | undefined {
    if (!this.entries.has(sha256)) return undefined;
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.dir, sha256));
    } catch {
      this.forget(sha256);
      return undefined;
    }
    if (sha256Hex(bytes) !== sha256) {
      this.delete(sha256);
      return undefined;
    }
    const size = this.entries.get(sha256) as number;
    this.entries.delete(sha256);
    this.entries.set(sha256, size);
    return bytes;
  }

  /** Adds bytes whose SHA-256 the caller has checked; evicts to stay under maxBytes. */
  put(sha256: string, bytes: Uint8Array): void {
    if (this.entries.has(sha256)) {
      this.get(sha256);
      return;
    }
    if (bytes.length > this.maxBytes && !this.isPinned(sha256)) return;
    const path = join(this.dir, sha256);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    this.entries.set(sha256, bytes.length);
    this.total += bytes.length;
    this.evict();
  }

  private evict(): void {
    for (const [sha256] of this.entries) {
      if (this.total <= this.maxBytes) return;
      if (!this.isPinned(sha256)) this.delete(sha256);
    }
  }

  private forget(sha256: string): void {
    this.total -= this.entries.get(sha256) ?? 0;
    this.entries.delete(sha256);
  }

  delete(sha256: string): void {
    rmSync(join(this.dir, sha256), { force: true });
    this.forget(sha256);
  }

  /** Cached hashes, least recently used first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }
}
