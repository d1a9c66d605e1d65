// The `date-time` format of every wire schema: RFC 3339, narrowed to what PostgreSQL's timestamptz
// accepts (year 0001 or later, UTC offset under 16 h). A time the schema passes must never make the
// database refuse a batch: a refused batch is resent forever. One regex, also cheaper than the
// generic check (the collector runs it for every event). Registered as typebox's `date-time` by
// shared/validate.ts; the generated checks (shared/generated) call it directly.

const timestamp = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d{1,9})?(?:[Zz]|[+-](\d\d):(\d\d))$/;
const daysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeapYear = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);

export function isTimestamp(value: string): boolean {
  const match = timestamp.exec(value);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const lastDay = month === 2 && isLeapYear(year) ? 29 : daysInMonth[month - 1];
  if (year < 1 || lastDay === undefined || day < 1 || day > lastDay) return false;
  // Second 60 is a leap second; PostgreSQL rolls it into the next minute.
  if (Number(match[4]) > 23 || Number(match[5]) > 59 || Number(match[6]) > 60) return false;
  if (match[7] !== undefined && (Number(match[7]) > 15 || Number(match[8]) > 59)) return false;
  return true;
}

/** Makes `isTimestamp` the `date-time` format of typebox's compiler; call before compiling. */
export function registerTimestampFormat(format: {
  Set(name: string, check: (value: string) => boolean): void;
}): void {
  format.Set('date-time', isTimestamp);
}
