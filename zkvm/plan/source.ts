import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import { M2mError, type SourceLocation } from '../errors.js';

/** Plans larger than this are refused before parsing (a plan is a program, not a data set). */
export const MAX_PLAN_TEXT_BYTES = 1024 * 1024;
/** Deepest nesting of arrays/objects a plan may have; real plans stay far below it. */
export const MAX_PLAN_DEPTH = 128;

const tooDeep = (location: SourceLocation | undefined) =>
  new M2mError(
    'PLAN_TOO_DEEP',
    `plan nests deeper than ${MAX_PLAN_DEPTH} levels; flatten the expression into map steps`,
    { location },
  );

export type PathSegment = string | number;
export type PlanFormat = 'json' | 'yaml';

/** The parsed JSON value of a plan text, plus a way back from a path to line:column. */
export interface PlanSource {
  value: unknown;
  file: string;
  locate(path: readonly PathSegment[], key?: string): SourceLocation | undefined;
}

export function detectFormat(file: string, text: string): PlanFormat {
  if (/\.json$/i.test(file)) return 'json';
  if (/\.ya?ml$/i.test(file)) return 'yaml';
  return /^\s*[[{]/.test(text) ? 'json' : 'yaml';
}

/**
 * Parses YAML or JSON into a JSON value. JSON text goes through JSON.parse for strict syntax and
 * through the YAML parser (a superset) for node positions.
 */
export function parsePlanText(
  text: string,
  file = '<input>',
  format = detectFormat(file, text),
): PlanSource {
  if (Buffer.byteLength(text, 'utf8') > MAX_PLAN_TEXT_BYTES) {
    throw new M2mError('PLAN_TOO_LARGE', `plan text is larger than ${MAX_PLAN_TEXT_BYTES} bytes`, {
      location: { file, line: 1, column: 1 },
    });
  }
  const lineCounter = new LineCounter();
  const toLocation = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  if (format === 'json') {
    try {
      JSON.parse(text);
    } catch (cause) {
      if (cause instanceof RangeError) throw tooDeep({ file, line: 1, column: 1 });
      // JSON.parse decides validity; jsonc-parser (strict settings) says where the error is,
      // because V8's messages do not always carry a position.
      const errors: ParseError[] = [];
      parseJsonc(text, errors, {
        disallowComments: true,
        allowTrailingComma: false,
        allowEmptyContent: false,
      });
      const first = errors[0];
      const offset = first?.offset ?? 0;
      const before = text.slice(0, offset).split('\n');
      const why =
        first === undefined
          ? (cause as Error).message
          : describeJsonError(printParseErrorCode(first.error));
      throw new M2mError('PLAN_SYNTAX', `malformed JSON: ${why}`, {
        location: { file, line: before.length, column: (before.at(-1)?.length ?? 0) + 1 },
        cause,
      });
    }
  }
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError?.message.includes('Maximum call stack'))
    throw tooDeep(toLocation(firstError.pos[0]));
  if (firstError !== undefined) {
    throw new M2mError(
      'PLAN_SYNTAX',
      `malformed ${format.toUpperCase()}: ${firstError.message.split('\n')[0]}`,
      {
        location: toLocation(firstError.pos[0]),
      },
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 64 });
  } catch (cause) {
    if (cause instanceof RangeError) throw tooDeep({ file, line: 1, column: 1 });
    const aliasOffset = unresolvedAliasOffset(doc);
    throw new M2mError(
      'PLAN_SYNTAX',
      `malformed ${format.toUpperCase()}: ${(cause as Error).message}`,
      {
        location: aliasOffset === undefined ? undefined : toLocation(aliasOffset),
        cause,
      },
    );
  }
  const locateNode = (path: readonly PathSegment[], key?: string): Node | undefined => {
    let node: unknown = doc.contents;
    const segments = key === undefined ? path : [...path, key];
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && item.key.value === segment,
        );
        if (pair === undefined) break;
        // For an unknown key, point at the key itself rather than its value.
        node = key !== undefined && i === segments.length - 1 ? pair.key : (pair.value ?? pair.key);
      } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
        node = node.items[segment];
      } else {
        break;
      }
    }
    return node as Node | undefined;
  };
  assertJsonCompatible(value, [], (path) => {
    const node = locateNode(path);
    return node?.range ? toLocation(node.range[0]) : undefined;
  });
  return {
    value,
    file,
    locate(path, key) {
      const node = locateNode(path, key);
      return node?.range ? toLocation(node.range[0]) : { file, line: 1, column: 1 };
    },
  };
}

/** Offset of the first alias whose anchor is not defined before it (yaml's toJS rejects those). */
function unresolvedAliasOffset(doc: ReturnType<typeof parseDocument>): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (isAlias(node) && node.resolve(doc) === undefined && offset === undefined)
        offset = node.range?.[0];
    },
  });
  return offset;
}

const JSON_ERROR_TEXT: Record<string, string> = {
  InvalidSymbol: 'unexpected character (strings need double quotes)',
  InvalidCommentToken: 'comments are not allowed in JSON',
  PropertyNameExpected: 'expected a property name in double quotes (no trailing commas)',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'unexpected text after the end of the document',
  UnexpectedEndOfString: 'unterminated string',
};

const describeJsonError = (code: string): string => JSON_ERROR_TEXT[code] ?? code;

/** YAML can express values JSON cannot (.inf, .nan, binary); plans must stay JSON. */
function assertJsonCompatible(
  value: unknown,
  path: PathSegment[],
  locate: (path: PathSegment[]) => SourceLocation | undefined,
): void {
  if (path.length > MAX_PLAN_DEPTH) throw tooDeep(locate(path));
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return;
    throw new M2mError('PLAN_SYNTAX', `${value} is not a JSON number`, { location: locate(path) });
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      assertJsonCompatible(item, [...path, index], locate);
    });
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value))
      assertJsonCompatible(item, [...path, key], locate);
    return;
  }
  throw new M2mError('PLAN_SYNTAX', 'value is not representable in JSON', {
    location: locate(path),
  });
}

/** A plan given as an object (API callers): no text, so locations are JSON paths only. */
export function planSourceFromValue(value: unknown, file = '<object>'): PlanSource {
  assertJsonCompatible(value, [], () => undefined);
  return { value, file, locate: () => undefined };
}

export function formatPath(path: readonly PathSegment[]): string {
  return path.reduce<string>(
    (out, segment) =>
      typeof segment === 'number'
        ? `${out}[${segment}]`
        : out === ''
          ? segment
          : `${out}.${segment}`,
    '',
  );
}
