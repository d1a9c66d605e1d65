// Small shared pieces: level and status badges, times, key/value tables.
import { formatTime, isoOf } from './format.js';

export const LevelBadge = (props: { level: string }) => (
  <span class={`badge level-${props.level}`} safe>
    {props.level}
  </span>
);

export const StatusBadge = (props: { status: string }) => (
  <span class={`badge status-${props.status}`} safe>
    {props.status.replace('_', ' ')}
  </span>
);

export const Time = (props: { value: string | Date | null | undefined }) =>
  props.value ? (
    <time datetime={isoOf(props.value)} safe>
      {formatTime(props.value)}
    </time>
  ) : (
    <span>—</span>
  );

/** A definition list of the present values; absent ones are left out. */
export function Facts(props: { rows: Array<[string, unknown]>; mono?: string[] }) {
  const present = props.rows.filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (present.length === 0) return <p class="muted">No details recorded.</p>;
  return (
    <dl class="facts">
      {present.map(([label, value]) => (
        <>
          <dt safe>{label}</dt>
          <dd class={props.mono?.includes(label) ? 'mono' : undefined} safe>
            {typeof value === 'string' ? value : JSON.stringify(value)}
          </dd>
        </>
      ))}
    </dl>
  );
}

export const Empty = (props: { text: string }) => (
  <p class="muted" safe>
    {props.text}
  </p>
);
