import { describe, expect, it } from 'vitest';
import {
  agentsNeeded,
  averageSpeedOfAnswer,
  defaultFrontLoading,
  erlangB,
  erlangC,
  hotlineForecast,
  intradayWeights,
  StaffingInputError,
  serviceLevel,
  staffingDetail,
  trafficIntensity,
} from '../../../collector/incidents/staffing.js';

/** Textbook Erlang C from the closed form, summed in log space (independent of the B recursion). */
function erlangCClosedForm(agents: number, traffic: number): number {
  const logTerm = (k: number) => k * Math.log(traffic) - logFactorial(k);
  const logTop = logTerm(agents) + Math.log(agents / (agents - traffic));
  const terms = Array.from({ length: agents }, (_, k) => logTerm(k));
  const max = Math.max(logTop, ...terms);
  const sum = terms.reduce((acc, t) => acc + Math.exp(t - max), 0);
  const top = Math.exp(logTop - max);
  return top / (sum + top);
}
function logFactorial(n: number): number {
  let total = 0;
  for (let i = 2; i <= n; i++) total += Math.log(i);
  return total;
}

const CALL_CENTRE_HELPER = {
  calls: 100,
  intervalSec: 1800,
  ahtSec: 180,
  targetServiceLevel: 0.8,
  targetAnswerSec: 20,
};

describe('Erlang C', () => {
  it('computes the traffic intensity in Erlangs', () => {
    expect(trafficIntensity(100, 180, 1800)).toBe(10);
  });

  it("matches callcentrehelper's worked example: 10 Erlangs, 11 agents wait with probability 0.6821", () => {
    expect(erlangC(11, 10)).toBeCloseTo(0.6821, 4);
    // Same example: service level with 11 agents is about 39 %.
    expect(serviceLevel(11, 100, 180, 1800, 20)).toBeCloseTo(0.3896, 3);
  });

  it('needs 14 agents for 100 calls per 30 min, 180 s AHT at 80/20, and 20 after 30 % shrinkage', () => {
    expect(agentsNeeded(CALL_CENTRE_HELPER)).toBe(14);
    expect(serviceLevel(13, 100, 180, 1800, 20)).toBeLessThan(0.8);
    expect(serviceLevel(14, 100, 180, 1800, 20)).toBeGreaterThanOrEqual(0.8);
    // 14 / 0.7 is 20.000000000000004 in floating point; it must not round up to 21.
    expect(agentsNeeded({ ...CALL_CENTRE_HELPER, shrinkage: 0.3, maxOccupancy: 0.85 })).toBe(20);
  });

  it('reports ASA and occupancy for the callcentrehelper example', () => {
    const detail = staffingDetail(CALL_CENTRE_HELPER);
    expect(detail.occupancy).toBeCloseTo(10 / 14, 10);
    expect(detail.averageSpeedOfAnswerSec).toBeCloseTo((erlangC(14, 10) * 180) / 4, 10);
    expect(detail.averageSpeedOfAnswerSec).toBeLessThan(20);
  });

  it('agrees with the closed form on the westbay example (360 calls / 30 min, 240 s, 55 agents)', () => {
    const traffic = trafficIntensity(360, 240, 1800);
    expect(traffic).toBe(48);
    expect(erlangC(55, 48)).toBeCloseTo(erlangCClosedForm(55, 48), 12);
    const sl = serviceLevel(55, 360, 240, 1800, 15);
    expect(sl).toBeCloseTo(1 - erlangCClosedForm(55, 48) * Math.exp((-7 * 15) / 240), 12);
    expect(averageSpeedOfAnswer(55, 48, 240)).toBeCloseTo((erlangCClosedForm(55, 48) * 240) / 7, 10);
  });

  it('stays finite and accurate at hundreds and thousands of agents', () => {
    for (const [agents, traffic] of [
      [300, 280],
      [800, 760],
      [2500, 2450],
    ] as const) {
      const value = erlangC(agents, traffic);
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(0);
      expect(value).toBeLessThan(1);
      expect(value).toBeCloseTo(erlangCClosedForm(agents, traffic), 9);
    }
    // 6000 calls in 30 min at 300 s AHT = 1000 Erlangs.
    const agents = agentsNeeded({ ...CALL_CENTRE_HELPER, calls: 6000, ahtSec: 300 });
    expect(agents).toBeGreaterThan(1000);
    expect(agents).toBeLessThan(1060);
  });

  it('returns probability 1 when agents cannot carry the load and 0 when there is no traffic', () => {
    expect(erlangC(10, 10)).toBe(1);
    expect(erlangC(5, 0)).toBe(0);
    expect(serviceLevel(9, 100, 180, 1800, 20)).toBe(0);
    expect(agentsNeeded({ ...CALL_CENTRE_HELPER, calls: 0 })).toBe(0);
  });

  it('Erlang B matches its recursion base cases', () => {
    expect(erlangB(0, 3)).toBe(1);
    expect(erlangB(1, 1)).toBeCloseTo(0.5, 12);
  });

  it('raises agents to respect a maximum occupancy', () => {
    // 10 Erlangs at 60 % occupancy needs ceil(10 / 0.6) = 17 agents even though 14 meet 80/20.
    expect(agentsNeeded({ ...CALL_CENTRE_HELPER, maxOccupancy: 0.6 })).toBe(17);
  });

  it('rejects bad input with a coded error', () => {
    expect(() => agentsNeeded({ ...CALL_CENTRE_HELPER, ahtSec: 0 })).toThrow(StaffingInputError);
    expect(() => agentsNeeded({ ...CALL_CENTRE_HELPER, shrinkage: 1 })).toThrow(/shrinkage/);
    expect(() => agentsNeeded({ ...CALL_CENTRE_HELPER, targetServiceLevel: 1 })).toThrow(
      /targetServiceLevel/,
    );
    expect(() => erlangC(2.5, 1)).toThrow(StaffingInputError);
    try {
      agentsNeeded({ ...CALL_CENTRE_HELPER, calls: Number.NaN });
    } catch (error) {
      expect((error as StaffingInputError).code).toBe('STAFFING_INVALID_INPUT');
    }
  });
});

describe('hotline forecast', () => {
  it('front-loads calls: 35 % on day 1, decaying, summing to 1', () => {
    const shares = defaultFrontLoading(14);
    expect(shares).toHaveLength(14);
    expect(shares[0]).toBe(0.35);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let i = 2; i < shares.length; i++) expect(shares[i]!).toBeLessThan(shares[i - 1]!);
  });

  it('spreads a day over half-hour slots with weights summing to 1', () => {
    const weights = intradayWeights(8, 20);
    expect(weights).toHaveLength(24);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Math.max(...weights)).toBe(weights[4]); // 10:00 is the peak
  });

  it('forecasts calls and agents per half hour for 50 000 affected people', () => {
    const forecast = hotlineForecast({ affectedPeople: 50_000 });
    expect(forecast.totalCallsLow).toBe(500);
    expect(forecast.totalCallsHigh).toBe(7500);
    expect(forecast.days).toHaveLength(14);
    expect(forecast.days[0]!.callsHigh).toBeCloseTo(7500 * 0.35, 9);
    // Default: the first 3 days, 24 half hours each, 08:00 to 19:30.
    expect(forecast.intervals).toHaveLength(72);
    expect(forecast.intervals[0]!.start).toBe('08:00');
    expect(forecast.intervals[23]!.start).toBe('19:30');
    const totalDay1 = forecast.intervals.filter((i) => i.day === 1).reduce((sum, i) => sum + i.callsHigh, 0);
    expect(totalDay1).toBeCloseTo(2625, 6);
    const peak = forecast.intervals.find((i) => i.day === 1 && i.start === '10:00')!;
    // The staffing per slot is the Erlang C answer for that slot's calls at 360 s, 80/20, 30 % shrinkage.
    expect(peak.agentsHigh).toBe(
      agentsNeeded({
        calls: peak.callsHigh,
        intervalSec: 1800,
        ahtSec: 360,
        targetServiceLevel: 0.8,
        targetAnswerSec: 20,
      }),
    );
    expect(peak.inHouseScheduledHigh).toBe(Math.ceil(peak.agentsHigh / 0.7 - 1e-9));
    expect(forecast.days[0]!.peakAgentsHigh).toBe(peak.agentsHigh);
    expect(peak.agentsLow).toBeLessThan(peak.agentsHigh);
  });

  it("reports how much of the need an outsourcer's pool covers", () => {
    const forecast = hotlineForecast({
      affectedPeople: 50_000,
      outsourcerPool: { agents: 40, shrinkage: 0.2 },
    });
    const peak = forecast.intervals.find((i) => i.day === 1 && i.start === '10:00')!;
    expect(peak.outsourcer?.productiveAgents).toBe(32);
    expect(peak.outsourcer?.coverageHigh).toBeCloseTo(Math.min(1, 32 / peak.agentsHigh), 12);
    expect(peak.outsourcer?.inHouseTopUpHigh).toBe(Math.ceil(Math.max(0, peak.agentsHigh - 32) / 0.7 - 1e-9));
    expect(peak.outsourcer?.coverageLow).toBe(1);
    expect(peak.outsourcer?.inHouseTopUpLow).toBe(0);
  });

  it('rejects inconsistent inputs', () => {
    expect(() => hotlineForecast({ affectedPeople: 100, days: 3, frontLoading: [0.5, 0.5] })).toThrow(
      /one share per day/,
    );
    expect(() => hotlineForecast({ affectedPeople: 100, days: 2, frontLoading: [0.5, 0.4] })).toThrow(
      /sum to 1/,
    );
    expect(() => hotlineForecast({ affectedPeople: 100, callShare: { low: 0.2, high: 0.1 } })).toThrow(/low/);
    expect(() => hotlineForecast({ affectedPeople: 100, hoursOpen: { open: 20, close: 8 } })).toThrow(
      /hoursOpen/,
    );
  });
});

describe('Erlang C search at breach scale', () => {
  const meets = (agents: number, traffic: number) =>
    1 - erlangCClosedForm(agents, traffic) * Math.exp((-(agents - traffic) * 20) / 360) >= 0.8;

  it('finds the smallest agent count for 2 000 Erlangs, checked against the closed form', () => {
    const calls = 10_000; // per half hour at 360 s AHT: 2 000 Erlangs
    const detail = staffingDetail({
      calls,
      intervalSec: 1800,
      ahtSec: 360,
      targetServiceLevel: 0.8,
      targetAnswerSec: 20,
    });
    expect(detail.trafficErlangs).toBe(2000);
    expect(meets(detail.agents, 2000)).toBe(true);
    expect(meets(detail.agents - 1, 2000)).toBe(false);
  });

  it('walks about √traffic agent counts, not the load, above the lower bound', () => {
    for (const traffic of [10, 1_000, 100_000, 1_000_000]) {
      const detail = staffingDetail({
        calls: (traffic * 1800) / 360,
        intervalSec: 1800,
        ahtSec: 360,
        targetServiceLevel: 0.8,
        targetAnswerSec: 20,
      });
      expect(detail.agents).toBeGreaterThan(traffic);
      expect(detail.searchSteps).toBeLessThanOrEqual(2 * Math.sqrt(traffic) + 5);
    }
  });

  it('forecasts a 300-million-people breach with agents just above the offered load', () => {
    const forecast = hotlineForecast({ affectedPeople: 300_000_000 });
    const peak = forecast.intervals.reduce((a, b) => (b.callsHigh > a.callsHigh ? b : a));
    const traffic = (peak.callsHigh * 360) / 1800;
    expect(peak.agentsHigh).toBeGreaterThan(traffic);
    // Square-root staffing: the excess over the load is a few √A, not a multiple of A.
    expect(peak.agentsHigh - traffic).toBeLessThan(3 * Math.sqrt(traffic));
  });

  it('says how many pool agents an outsourcer must supply per half hour', () => {
    const forecast = hotlineForecast({
      affectedPeople: 100_000,
      outsourcerPool: { agents: 40, shrinkage: 0.2 },
    });
    for (const interval of forecast.intervals) {
      expect(interval.outsourcer!.requiredPoolHigh).toBe(Math.ceil(interval.agentsHigh / 0.8 - 1e-9));
    }
  });
});
