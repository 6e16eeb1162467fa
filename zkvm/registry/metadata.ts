import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import semver from 'semver';
import { z } from 'zod';
import { canonicalJsonBytes, sha256 } from '../commitment/digest.js';

/**
 * Program metadata (seed story 25.6). An entry is signed by a registry authority: a BIP340
 * Schnorr signature (secp256k1, the key type Nostr uses) over SHA-256 of the RFC 8785 JSON of
 * the metadata without `signature`. Authorities are identified by x-only public keys (hex).
 */
const SemVer = z
  .string()
  .refine((v) => semver.valid(v) === v, 'a semantic version such as "1.2.0"');

export const ProgramMetadata = z
  .object({
    programId: z.string().regex(/^[a-z0-9]+:[0-9a-f]{16,128}$/, 'program id: "<scheme>:<hex>"'),
    backend: z.enum(['miden', 'risc-zero', 'sp1']),
    /** What the program proves, e.g. "plan-executor", "compliance/aml.threshold". */
    name: z.string().min(1).max(128),
    version: SemVer,
    releaseDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'date as YYYY-MM-DD'),
    features: z.array(z.string().min(1).max(64)).max(64),
    deprecated: z.boolean(),
    minCompatibleVersion: SemVer,
    signature: z
      .string()
      .regex(/^[0-9a-f]{128}$/)
      .optional(),
  })
  .strict();
export type ProgramMetadata = z.infer<typeof ProgramMetadata>;

export const unsignedPart = ({
  signature: _s,
  ...rest
}: ProgramMetadata): Omit<ProgramMetadata, 'signature'> => rest;

export const metadataDigest = (metadata: ProgramMetadata): Uint8Array =>
  sha256(canonicalJsonBytes(unsignedPart(metadata)));

export function signMetadata(metadata: ProgramMetadata, secretKeyHex: string): ProgramMetadata {
  const signature = bytesToHex(schnorr.sign(metadataDigest(metadata), hexToBytes(secretKeyHex)));
  return { ...unsignedPart(metadata), signature };
}

/** Which of `authorities` signed this entry, or undefined. */
export function signerOf(
  metadata: ProgramMetadata,
  authorities: readonly string[],
): string | undefined {
  if (metadata.signature === undefined) return undefined;
  const digest = metadataDigest(metadata);
  const signature = hexToBytes(metadata.signature);
  return authorities.find((pubkey) => {
    try {
      return schnorr.verify(signature, digest, hexToBytes(pubkey));
    } catch {
      return false;
    }
  });
}

export function authorityPublicKey(secretKeyHex: string): string {
  return bytesToHex(schnorr.getPublicKey(hexToBytes(secretKeyHex)));
}

export function newAuthoritySecretKey(): string {
  return bytesToHex(schnorr.utils.randomSecretKey());
}

/** A signed registry document, as served by a remote registry. */
export const RegistryDocument = z
  .object({
    version: z.literal(1),
    issuedAt: z.string(),
    authority: z.string().regex(/^[0-9a-f]{64}$/),
    programs: z.array(ProgramMetadata),
    /** Deprecations: programId -> reason. */
    deprecations: z.record(z.string(), z.string()).optional(),
    signature: z.string().regex(/^[0-9a-f]{128}$/),
  })
  .strict();
export type RegistryDocument = z.infer<typeof RegistryDocument>;

const documentDigest = ({ signature: _s, ...rest }: RegistryDocument): Uint8Array =>
  sha256(canonicalJsonBytes(rest));

export function signDocument(
  doc: Omit<RegistryDocument, 'signature' | 'authority'>,
  secretKeyHex: string,
): RegistryDocument {
  const unsigned = {
    ...doc,
    authority: authorityPublicKey(secretKeyHex),
    signature: '0'.repeat(128),
  };
  return {
    ...unsigned,
    signature: bytesToHex(schnorr.sign(documentDigest(unsigned), hexToBytes(secretKeyHex))),
  };
}

export function documentSignatureValid(doc: RegistryDocument): boolean {
  try {
    return schnorr.verify(
      hexToBytes(doc.signature),
      documentDigest(doc),
      hexToBytes(doc.authority),
    );
  } catch {
    return false;
  }
}
