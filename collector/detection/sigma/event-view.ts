// One event as seen by all rules: field values are stringified and lowercased at most once per event,
// however many rules read them.

type Strings = readonly string[] | null;

const stringify = (value: unknown, into: string[]): void => {
  if (value === null || value === undefined) return;
  if (typeof value === 'string') into.push(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    into.push(String(value));
  else if (Array.isArray(value)) for (const item of value) stringify(item, into);
  else into.push(JSON.stringify(value));
};

const lowerAll = (values: readonly string[]): string[] => values.map((value) => value.toLowerCase());

export class EventView {
  private readonly rawCache = new Map<string, Strings>();
  private readonly lowerCache = new Map<string, Strings>();
  private allRaw: string[] | undefined;
  private allLower: string[] | undefined;

  constructor(readonly fields: Record<string, unknown>) {}

  /** Whether the field is present at all (even with a null value). */
  has(name: string): boolean {
    return this.lookup(name).found;
  }

  /** The field's value, or undefined when it is absent. */
  value(name: string): unknown {
    return this.lookup(name).value;
  }

  /** The field's values as strings (arrays are flattened); null when the field is absent or null. */
  strings(name: string): Strings {
    let cached = this.rawCache.get(name);
    if (cached === undefined) {
      const values: string[] = [];
      stringify(this.lookup(name).value, values);
      cached = values.length === 0 && this.isNullish(name) ? null : values;
      this.rawCache.set(name, cached);
    }
    return cached;
  }

  lower(name: string): Strings {
    let cached = this.lowerCache.get(name);
    if (cached === undefined) {
      const raw = this.strings(name);
      cached = raw === null ? null : lowerAll(raw);
      this.lowerCache.set(name, cached);
    }
    return cached;
  }

  /** Every value of every field, for keyword searches. */
  allStrings(): readonly string[] {
    if (this.allRaw === undefined) {
      const values: string[] = [];
      for (const key in this.fields) stringify(this.fields[key], values);
      this.allRaw = values;
    }
    return this.allRaw;
  }

  allLowerStrings(): readonly string[] {
    this.allLower ??= lowerAll(this.allStrings());
    return this.allLower;
  }

  private isNullish(name: string): boolean {
    const value = this.lookup(name).value;
    return value === null || value === undefined;
  }

  private lookup(name: string): { found: boolean; value: unknown } {
    if (Object.hasOwn(this.fields, name)) return { found: true, value: this.fields[name] };
    if (!name.includes('.')) return { found: false, value: undefined };
    // Nested objects are addressed with dotted names (e.g. `host.name`).
    let current: unknown = this.fields;
    for (const part of name.split('.')) {
      if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) {
        return { found: false, value: undefined };
      }
      current = (current as Record<string, unknown>)[part];
    }
    return { found: true, value: current };
  }
}
