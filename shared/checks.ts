// The agent's message checks: validators generated at build time from the wire schemas
// (scripts/gen-checks.ts), so the agent loads neither typebox nor the schema modules. Same answers
// and the same `Validation` results as shared/validate.ts, which the collector uses.
import type { VigilEvent } from './events.js';
import { generatedNames, generatedValidator } from './generated-validator.js';
import type { CollectorMessage, HostInventory } from './protocol.js';
import type { Validation } from './validate.js';

function checkByType<T>(prefix: 'event' | 'message', what: string): (value: unknown) => Validation<T> {
  const byType = new Map(
    generatedNames(`${prefix}:`).map((type) => [type, generatedValidator<T>(`${prefix}:${type}`)]),
  );
  return (value) => {
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    const check = typeof type === 'string' ? byType.get(type) : undefined;
    if (!check)
      return { ok: false, code: 'unknown_type', errors: [`unknown ${what} type ${JSON.stringify(type)}`] };
    return check(value);
  };
}

export const checkEvent = checkByType<VigilEvent>('event', 'event');
export const checkCollectorMessage = checkByType<CollectorMessage>('message', 'message');
export const checkHostInventory = generatedValidator<HostInventory>('host-inventory');
