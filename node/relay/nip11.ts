import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RelayConfig } from './config.js';

/** NIP-11 relay information document; every `limitation` field is a limit the relay enforces. */
export interface RelayInformation {
  name: string;
  description: string;
  pubkey?: string;
  contact?: string;
  supported_nips: number[];
  software: string;
  version: string;
  limitation: {
    max_message_length: number;
    max_subscriptions: number;
    max_filters: number;
    max_limit: number;
    max_subid_length: number;
    max_event_tags: number;
    max_content_length: number;
    min_pow_difficulty: number;
    auth_required: boolean;
    payment_required: boolean;
    restricted_writes: boolean;
    created_at_upper_limit: number;
    default_limit: number;
  };
}

export const SUPPORTED_NIPS = [1, 11];

/** The package version, from the source tree (node/relay) or from dist/node/relay. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    const file = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'm2m-node' && pkg.version !== undefined) return pkg.version;
    }
  }
  return '0.0.0';
}

export function relayInformation(config: RelayConfig): RelayInformation {
  const { info, limits } = config;
  return {
    name: info.name,
    description: info.description,
    ...(info.pubkey === undefined ? {} : { pubkey: info.pubkey }),
    ...(info.contact === undefined ? {} : { contact: info.contact }),
    supported_nips: SUPPORTED_NIPS,
    software: 'm2m-node',
    version: packageVersion(),
    limitation: {
      max_message_length: limits.maxMessageBytes,
      max_subscriptions: limits.maxSubscriptions,
      max_filters: limits.maxFilters,
      max_limit: limits.maxLimit,
      max_subid_length: limits.maxSubidLength,
      max_event_tags: limits.maxEventTags,
      max_content_length: limits.maxContentLength,
      min_pow_difficulty: 0,
      auth_required: false,
      payment_required: false,
      restricted_writes: false,
      created_at_upper_limit: limits.createdAtUpperLimit,
      default_limit: limits.defaultLimit,
    },
  };
}
