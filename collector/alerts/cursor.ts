// Opaque list cursors: the sort order and the position of the last alert of a page.
import { BadCursorError } from './errors.js';
import type { AlertPosition, AlertSort } from './repository.js';

export function encodeCursor(sort: AlertSort, order: 'asc' | 'desc', position: AlertPosition): string {
  return Buffer.from(JSON.stringify([sort, order, position.value, position.id])).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The position in a cursor made for this sort order; BadCursorError otherwise. */
export function decodeCursor(cursor: string, sort: AlertSort, order: 'asc' | 'desc'): AlertPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    throw new BadCursorError();
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw new BadCursorError();
  const [cursorSort, cursorOrder, value, id] = parsed as unknown[];
  if (cursorSort !== sort || cursorOrder !== order || typeof id !== 'string' || !UUID.test(id))
    throw new BadCursorError();
  const isTime = sort === 'last_seen' || sort === 'first_seen';
  const isText = sort === 'status' || sort === 'workstation' || sort === 'assignee';
  const valid = isTime
    ? typeof value === 'string' && !Number.isNaN(Date.parse(value))
    : isText
      ? typeof value === 'string' && value.length <= 512
      : Number.isInteger(value);
  if (!valid) throw new BadCursorError();
  return { value: value as string | number, id };
}
