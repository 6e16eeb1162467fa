import { isHex64, type NostrEvent } from './event.js';
import type { RelayLimits } from './limits.js';

/** A NIP-01 filter, checked and normalised. Conditions are AND'ed; a REQ's filters are OR'ed. */
export interface RelayFilter {
  ids: ReadonlySet<string> | undefined;
  authors: ReadonlySet<string> | undefined;
  kinds: ReadonlySet<number> | undefined;
  /** `#x` conditions: the event needs an `x` tag whose first value is in the set. */
  tags: ReadonlyArray<readonly [name: string, values: ReadonlySet<string>]>;
  since: number | undefined;
  until: number | undefined;
  /** Stored events to return: the client's limit clamped to maxLimit, or defaultLimit. */
  limit: number;
}

export type FilterCheck = { ok: true; filters: RelayFilter[] } | { ok: false; reason: string };

const TAG_KEY = /^#[a-zA-Z]$/;

/** Checks the filters of a REQ; the reason carries a NIP-01 prefix for a CLOSED message. */
export function parseFilters(values: readonly unknown[], limits: RelayLimits): FilterCheck {
  if (values.length === 0) return { ok: false, reason: 'invalid: a REQ needs at least one filter' };
  if (values.length > limits.maxFilters)
    return {
      ok: false,
      reason: `blocked: ${values.length} filters in one REQ, the limit is ${limits.maxFilters}`,
    };
  const filters: RelayFilter[] = [];
  for (const value of values) {
    const parsed = parseFilter(value, limits);
    if (typeof parsed === 'string') return { ok: false, reason: `invalid: ${parsed}` };
    filters.push(parsed);
  }
  return { ok: true, filters };
}

function parseFilter(value: unknown, limits: RelayLimits): RelayFilter | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return 'a filter must be a JSON object';
  const filter: {
    -readonly [K in keyof RelayFilter]: RelayFilter[K];
  } = {
    ids: undefined,
    authors: undefined,
    kinds: undefined,
    tags: [],
    since: undefined,
    until: undefined,
    limit: limits.defaultLimit,
  };
  const tags: [string, ReadonlySet<string>][] = [];
  for (const [key, field] of Object.entries(value)) {
    const list = (check: (item: unknown) => boolean, what: string) => {
      if (!Array.isArray(field) || !field.every(check)) return `${key} must be an array of ${what}`;
      if (field.length > limits.maxFilterValues)
        return `${key} has ${field.length} values, the limit is ${limits.maxFilterValues}`;
      return undefined;
    };
    const timestamp = () =>
      Number.isSafeInteger(field) && (field as number) >= 0
        ? undefined
        : `${key} must be a non-negative integer`;
    let problem: string | undefined;
    switch (key) {
      case 'ids':
      case 'authors':
        problem = list(isHex64, '64-character lowercase hex strings');
        if (problem === undefined) filter[key] = new Set(field as string[]);
        break;
      case 'kinds':
        problem = list(
          (k) => Number.isInteger(k) && (k as number) >= 0 && (k as number) <= 65535,
          'integers from 0 to 65535',
        );
        if (problem === undefined) filter.kinds = new Set(field as number[]);
        break;
      case 'since':
      case 'until':
        problem = timestamp();
        if (problem === undefined) filter[key] = field as number;
        break;
      case 'limit':
        problem = timestamp();
        if (problem === undefined) filter.limit = Math.min(field as number, limits.maxLimit);
        break;
      default:
        if (!TAG_KEY.test(key))
          return `unknown filter field "${key.slice(0, 40)}" (tag filters are # and one letter)`;
        problem = list((v) => typeof v === 'string', 'strings');
        if (problem === undefined) tags.push([key.slice(1), new Set(field as string[])]);
    }
    if (problem !== undefined) return problem;
  }
  filter.tags = tags;
  return filter;
}

/** Whether a filter can match nothing stored (an empty list, limit 0, since after until). */
export function matchesNothingStored(filter: RelayFilter): boolean {
  return (
    filter.limit === 0 ||
    filter.ids?.size === 0 ||
    filter.authors?.size === 0 ||
    filter.kinds?.size === 0 ||
    filter.tags.some(([, values]) => values.size === 0) ||
    (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until)
  );
}

/** Whether a live event matches a filter (limit does not apply to live events). */
export function matchFilter(filter: RelayFilter, event: NostrEvent): boolean {
  if (filter.ids !== undefined && !filter.ids.has(event.id)) return false;
  if (filter.authors !== undefined && !filter.authors.has(event.pubkey)) return false;
  if (filter.kinds !== undefined && !filter.kinds.has(event.kind)) return false;
  if (filter.since !== undefined && event.created_at < filter.since) return false;
  if (filter.until !== undefined && event.created_at > filter.until) return false;
  for (const [name, values] of filter.tags) {
    if (!event.tags.some((tag) => tag[0] === name && tag[1] !== undefined && values.has(tag[1])))
      return false;
  }
  return true;
}

export function matchAny(filters: readonly RelayFilter[], event: NostrEvent): boolean {
  return filters.some((filter) => matchFilter(filter, event));
}
