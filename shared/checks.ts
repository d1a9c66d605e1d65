// The agent's message checks: validators generated at build time from the wire schemas
// (scripts/gen-checks.ts), so the agent never loads typebox's compiler. Same answers and the same
// `Validation` results as shared/validate.ts, which the collector uses.
import type { TSchema } from 'typebox';
import { eventEnvelopeSchemas, type VigilEvent } from './events.js';
import { generatedValidator } from './generated-validator.js';
import {
  AckMessage,
  type CollectorMessage,
  ErrorMessage,
  HostInventory,
  PolicyMessage,
  ThrottleMessage,
} from './protocol.js';
import type { Validation } from './validate.js';

function checkByType<T>(
  prefix: 'event' | 'message',
  schemas: Record<string, TSchema>,
  what: string,
): (value: unknown) => Validation<T> {
  const byType = new Map(
    Object.entries(schemas).map(([type, schema]) => [
      type,
      generatedValidator<T>(`${prefix}:${type}`, schema),
    ]),
  );
  return (value) => {
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    const check = typeof type === 'string' ? byType.get(type) : undefined;
    if (!check)
      return { ok: false, code: 'unknown_type', errors: [`unknown ${what} type ${JSON.stringify(type)}`] };
    const checked = check(value);
    return checked.ok ? checked : { ok: false, code: 'bad_message', errors: checked.errors };
  };
}

export const checkEvent = checkByType<VigilEvent>('event', eventEnvelopeSchemas, 'event');
export const checkCollectorMessage = checkByType<CollectorMessage>(
  'message',
  { ack: AckMessage, policy: PolicyMessage, throttle: ThrottleMessage, error: ErrorMessage },
  'message',
);
const inventory = generatedValidator<HostInventory>('host-inventory', HostInventory);
export function checkHostInventory(value: unknown): Validation<HostInventory> {
  const checked = inventory(value);
  return checked.ok ? checked : { ok: false, code: 'bad_message', errors: checked.errors };
}
