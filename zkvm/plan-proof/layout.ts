import type { ValueType } from '../plan/typecheck.js';

/**
 * Record layouts inside the VM. A record is a block of field elements: a number takes two (the
 * u32 limbs lo, hi of its two's-complement mantissa), a boolean one (0 or 1), a string one (a
 * pointer to the string, see m2m::plan::str). Fields sit in name order.
 */
export interface FieldSlot {
  type: ValueType;
  offset: number;
}

export interface Layout {
  /** Field name -> slot, in name order. */
  fields: Map<string, FieldSlot>;
  /** Felts a record of this layout occupies. */
  stride: number;
}

export const slotWidth = (type: ValueType): number => (type === 'num' ? 2 : 1);

/** ASCII names (the schema allows no others) ordered by code unit, as the reference does. */
export const sortNames = (names: Iterable<string>): string[] =>
  [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** A fresh packed layout for the given field types. `extra` felts are reserved after them. */
export function packedLayout(types: Map<string, ValueType>, extra = 0): Layout {
  const fields = new Map<string, FieldSlot>();
  let offset = 0;
  for (const name of sortNames(types.keys())) {
    const type = types.get(name) as ValueType;
    fields.set(name, { type, offset });
    offset += slotWidth(type);
  }
  return { fields, stride: offset + extra };
}

export const typesOf = (layout: Layout): Map<string, ValueType> =>
  new Map([...layout.fields].map(([name, slot]) => [name, slot.type]));

export function sameLayout(a: Layout, b: Layout): boolean {
  if (a.fields.size !== b.fields.size) return false;
  for (const [name, slot] of a.fields) {
    const other = b.fields.get(name);
    if (other === undefined || other.type !== slot.type || other.offset !== slot.offset)
      return false;
  }
  return true;
}

/**
 * Entries of a plan object in name order. The compiler never depends on key order in the plan
 * document: a verifier recompiles the plan from its canonical JSON (keys sorted).
 */
export const sortedEntries = <T>(record: Record<string, T>): [string, T][] =>
  sortNames(Object.keys(record)).map((name) => [name, record[name] as T]);
