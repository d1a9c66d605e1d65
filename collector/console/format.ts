// How the console writes times and durations: UTC, to the second, the same on every page.
export function formatTime(value: string | Date | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return '—';
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export const isoOf = (value: string | Date | null | undefined): string =>
  value === null || value === undefined ? '' : typeof value === 'string' ? value : value.toISOString();

/** "2 d 3 h", "45 min", "overdue 5 min": the remaining time until a deadline. */
export function formatRemaining(ms: number): string {
  const overdue = ms < 0;
  let rest = Math.abs(Math.round(ms / 1000));
  const days = Math.floor(rest / 86_400);
  rest -= days * 86_400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const seconds = rest - minutes * 60;
  const text =
    days > 0
      ? `${days} d ${hours} h`
      : hours > 0
        ? `${hours} h ${minutes} min`
        : `${minutes} min ${seconds} s`;
  return overdue ? `overdue ${text}` : text;
}

export const asString = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
