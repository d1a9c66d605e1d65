/**
 * Erlang C staffing for a breach hotline.
 *
 * Erlang C is computed from the Erlang B recursion
 *   B(0) = 1,  B(n) = A·B(n−1) / (n + A·B(n−1)),   C(N) = N·B(N) / (N − A·(1 − B(N)))
 * which never forms A^N or N!, so it stays finite and accurate at thousands of agents.
 */

export class StaffingInputError extends Error {
  readonly code = 'STAFFING_INVALID_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'StaffingInputError';
  }
}

function requireFinite(name: string, value: number, { min = 0, allowZero = true } = {}): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new StaffingInputError(`${name} must be a finite number, got ${String(value)}`);
  }
  if (value < min || (!allowZero && value === 0)) {
    throw new StaffingInputError(`${name} must be ${allowZero ? '>=' : '>'} ${min}, got ${value}`);
  }
}

function requireFraction(name: string, value: number, { allowOne = false } = {}): void {
  requireFinite(name, value);
  if (value > 1 || (!allowOne && value === 1)) {
    throw new StaffingInputError(
      `${name} must be a fraction ${allowOne ? 'in [0, 1]' : 'in [0, 1)'}, got ${value}`,
    );
  }
}

/** Offered load in Erlangs: calls arriving per interval × handle time / interval length. */
export function trafficIntensity(callsPerInterval: number, ahtSec: number, intervalSec: number): number {
  requireFinite('callsPerInterval', callsPerInterval);
  requireFinite('ahtSec', ahtSec, { allowZero: false });
  requireFinite('intervalSec', intervalSec, { allowZero: false });
  return (callsPerInterval * ahtSec) / intervalSec;
}

/** Erlang B blocking probability for `agents` servers and `trafficErlangs` offered load. */
export function erlangB(agents: number, trafficErlangs: number): number {
  if (!Number.isInteger(agents) || agents < 0) {
    throw new StaffingInputError(`agents must be a non-negative integer, got ${agents}`);
  }
  requireFinite('trafficErlangs', trafficErlangs);
  let blocking = 1;
  for (let n = 1; n <= agents; n++) {
    blocking = (trafficErlangs * blocking) / (n + trafficErlangs * blocking);
  }
  return blocking;
}

/** Erlang C from the Erlang B value of the same agent count (no second recursion). */
function erlangCFromB(agents: number, trafficErlangs: number, blocking: number): number {
  if (trafficErlangs === 0) return 0;
  if (agents <= trafficErlangs) return 1;
  return (agents * blocking) / (agents - trafficErlangs * (1 - blocking));
}

/** Probability that a call has to wait (Erlang C). 1 when the agents cannot keep up with the load. */
export function erlangC(agents: number, trafficErlangs: number): number {
  return erlangCFromB(agents, trafficErlangs, erlangB(agents, trafficErlangs));
}

/** Service level from the Erlang C value, so a search step costs O(1). */
function serviceLevelFromC(
  agents: number,
  traffic: number,
  waiting: number,
  ahtSec: number,
  targetAnswerSec: number,
): number {
  if (traffic === 0) return 1;
  if (agents <= traffic) return 0;
  return 1 - waiting * Math.exp((-(agents - traffic) * targetAnswerSec) / ahtSec);
}

/** Share of calls answered within `targetAnswerSec`. */
export function serviceLevel(
  agents: number,
  callsPerInterval: number,
  ahtSec: number,
  intervalSec: number,
  targetAnswerSec: number,
): number {
  requireFinite('targetAnswerSec', targetAnswerSec);
  const traffic = trafficIntensity(callsPerInterval, ahtSec, intervalSec);
  if (traffic === 0) return 1;
  if (agents <= traffic) return 0;
  const waiting = erlangC(agents, traffic);
  return 1 - waiting * Math.exp((-(agents - traffic) * targetAnswerSec) / ahtSec);
}

/** Average speed of answer in seconds (mean wait over all calls). */
export function averageSpeedOfAnswer(agents: number, trafficErlangs: number, ahtSec: number): number {
  if (trafficErlangs === 0) return 0;
  if (agents <= trafficErlangs) return Number.POSITIVE_INFINITY;
  return (erlangC(agents, trafficErlangs) * ahtSec) / (agents - trafficErlangs);
}

export interface StaffingTarget {
  calls: number;
  intervalSec: number;
  ahtSec: number;
  /** Share of calls to answer within targetAnswerSec, e.g. 0.8. */
  targetServiceLevel: number;
  targetAnswerSec: number;
  /** Share of paid time agents are not on the phones (breaks, training, absence), e.g. 0.3. */
  shrinkage?: number;
  /** Highest acceptable share of time agents spend on calls, e.g. 0.85. */
  maxOccupancy?: number;
}

export interface StaffingDetail {
  trafficErlangs: number;
  /** Agents that must be on the phones during the interval. */
  agents: number;
  /** Agents to schedule once shrinkage is applied. */
  scheduledAgents: number;
  serviceLevel: number;
  probabilityOfWaiting: number;
  averageSpeedOfAnswerSec: number;
  occupancy: number;
  /** Agent counts tried above the lower bound; about √traffic, whatever the load. */
  searchSteps: number;
}

// Guards against floating noise turning 14 / 0.7 = 20.000000000000004 into 21 agents.
const ROUNDING_SLACK = 1e-9;

export function applyShrinkage(agents: number, shrinkage: number): number {
  requireFraction('shrinkage', shrinkage);
  if (agents <= 0) return 0;
  return Math.ceil(agents / (1 - shrinkage) - ROUNDING_SLACK);
}

export function staffingDetail(target: StaffingTarget): StaffingDetail {
  const { calls, intervalSec, ahtSec, targetServiceLevel, targetAnswerSec } = target;
  const shrinkage = target.shrinkage ?? 0;
  const maxOccupancy = target.maxOccupancy ?? 1;
  requireFraction('targetServiceLevel', targetServiceLevel, { allowOne: false });
  requireFinite('targetAnswerSec', targetAnswerSec);
  requireFraction('shrinkage', shrinkage);
  requireFinite('maxOccupancy', maxOccupancy, { allowZero: false });
  if (maxOccupancy > 1) throw new StaffingInputError(`maxOccupancy must be <= 1, got ${maxOccupancy}`);
  const traffic = trafficIntensity(calls, ahtSec, intervalSec);

  if (traffic === 0) {
    return {
      trafficErlangs: 0,
      agents: 0,
      scheduledAgents: 0,
      serviceLevel: 1,
      probabilityOfWaiting: 0,
      averageSpeedOfAnswerSec: 0,
      occupancy: 0,
      searchSteps: 0,
    };
  }

  // Start at the smallest count that can carry the load (and respects occupancy), then walk up.
  // Erlang B is carried along the walk (one recursion step per agent added), so the whole search is
  // one pass of the recursion up to the answer: linear in the load, never quadratic. The answer lies
  // about β·√traffic above the load (square-root staffing), so the walk itself takes ~√traffic steps.
  let agents = Math.max(Math.floor(traffic) + 1, Math.ceil(traffic / maxOccupancy - ROUNDING_SLACK));
  let blocking = erlangB(agents, traffic);
  let waiting = erlangCFromB(agents, traffic, blocking);
  let searchSteps = 0;
  while (serviceLevelFromC(agents, traffic, waiting, ahtSec, targetAnswerSec) < targetServiceLevel) {
    agents++;
    searchSteps++;
    blocking = (traffic * blocking) / (agents + traffic * blocking);
    waiting = erlangCFromB(agents, traffic, blocking);
  }

  return {
    trafficErlangs: traffic,
    agents,
    scheduledAgents: applyShrinkage(agents, shrinkage),
    serviceLevel: serviceLevelFromC(agents, traffic, waiting, ahtSec, targetAnswerSec),
    probabilityOfWaiting: waiting,
    averageSpeedOfAnswerSec: (waiting * ahtSec) / (agents - traffic),
    occupancy: traffic / agents,
    searchSteps,
  };
}

/** Smallest number of agents to schedule (shrinkage applied when given) that meets the service target. */
export function agentsNeeded(target: StaffingTarget): number {
  return staffingDetail(target).scheduledAgents;
}

// ---------------------------------------------------------------------------------------------
// Hotline forecast after breach letters land
// ---------------------------------------------------------------------------------------------

export interface OutsourcerPool {
  /** Agents the outsourcer can put on the line per interval. */
  agents: number;
  shrinkage: number;
}

export interface HotlineForecastInput {
  affectedPeople: number;
  /** Share of notified people who call at all; default 1 %–15 % (published breach-hotline range). */
  callShare?: { low: number; high: number };
  /** Days the hotline stays open; default 14. */
  days?: number;
  /** Share of all calls per day, day 1 first; must sum to 1. Default: see DEFAULT_FRONT_LOADING. */
  frontLoading?: number[];
  /** Local opening hours as whole hours [open, close); default 8–20. */
  hoursOpen?: { open: number; close: number };
  /** Average handle time; default 360 s (breach calls are long: people are worried). */
  ahtSec?: number;
  targetServiceLevel?: number;
  targetAnswerSec?: number;
  /** In-house shrinkage; default 0.3. */
  shrinkage?: number;
  maxOccupancy?: number;
  outsourcerPool?: OutsourcerPool;
  /** How many days get the half-hour breakdown; default 3 (the peak days). */
  detailDays?: number;
}

export interface IntervalForecast {
  /** 1-based day after the letters land. */
  day: number;
  /** Local start time "HH:mm". */
  start: string;
  callsLow: number;
  callsHigh: number;
  /** Agents on the phones (before shrinkage). */
  agentsLow: number;
  agentsHigh: number;
  /** In-house agents to schedule (after shrinkage). */
  inHouseScheduledLow: number;
  inHouseScheduledHigh: number;
  outsourcer?: {
    /** Productive outsourcer agents (pool after its shrinkage). */
    productiveAgents: number;
    /** Share of the needed on-phone agents the pool provides, 0–1. */
    coverageLow: number;
    coverageHigh: number;
    /** In-house agents still to schedule on top of the pool. */
    inHouseTopUpLow: number;
    inHouseTopUpHigh: number;
    /** Pool agents the outsourcer must supply (after its shrinkage) to carry the whole interval alone. */
    requiredPoolLow: number;
    requiredPoolHigh: number;
  };
}

export interface DayForecast {
  day: number;
  callsLow: number;
  callsHigh: number;
  peakAgentsHigh: number;
  peakInHouseScheduledHigh: number;
}

export interface HotlineForecast {
  totalCallsLow: number;
  totalCallsHigh: number;
  days: DayForecast[];
  intervals: IntervalForecast[];
  assumptions: {
    callShare: { low: number; high: number };
    frontLoading: number[];
    intradayWeights: number[];
    hoursOpen: { open: number; close: number };
    ahtSec: number;
    targetServiceLevel: number;
    targetAnswerSec: number;
    shrinkage: number;
  };
}

/**
 * Day-1 share 35 %, then each day carries 75 % of the previous day's share, normalised over the
 * open days. Breach hotlines see most calls in the first days after letters arrive.
 */
export function defaultFrontLoading(days: number): number[] {
  if (!Number.isInteger(days) || days < 1) throw new StaffingInputError(`days must be a positive integer`);
  if (days === 1) return [1];
  const first = 0.35;
  const decay = 0.75;
  const tail = Array.from({ length: days - 1 }, (_, i) => decay ** (i + 1));
  const tailSum = tail.reduce((a, b) => a + b, 0);
  return [first, ...tail.map((w) => ((1 - first) * w) / tailSum)];
}

/**
 * Relative call weight per local hour. Mail is read in the morning, so calls peak late morning,
 * dip at lunch, rise again in the afternoon and fade in the evening. Hours outside the table weigh 0.5.
 */
const HOURLY_WEIGHT: Record<number, number> = {
  8: 0.7,
  9: 1.1,
  10: 1.4,
  11: 1.4,
  12: 1.0,
  13: 1.1,
  14: 1.3,
  15: 1.2,
  16: 1.0,
  17: 0.8,
  18: 0.6,
  19: 0.5,
};

export function intradayWeights(open: number, close: number): number[] {
  if (!Number.isInteger(open) || !Number.isInteger(close) || open < 0 || close > 24 || close <= open) {
    throw new StaffingInputError(`hoursOpen must be whole hours with 0 <= open < close <= 24`);
  }
  const halfHours: number[] = [];
  for (let hour = open; hour < close; hour++) {
    const weight = HOURLY_WEIGHT[hour] ?? 0.5;
    halfHours.push(weight, weight);
  }
  const sum = halfHours.reduce((a, b) => a + b, 0);
  return halfHours.map((w) => w / sum);
}

function formatHalfHour(open: number, index: number): string {
  const minutes = open * 60 + index * 30;
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

const HALF_HOUR_SEC = 1800;

export function hotlineForecast(input: HotlineForecastInput): HotlineForecast {
  const callShare = input.callShare ?? { low: 0.01, high: 0.15 };
  const days = input.days ?? 14;
  const hoursOpen = input.hoursOpen ?? { open: 8, close: 20 };
  const ahtSec = input.ahtSec ?? 360;
  const targetServiceLevel = input.targetServiceLevel ?? 0.8;
  const targetAnswerSec = input.targetAnswerSec ?? 20;
  const shrinkage = input.shrinkage ?? 0.3;
  const detailDays = Math.min(input.detailDays ?? 3, days);

  requireFinite('affectedPeople', input.affectedPeople);
  requireFraction('callShare.low', callShare.low, { allowOne: true });
  requireFraction('callShare.high', callShare.high, { allowOne: true });
  if (callShare.low > callShare.high) throw new StaffingInputError('callShare.low must be <= callShare.high');
  requireFraction('shrinkage', shrinkage);
  const frontLoading = input.frontLoading ?? defaultFrontLoading(days);
  if (frontLoading.length !== days) {
    throw new StaffingInputError(
      `frontLoading needs one share per day (${days}), got ${frontLoading.length}`,
    );
  }
  for (const share of frontLoading) requireFraction('frontLoading[]', share, { allowOne: true });
  const loadingSum = frontLoading.reduce((a, b) => a + b, 0);
  if (Math.abs(loadingSum - 1) > 1e-6)
    throw new StaffingInputError(`frontLoading must sum to 1, got ${loadingSum}`);
  if (input.outsourcerPool) {
    requireFinite('outsourcerPool.agents', input.outsourcerPool.agents);
    requireFraction('outsourcerPool.shrinkage', input.outsourcerPool.shrinkage);
  }
  const weights = intradayWeights(hoursOpen.open, hoursOpen.close);

  const totalCallsLow = input.affectedPeople * callShare.low;
  const totalCallsHigh = input.affectedPeople * callShare.high;
  const staff = (calls: number) =>
    staffingDetail({
      calls,
      intervalSec: HALF_HOUR_SEC,
      ahtSec,
      targetServiceLevel,
      targetAnswerSec,
      shrinkage,
      maxOccupancy: input.maxOccupancy,
    });
  const productive = input.outsourcerPool
    ? Math.floor(input.outsourcerPool.agents * (1 - input.outsourcerPool.shrinkage) + ROUNDING_SLACK)
    : 0;

  const dayForecasts: DayForecast[] = [];
  const intervals: IntervalForecast[] = [];
  frontLoading.forEach((share, dayIndex) => {
    const day = dayIndex + 1;
    let peakAgentsHigh = 0;
    let peakInHouseScheduledHigh = 0;
    weights.forEach((weight, slot) => {
      const callsLow = totalCallsLow * share * weight;
      const callsHigh = totalCallsHigh * share * weight;
      const low = staff(callsLow);
      const high = staff(callsHigh);
      peakAgentsHigh = Math.max(peakAgentsHigh, high.agents);
      peakInHouseScheduledHigh = Math.max(peakInHouseScheduledHigh, high.scheduledAgents);
      if (day > detailDays) return;
      const interval: IntervalForecast = {
        day,
        start: formatHalfHour(hoursOpen.open, slot),
        callsLow,
        callsHigh,
        agentsLow: low.agents,
        agentsHigh: high.agents,
        inHouseScheduledLow: low.scheduledAgents,
        inHouseScheduledHigh: high.scheduledAgents,
      };
      if (input.outsourcerPool) {
        const coverage = (needed: number) => (needed === 0 ? 1 : Math.min(1, productive / needed));
        const topUp = (needed: number) => applyShrinkage(Math.max(0, needed - productive), shrinkage);
        interval.outsourcer = {
          productiveAgents: productive,
          coverageLow: coverage(low.agents),
          coverageHigh: coverage(high.agents),
          inHouseTopUpLow: topUp(low.agents),
          inHouseTopUpHigh: topUp(high.agents),
          requiredPoolLow: applyShrinkage(low.agents, input.outsourcerPool.shrinkage),
          requiredPoolHigh: applyShrinkage(high.agents, input.outsourcerPool.shrinkage),
        };
      }
      intervals.push(interval);
    });
    dayForecasts.push({
      day,
      callsLow: totalCallsLow * share,
      callsHigh: totalCallsHigh * share,
      peakAgentsHigh,
      peakInHouseScheduledHigh,
    });
  });

  return {
    totalCallsLow,
    totalCallsHigh,
    days: dayForecasts,
    intervals,
    assumptions: {
      callShare,
      frontLoading,
      intradayWeights: weights,
      hoursOpen,
      ahtSec,
      targetServiceLevel,
      targetAnswerSec,
      shrinkage,
    },
  };
}
