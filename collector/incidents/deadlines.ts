import { readFileSync } from 'node:fs';
import { DateTime, Duration, IANAZone } from 'luxon';

export type ClockName = 'aware' | 'determined' | 'discovered';
export type Audience = 'authority' | 'individuals' | 'media' | 'attorney_general' | 'hhs' | 'credit_bureaus';
export type ThresholdOp = '>' | '>=' | '<' | '<=';

/** Obligations without a fixed period: the text only says "without undue/unreasonable delay". */
export const OPEN_ENDED_WITHIN = ['without_unreasonable_delay', 'without_undue_delay'] as const;
type OpenEndedWithin = (typeof OPEN_ENDED_WITHIN)[number];

export interface Threshold {
  op: ThresholdOp;
  value: number;
}

export interface Source {
  citation: string;
  url: string;
}

export interface Obligation {
  id: string;
  audience: Audience;
  recipient: string;
  clock: ClockName;
  /** ISO-8601 duration, or an open-ended phrase with an optional `outerLimit` duration. */
  within: string;
  outerLimit?: string | null;
  /** Counted from another obligation's deadline, or from the end of the calendar year, instead of the clock. */
  from?: 'calendar_year_end' | { obligation: string };
  threshold: Threshold | null;
  condition?: string;
  source: Source;
  notes?: string;
}

export interface Jurisdiction {
  id: string;
  name: string;
  obligations: Obligation[];
}

export interface JurisdictionTable {
  disclaimer: string;
  reviewedAt: string;
  jurisdictions: Jurisdiction[];
}

export class JurisdictionDataError extends Error {
  readonly code = 'JURISDICTION_DATA_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'JurisdictionDataError';
  }
}

export class UnknownJurisdictionError extends Error {
  readonly code = 'UNKNOWN_JURISDICTION';
  constructor(readonly jurisdictionId: string) {
    super(`Unknown jurisdiction "${jurisdictionId}"`);
    this.name = 'UnknownJurisdictionError';
  }
}

export class DeadlineInputError extends Error {
  readonly code = 'DEADLINE_INVALID_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'DeadlineInputError';
  }
}

const CLOCKS: readonly ClockName[] = ['aware', 'determined', 'discovered'];
const AUDIENCES: readonly Audience[] = [
  'authority',
  'individuals',
  'media',
  'attorney_general',
  'hhs',
  'credit_bureaus',
];
const THRESHOLD_OPS: readonly ThresholdOp[] = ['>', '>=', '<', '<='];

function isOpenEnded(within: string): within is OpenEndedWithin {
  return (OPEN_ENDED_WITHIN as readonly string[]).includes(within);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(where: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new JurisdictionDataError(`${where} must be a string`);
  return value;
}

function requireDuration(where: string, value: unknown): string {
  const text = requireString(where, value);
  if (!Duration.fromISO(text).isValid)
    throw new JurisdictionDataError(`${where} is not an ISO-8601 duration`);
  return text;
}

function validateObligation(where: string, raw: unknown): Obligation {
  if (!isRecord(raw)) throw new JurisdictionDataError(`${where} must be an object`);
  const id = requireString(`${where}.id`, raw.id);
  const audience = raw.audience as Audience;
  if (!AUDIENCES.includes(audience))
    throw new JurisdictionDataError(`${where}.audience is not one of ${AUDIENCES}`);
  const clock = raw.clock as ClockName;
  if (!CLOCKS.includes(clock)) throw new JurisdictionDataError(`${where}.clock is not one of ${CLOCKS}`);
  const within = requireString(`${where}.within`, raw.within);
  if (!isOpenEnded(within)) requireDuration(`${where}.within`, within);
  const outerLimit = raw.outerLimit ?? null;
  if (outerLimit !== null) {
    if (!isOpenEnded(within))
      throw new JurisdictionDataError(`${where}.outerLimit only goes with an open-ended within`);
    requireDuration(`${where}.outerLimit`, outerLimit);
  }
  let from: Obligation['from'];
  if (raw.from !== undefined) {
    if (raw.from === 'calendar_year_end') from = 'calendar_year_end';
    else if (isRecord(raw.from))
      from = { obligation: requireString(`${where}.from.obligation`, raw.from.obligation) };
    else throw new JurisdictionDataError(`${where}.from must be "calendar_year_end" or { obligation }`);
    if (isOpenEnded(within)) throw new JurisdictionDataError(`${where}.from needs a fixed within duration`);
  }
  let threshold: Threshold | null = null;
  if (raw.threshold !== null && raw.threshold !== undefined) {
    if (!isRecord(raw.threshold))
      throw new JurisdictionDataError(`${where}.threshold must be an object or null`);
    const op = raw.threshold.op as ThresholdOp;
    const value = raw.threshold.value;
    if (!THRESHOLD_OPS.includes(op)) throw new JurisdictionDataError(`${where}.threshold.op is invalid`);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new JurisdictionDataError(`${where}.threshold.value must be a number`);
    }
    threshold = { op, value };
  }
  if (!isRecord(raw.source)) throw new JurisdictionDataError(`${where}.source must be an object`);
  const source = {
    citation: requireString(`${where}.source.citation`, raw.source.citation),
    url: requireString(`${where}.source.url`, raw.source.url),
  };
  const obligation: Obligation = {
    id,
    audience,
    recipient: requireString(`${where}.recipient`, raw.recipient),
    clock,
    within,
    outerLimit: outerLimit as string | null,
    threshold,
    source,
  };
  if (from !== undefined) obligation.from = from;
  if (raw.condition !== undefined) obligation.condition = requireString(`${where}.condition`, raw.condition);
  if (raw.notes !== undefined) obligation.notes = requireString(`${where}.notes`, raw.notes);
  return obligation;
}

/** Checks the shape of a jurisdiction table so a bad edit fails loudly at load time, not mid-incident. */
export function validateJurisdictionTable(raw: unknown): JurisdictionTable {
  if (!isRecord(raw)) throw new JurisdictionDataError('table must be an object');
  if (!Array.isArray(raw.jurisdictions)) throw new JurisdictionDataError('jurisdictions must be an array');
  const seen = new Set<string>();
  const jurisdictions = raw.jurisdictions.map((entry: unknown, index): Jurisdiction => {
    const where = `jurisdictions[${index}]`;
    if (!isRecord(entry) || !Array.isArray(entry.obligations)) {
      throw new JurisdictionDataError(`${where} must have obligations[]`);
    }
    const id = requireString(`${where}.id`, entry.id);
    if (seen.has(id)) throw new JurisdictionDataError(`duplicate jurisdiction id ${id}`);
    seen.add(id);
    const obligations = entry.obligations.map((o: unknown, i) =>
      validateObligation(`${where}.obligations[${i}]`, o),
    );
    const ids = new Set(obligations.map((o) => o.id));
    if (ids.size !== obligations.length)
      throw new JurisdictionDataError(`${where} has duplicate obligation ids`);
    for (const o of obligations) {
      if (typeof o.from !== 'object') continue;
      const target = obligations.find((t) => t.id === (o.from as { obligation: string }).obligation);
      if (!target || target.from !== undefined) {
        throw new JurisdictionDataError(`${where}.${o.id}.from must name a clock-based obligation of ${id}`);
      }
    }
    return { id, name: requireString(`${where}.name`, entry.name), obligations };
  });
  return {
    disclaimer: requireString('disclaimer', raw.disclaimer),
    reviewedAt: requireString('reviewedAt', raw.reviewedAt),
    jurisdictions,
  };
}

let cachedTable: JurisdictionTable | undefined;

/** The bundled jurisdictions.json, validated once. */
export function loadJurisdictions(): JurisdictionTable {
  if (!cachedTable) {
    const text = readFileSync(new URL('./jurisdictions.json', import.meta.url), 'utf8');
    cachedTable = validateJurisdictionTable(JSON.parse(text));
  }
  return cachedTable;
}

export type DeadlineStatus = 'scheduled' | 'clock_not_started' | 'no_fixed_limit';

export interface Deadline {
  jurisdictionId: string;
  jurisdictionName: string;
  obligationId: string;
  audience: Audience;
  recipient: string;
  /** Latest permitted time; null when the clock has not started or the law sets no fixed limit. */
  dueAt: Date | null;
  status: DeadlineStatus;
  clock: ClockName;
  /** Human-readable explanation of how dueAt was computed. */
  basis: string;
  source: Source;
  affected: number;
  condition?: string;
  notes?: string;
}

export interface DeadlineInput {
  clocks: Partial<Record<ClockName, Date>>;
  /** Affected people per jurisdiction id. Zero or absent means the jurisdiction does not apply. */
  affected: Record<string, number>;
  /** IANA time zone in which "days" are counted as calendar days. */
  timeZone: string;
}

const CLOCK_PHRASE: Record<ClockName, string> = {
  aware: 'becoming aware of the breach',
  determined: 'determining that a breach occurred',
  discovered: 'discovering the breach',
};

export function meetsThreshold(affected: number, threshold: Threshold | null): boolean {
  if (affected <= 0) return false;
  if (!threshold) return true;
  switch (threshold.op) {
    case '>':
      return affected > threshold.value;
    case '>=':
      return affected >= threshold.value;
    case '<':
      return affected < threshold.value;
    case '<=':
      return affected <= threshold.value;
  }
}

function describeDuration(iso: string): string {
  const duration = Duration.fromISO(iso);
  const parts = Object.entries(duration.toObject()).filter(([, value]) => value !== 0);
  if (parts.length === 0) return 'no later than';
  return parts.map(([unit, value]) => `${value} ${value === 1 ? unit.replace(/s$/, '') : unit}`).join(' ');
}

function formatLocal(at: DateTime): string {
  return `${at.toFormat('yyyy-MM-dd HH:mm')} ${at.zoneName}`;
}

/**
 * Adds an ISO duration in `zone`: hours/minutes are exact elapsed time, days/weeks/months are
 * calendar units that keep the local wall-clock time across DST changes (luxon semantics).
 */
export function addDuration(start: Date, iso: string, zone: string): Date {
  return DateTime.fromJSDate(start, { zone }).plus(Duration.fromISO(iso)).toJSDate();
}

function validateInput(input: DeadlineInput, table: JurisdictionTable): void {
  if (!isRecord(input) || !isRecord(input.clocks) || !isRecord(input.affected)) {
    throw new DeadlineInputError('input needs clocks, affected and timeZone');
  }
  if (typeof input.timeZone !== 'string' || !IANAZone.isValidZone(input.timeZone)) {
    throw new DeadlineInputError(`timeZone "${String(input.timeZone)}" is not a valid IANA zone`);
  }
  for (const [name, value] of Object.entries(input.clocks)) {
    if (!CLOCKS.includes(name as ClockName)) throw new DeadlineInputError(`unknown clock "${name}"`);
    if (value !== undefined && (!(value instanceof Date) || Number.isNaN(value.getTime()))) {
      throw new DeadlineInputError(`clock "${name}" must be a valid Date`);
    }
  }
  for (const [id, count] of Object.entries(input.affected)) {
    if (!table.jurisdictions.some((j) => j.id === id)) throw new UnknownJurisdictionError(id);
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
      throw new DeadlineInputError(`affected["${id}"] must be a non-negative integer`);
    }
  }
}

/** Computes every applicable notification deadline, earliest first (open-ended and not-started last). */
export function computeDeadlines(
  input: DeadlineInput,
  table: JurisdictionTable = loadJurisdictions(),
): Deadline[] {
  validateInput(input, table);
  const zone = input.timeZone;
  const results: Deadline[] = [];

  for (const jurisdiction of table.jurisdictions) {
    const affected = input.affected[jurisdiction.id] ?? 0;
    if (affected <= 0) continue;
    const byId = new Map<string, Deadline>();
    // Clock-based obligations first, so relative ones can refer to their result.
    const ordered = [...jurisdiction.obligations].sort(
      (a, b) => Number(typeof a.from === 'object') - Number(typeof b.from === 'object'),
    );
    for (const obligation of ordered) {
      if (!meetsThreshold(affected, obligation.threshold)) continue;
      const deadline = computeOne(
        jurisdiction,
        obligation,
        affected,
        input.clocks[obligation.clock],
        zone,
        byId,
      );
      byId.set(obligation.id, deadline);
    }
    for (const obligation of jurisdiction.obligations) {
      const deadline = byId.get(obligation.id);
      if (deadline) results.push(deadline);
    }
  }

  return results
    .map((deadline, index) => ({ deadline, index }))
    .sort((a, b) => {
      const at = a.deadline.dueAt?.getTime() ?? Number.POSITIVE_INFINITY;
      const bt = b.deadline.dueAt?.getTime() ?? Number.POSITIVE_INFINITY;
      return at === bt ? a.index - b.index : at - bt;
    })
    .map(({ deadline }) => deadline);
}

function computeOne(
  jurisdiction: Jurisdiction,
  obligation: Obligation,
  affected: number,
  clockAt: Date | undefined,
  zone: string,
  computed: Map<string, Deadline>,
): Deadline {
  const base = {
    jurisdictionId: jurisdiction.id,
    jurisdictionName: jurisdiction.name,
    obligationId: obligation.id,
    audience: obligation.audience,
    recipient: obligation.recipient,
    clock: obligation.clock,
    source: obligation.source,
    affected,
    ...(obligation.condition !== undefined ? { condition: obligation.condition } : {}),
    ...(obligation.notes !== undefined ? { notes: obligation.notes } : {}),
  };
  const clockPhrase = CLOCK_PHRASE[obligation.clock];

  if (typeof obligation.from === 'object') {
    const anchor = computed.get(obligation.from.obligation);
    const period = describeDuration(obligation.within);
    const lead = period === 'no later than' ? 'no later than' : `${period} after`;
    if (!anchor || anchor.dueAt === null) {
      const status: DeadlineStatus =
        anchor?.status === 'no_fixed_limit' ? 'no_fixed_limit' : 'clock_not_started';
      return {
        ...base,
        dueAt: null,
        status,
        basis: `${lead} the ${obligation.from.obligation} notice, which has no date yet`,
      };
    }
    const dueAt = addDuration(anchor.dueAt, obligation.within, zone);
    return {
      ...base,
      dueAt,
      status: 'scheduled',
      basis: `${lead} the ${obligation.from.obligation} notice; counted from its latest permitted date ${formatLocal(DateTime.fromJSDate(anchor.dueAt, { zone }))} — recompute from the actual send date`,
    };
  }

  if (!clockAt) {
    return {
      ...base,
      dueAt: null,
      status: 'clock_not_started',
      basis: `starts on ${clockPhrase}; not yet recorded`,
    };
  }
  const start = DateTime.fromJSDate(clockAt, { zone });

  if (obligation.from === 'calendar_year_end') {
    const yearEnd = start.startOf('year').plus({ years: 1 });
    const dueAt = yearEnd.plus(Duration.fromISO(obligation.within)).toJSDate();
    return {
      ...base,
      dueAt,
      status: 'scheduled',
      basis: `${describeDuration(obligation.within)} after the end of the calendar year ${start.year} in which the breach was discovered`,
    };
  }

  if (isOpenEnded(obligation.within)) {
    const phrase = obligation.within.replaceAll('_', ' ');
    if (!obligation.outerLimit) {
      return {
        ...base,
        dueAt: null,
        status: 'no_fixed_limit',
        basis: `${phrase} after ${clockPhrase} (${formatLocal(start)}); no fixed outer limit`,
      };
    }
    return {
      ...base,
      dueAt: addDuration(clockAt, obligation.outerLimit, zone),
      status: 'scheduled',
      basis: `${phrase}, at the latest ${describeDuration(obligation.outerLimit)} after ${clockPhrase} (${formatLocal(start)})`,
    };
  }

  return {
    ...base,
    dueAt: addDuration(clockAt, obligation.within, zone),
    status: 'scheduled',
    basis: `${describeDuration(obligation.within)} after ${clockPhrase} (${formatLocal(start)})`,
  };
}
