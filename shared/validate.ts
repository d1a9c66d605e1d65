// Compiled validators for the wire schemas, with errors phrased for a human. Messages are
// dispatched on `type` first so an error names the message and field that is wrong, instead of
// listing every member of a union.
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Format from 'typebox/format';
import { eventEnvelopeSchemas, type VigilEvent } from './events.js';
import {
  AckMessage,
  type AgentMessage,
  type CollectorMessage,
  EnrollRequest,
  ErrorMessage,
  EventsMessage,
  HeartbeatMessage,
  HelloMessage,
  PolicyMessage,
  ThrottleMessage,
} from './protocol.js';
import { registerTimestampFormat } from './timestamp.js';

// Compiled validators check times with shared/timestamp.ts (what PostgreSQL stores), not typebox's
// generic date-time; registered before any schema here is compiled (compiling is lazy).
registerTimestampFormat(Format);

export type Validation<T> =
  | { ok: true; value: T }
  | { ok: false; code: 'bad_json' | 'unknown_type' | 'bad_message'; errors: string[] };

/**
 * Compiles on first use: a process only pays (in memory and start time) for the messages it
 * actually checks — the agent never needs the collector's half, and most event types are rare.
 */
export function validator<T>(schema: TSchema): (value: unknown) => Validation<T> {
  let compiled: ReturnType<typeof Compile> | undefined;
  return (value) => {
    compiled ??= Compile(schema);
    if (compiled.Check(value)) return { ok: true, value: value as T };
    const errors = compiled
      .Errors(value)
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'}: ${e.message}`);
    return { ok: false, code: 'bad_message', errors };
  };
}

function byType<T>(schemas: Record<string, TSchema>): (value: unknown) => Validation<T> {
  const validators = new Map(Object.entries(schemas).map(([type, schema]) => [type, validator<T>(schema)]));
  return (value) => {
    const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
    const validate = typeof type === 'string' ? validators.get(type) : undefined;
    if (!validate) {
      return { ok: false, code: 'unknown_type', errors: [`unknown message type ${JSON.stringify(type)}`] };
    }
    return validate(value);
  };
}

const eventValidators = new Map(
  Object.entries(eventEnvelopeSchemas).map(([type, schema]) => [type, validator<VigilEvent>(schema)]),
);

/** Validates one event; the error names the event's index and type when called from a batch. */
export const validateEvent = (value: unknown): Validation<VigilEvent> => {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const validate = typeof type === 'string' ? eventValidators.get(type) : undefined;
  if (!validate)
    return { ok: false, code: 'unknown_type', errors: [`unknown event type ${JSON.stringify(type)}`] };
  return validate(value);
};

export const validateAgentMessage = byType<AgentMessage>({
  hello: HelloMessage,
  events: EventsMessage,
  heartbeat: HeartbeatMessage,
});

export const validateCollectorMessage = byType<CollectorMessage>({
  ack: AckMessage,
  policy: PolicyMessage,
  throttle: ThrottleMessage,
  error: ErrorMessage,
});

export const validateEnrollRequest = validator<EnrollRequest>(EnrollRequest);

/** Parses a text frame: JSON first, then the schema of its `type`. */
export function parseFrame<T>(text: string, validate: (value: unknown) => Validation<T>): Validation<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: 'bad_json', errors: [(err as Error).message] };
  }
  return validate(value);
}
