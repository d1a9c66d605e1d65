// One event as seen by all rules: field values are stringified and lowercased at most once per event,
// however many rules read them. Fields are addressed by slot numbers handed out when rules compile, so
// a rule reads a cached value with an array index instead of a string-keyed lookup.

/** A field's values: one string (the common case, no array allocated), several, or null when absent. */
export type FieldValues = string | readonly string[] | null;

const slotByName = new Map<string, number>();
const slotNames: string[] = [];

/** The slot of a field name; stable for the life of the process. */
export function fieldSlot(name: string): number {
  let slot = slotByName.get(name);
  if (slot === undefined) {
    slot = slotNames.length;
    slotNames.push(name);
    slotByName.set(name, slot);
  }
  return slot;
}

/** Whether any of the values passes the test. */
export function someValue(values: FieldValues, test: (value: string) => boolean): boolean {
  if (values === null) return false;
  if (typeof values === 'string') return test(values);
  for (const value of values) if (test(value)) return true;
  return false;
}

const scalarText = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return undefined;
};

const flatten = (value: unknown, into: string[]): void => {
  if (value === null || value === undefined) return;
  const text = scalarText(value);
  if (text !== undefined) into.push(text);
  else if (Array.isArray(value)) for (const item of value) flatten(item, into);
  else into.push(JSON.stringify(value));
};

/** Arrays are flattened; objects are compared as their JSON text. */
function toValues(value: unknown): FieldValues {
  if (value === null || value === undefined) return null;
  const text = scalarText(value);
  if (text !== undefined) return text;
  const values: string[] = [];
  flatten(value, values);
  return values;
}

const lowerValues = (values: FieldValues): FieldValues =>
  values === null
    ? null
    : typeof values === 'string'
      ? values.toLowerCase()
      : values.map((v) => v.toLowerCase());

const NOT_FOUND = Symbol('not found');

export class EventView {
  private readonly raw: (FieldValues | undefined)[] = [];
  private readonly lowered: (FieldValues | undefined)[] = [];
  private allRaw: string[] | undefined;
  private allLower: string[] | undefined;

  constructor(readonly fields: Record<string, unknown>) {}

  /** Whether the field is present at all (even with a null value). */
  has(slot: number): boolean {
    return this.lookup(slot) !== NOT_FOUND;
  }

  /** The field's values as strings; null when the field is absent or null. */
  strings(slot: number): FieldValues {
    let values = this.raw[slot];
    if (values === undefined) {
      const value = this.lookup(slot);
      values = value === NOT_FOUND ? null : toValues(value);
      this.raw[slot] = values;
    }
    return values;
  }

  lower(slot: number): FieldValues {
    let values = this.lowered[slot];
    if (values === undefined) {
      values = lowerValues(this.strings(slot));
      this.lowered[slot] = values;
    }
    return values;
  }

  /** Every value of every field, for keyword searches. */
  allStrings(): readonly string[] {
    if (this.allRaw === undefined) {
      const values: string[] = [];
      for (const key in this.fields) flatten(this.fields[key], values);
      this.allRaw = values;
    }
    return this.allRaw;
  }

  allLowerStrings(): readonly string[] {
    this.allLower ??= this.allStrings().map((value) => value.toLowerCase());
    return this.allLower;
  }

  private lookup(slot: number): unknown {
    const name = slotNames[slot]!;
    if (Object.hasOwn(this.fields, name)) return this.fields[name];
    if (!name.includes('.')) return NOT_FOUND;
    // Nested objects are addressed with dotted names (e.g. `host.name`).
    let current: unknown = this.fields;
    for (const part of name.split('.')) {
      if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return NOT_FOUND;
      current = (current as Record<string, unknown>)[part];
    }
    return current;
  }
}
