import { getPublicKey } from 'nostr-tools/pure';
import { z } from 'zod';
import { DVM_ERRORS, dvmError } from './errors.js';
import { kindName, type NostrEvent, type Tag } from './event.js';
import { decryptFrom, encryptTo } from './nip44.js';
import { AbsoluteUrl, Hex64, NonEmpty, oneOf, RelayUrl, TagReader } from './tags.js';

/** NIP-90 `i` tag: `["i", <data>, <input-type>, <relay>, <marker>]`. */
export const InputType = oneOf(['url', 'event', 'job', 'text']);
export type InputType = z.infer<typeof InputType>;

export interface JobInput {
  data: string;
  type: InputType;
  /** Where the event or job input was published (types event and job). */
  relay?: string | undefined;
  /** How the job uses this input; the market reserves `plan` (see README). */
  marker?: string | undefined;
}

/** NIP-90 `param` tag: `["param", <name>, <value>]`. */
export interface JobParam {
  name: string;
  value: string;
}

/** The NIP-90 tags that may travel encrypted: every `i` and `param`. */
export interface JobInputs {
  inputs: JobInput[];
  params: JobParam[];
}

export function inputTag(input: JobInput): Tag {
  const tag = ['i', input.data, input.type];
  if (input.relay !== undefined || input.marker !== undefined) tag.push(input.relay ?? '');
  if (input.marker !== undefined) tag.push(input.marker);
  return tag;
}

export const paramTag = (param: JobParam): Tag => ['param', param.name, param.value];

export function inputTags(inputs: JobInputs): Tag[] {
  return [...inputs.inputs.map(inputTag), ...inputs.params.map(paramTag)];
}

export function readInputs(reader: TagReader): JobInputs {
  const inputs = reader.all('i').map((tag): JobInput => {
    const type = reader.field(tag, 2, InputType);
    const data = reader.field(
      tag,
      1,
      type === 'url' ? AbsoluteUrl : type === 'text' ? NonEmpty : Hex64,
    );
    return {
      data,
      type,
      relay: reader.optionalField(tag, 3, RelayUrl),
      marker: reader.optionalField(tag, 4, NonEmpty),
    };
  });
  const params = reader.all('param').map(
    (tag): JobParam => ({
      name: reader.field(tag, 1, NonEmpty),
      value: reader.field(tag, 2, z.string()),
    }),
  );
  return { inputs, params };
}

/**
 * NIP-90 private inputs: the `i` and `param` tags as a JSON array, NIP-44 v2 encrypted from the
 * customer to the one provider. The request then carries `["p", provider]` and `["encrypted"]`.
 */
export function encryptJobInputs(
  inputs: JobInputs,
  customerSecretKey: Uint8Array,
  providerPubkey: string,
): string {
  return encryptTo(
    JSON.stringify(inputTags(inputs)),
    customerSecretKey,
    providerPubkey,
    'the private inputs (i and param tags)',
  );
}

const TagList = z.array(z.array(z.string()));

/** The provider's side: decrypts and validates the `i`/`param` tags of an encrypted request. */
export function decryptJobInputs(event: NostrEvent, providerSecretKey: Uint8Array): JobInputs {
  const what = `${kindName(event.kind)} ${event.id}`;
  if (!event.tags.some((tag) => tag[0] === 'encrypted')) {
    throw dvmError(
      DVM_ERRORS.missingTag,
      `${what}: not encrypted (no ["encrypted"] tag); read its inputs from the tags`,
      { tag: 'encrypted', eventId: event.id },
    );
  }
  const me = getPublicKey(providerSecretKey);
  const recipients = event.tags.filter((tag) => tag[0] === 'p').map((tag) => tag[1]);
  if (!recipients.includes(me)) {
    throw dvmError(
      DVM_ERRORS.decryptFailed,
      `${what}: the inputs are encrypted for ${recipients.join(', ') || 'no p tag'}, not for ${me}`,
      { eventId: event.id },
    );
  }
  const text = decryptFrom(event.content, providerSecretKey, event.pubkey, what);
  let tags: Tag[];
  try {
    tags = TagList.parse(JSON.parse(text));
  } catch (cause) {
    throw dvmError(
      DVM_ERRORS.badContent,
      `${what}: the decrypted content must be a JSON array of tags (arrays of strings)`,
      { eventId: event.id },
      cause,
    );
  }
  const other = tags.find((tag) => tag[0] !== 'i' && tag[0] !== 'param');
  if (other !== undefined) {
    throw dvmError(
      DVM_ERRORS.badContent,
      `${what}: the encrypted content may hold only i and param tags, found "${other[0]}"; send it as a clear tag`,
      { eventId: event.id, tag: other[0] },
    );
  }
  return readInputs(new TagReader(event, tags));
}
