// The hotline staffing forecast as an inline SVG bar chart: agents needed per half hour (the
// high-call estimate as the bar, the low estimate as a darker inner bar). No client-side library.
import type { IntervalForecast } from '../incidents/staffing.js';

const WIDTH = 720;
const HEIGHT = 200;
const PAD = { left: 36, right: 8, top: 12, bottom: 28 };

export function StaffingChart(props: { day: number; intervals: IntervalForecast[] }) {
  const { intervals } = props;
  const peak = Math.max(1, ...intervals.map((i) => i.agentsHigh));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, intervals.length);
  const barW = Math.max(2, slot * 0.8);
  const y = (value: number) => PAD.top + plotH - (value / peak) * plotH;
  const peakHigh = Math.max(0, ...intervals.map((i) => i.agentsHigh));
  const peakLow = Math.max(0, ...intervals.map((i) => i.agentsLow));
  const label = `Day ${props.day}: agents needed per half hour, peak ${peakLow} to ${peakHigh}`;
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
                <title safe>{`${interval.start}: ${interval.agentsLow}–${interval.agentsHigh} agents`}</title>
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
