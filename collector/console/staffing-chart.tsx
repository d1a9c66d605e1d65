// The hotline staffing forecast as an inline SVG bar chart: agents needed on the phones per half
// hour (the high-call estimate as the bar, the low estimate as a darker inner bar), with lines for
// the in-house agents to schedule once shrinkage is applied and, when an outsourcer pool is set, the
// pool agents the outsourcer must supply. No client-side library.
import type { IntervalForecast } from '../incidents/staffing.js';

const WIDTH = 720;
const HEIGHT = 200;
const PAD = { left: 36, right: 8, top: 12, bottom: 28 };

export function StaffingChart(props: { day: number; intervals: IntervalForecast[] }) {
  const { intervals } = props;
  const pool = intervals.some((i) => i.outsourcer);
  const peak = Math.max(
    1,
    ...intervals.map((i) =>
      Math.max(i.agentsHigh, i.inHouseScheduledHigh, i.outsourcer?.requiredPoolHigh ?? 0),
    ),
  );
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, intervals.length);
  const barW = Math.max(2, slot * 0.8);
  const y = (value: number) => PAD.top + plotH - (value / peak) * plotH;
  const peakHigh = Math.max(0, ...intervals.map((i) => i.agentsHigh));
  const peakLow = Math.max(0, ...intervals.map((i) => i.agentsLow));
  const peakScheduled = Math.max(0, ...intervals.map((i) => i.inHouseScheduledHigh));
  const peakPool = Math.max(0, ...intervals.map((i) => i.outsourcer?.requiredPoolHigh ?? 0));
  const label = `Day ${props.day}: agents on the phones per half hour, peak ${peakLow} to ${peakHigh}; in-house to schedule (after shrinkage) up to ${peakScheduled}${pool ? `; outsourcer must supply up to ${peakPool} pool agents` : ''}`;
  const centre = (index: number) => PAD.left + index * slot + slot / 2;
  const line = (value: (i: IntervalForecast) => number) =>
    intervals
      .map((interval, index) => `${centre(index).toFixed(1)},${y(value(interval)).toFixed(1)}`)
      .join(' ');
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={label}
        xmlns="http://www.w3.org/2000/svg"
        preserveAspectRatio="xMidYMid meet"
      >
        <line class="axis" x1={PAD.left} y1={PAD.top + plotH} x2={WIDTH - PAD.right} y2={PAD.top + plotH} />
        <line class="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={PAD.top + plotH} />
        <text class="tick" x={PAD.left - 4} y={PAD.top + 4} text-anchor="end">
          {String(peak)}
        </text>
        <text class="tick" x={PAD.left - 4} y={PAD.top + plotH} text-anchor="end">
          0
        </text>
        {intervals.map((interval, index) => {
          const x = PAD.left + index * slot + (slot - barW) / 2;
          return (
            <g>
              <rect
                class="bar-high"
                x={x.toFixed(1)}
                y={y(interval.agentsHigh).toFixed(1)}
                width={barW.toFixed(1)}
                height={(PAD.top + plotH - y(interval.agentsHigh)).toFixed(1)}
              >
                <title safe>
                  {`${interval.start}: ${interval.agentsLow}–${interval.agentsHigh} on the phones; schedule ${interval.inHouseScheduledLow}–${interval.inHouseScheduledHigh} in-house${interval.outsourcer ? `, or ${interval.outsourcer.requiredPoolLow}–${interval.outsourcer.requiredPoolHigh} outsourcer pool agents (pool gives ${interval.outsourcer.productiveAgents} productive; in-house top-up ${interval.outsourcer.inHouseTopUpLow}–${interval.outsourcer.inHouseTopUpHigh})` : ''}`}
                </title>
              </rect>
              <rect
                class="bar-low"
                x={x.toFixed(1)}
                y={y(interval.agentsLow).toFixed(1)}
                width={barW.toFixed(1)}
                height={(PAD.top + plotH - y(interval.agentsLow)).toFixed(1)}
              />
              {index % 4 === 0 && (
                <text class="tick" x={(x + barW / 2).toFixed(1)} y={HEIGHT - 8} text-anchor="middle" safe>
                  {interval.start}
                </text>
              )}
            </g>
          );
        })}
        <polyline
          class="line-scheduled"
          fill="none"
          stroke="#b45309"
          stroke-width="2"
          points={line((i) => i.inHouseScheduledHigh)}
        >
          <title>In-house agents to schedule (after shrinkage), high estimate</title>
        </polyline>
        {pool && (
          <polyline
            class="line-pool"
            fill="none"
            stroke="#7c3aed"
            stroke-width="2"
            stroke-dasharray="4 3"
            points={line((i) => i.outsourcer?.requiredPoolHigh ?? 0)}
          >
            <title>Outsourcer pool agents required, high estimate</title>
          </polyline>
        )}
      </svg>
      <figcaption safe>{label}</figcaption>
    </figure>
  );
}

/** The detailed intervals grouped by day (the forecast details the peak days). */
export function intervalsByDay(
  intervals: IntervalForecast[],
): Array<{ day: number; intervals: IntervalForecast[] }> {
  const days = new Map<number, IntervalForecast[]>();
  for (const interval of intervals) {
    const list = days.get(interval.day) ?? [];
    list.push(interval);
    days.set(interval.day, list);
  }
  return [...days.entries()].sort((a, b) => a[0] - b[0]).map(([day, list]) => ({ day, intervals: list }));
}
