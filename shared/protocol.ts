// The wire contract between agent and collector: enrollment over HTTP, then one WebSocket
// carrying JSON messages in both directions.
import Type, { type Static } from 'typebox';
import { VigilEventSchema } from './events.js';
import { limits } from './protocol-constants.js';

// The values (no schemas) live apart so the agent can use them without loading typebox.
export {
  closeCodes,
  defaultPolicy,
  limits,
  PROTOCOL_VERSION,
  protocolMajor,
  webCategories,
} from './protocol-constants.js';

const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const HostInventory = Type.Object({
  hostname: Type.String({ minLength: 1, maxLength: 255 }),
  os: Type.Object({
    platform: Type.String({ maxLength: 32 }),
    distro: Type.String({ maxLength: 128 }),
    release: Type.String({ maxLength: 128 }),
    arch: Type.String({ maxLength: 32 }),
  }),
  systemUuid: Type.String({ maxLength: 128 }),
});
export type HostInventory = Static<typeof HostInventory>;

// --- enrollment (HTTP) -------------------------------------------------------------------

export const EnrollRequest = Type.Object(
  {
    secret: Type.String({ minLength: 1, maxLength: 512 }),
    host: HostInventory,
    agentVersion: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type EnrollRequest = Static<typeof EnrollRequest>;

export const EnrollResponse = Type.Object({
  agentId: Uuid,
  token: Type.String(),
  group: Type.String(),
});
export type EnrollResponse = Static<typeof EnrollResponse>;

// --- policy (collector → agent) ----------------------------------------------------------

export const Policy = Type.Object({
  revision: Type.Integer({ minimum: 0 }),
  scanIntervalMs: Type.Integer({ minimum: 200, maximum: 3_600_000 }),
  heartbeatIntervalMs: Type.Integer({ minimum: 1000, maximum: 600_000 }),
  sensors: Type.Object({
    process: Type.Boolean(),
    capture: Type.Boolean(),
    captureFiles: Type.Boolean(),
    web: Type.Boolean(),
  }),
  web: Type.Object({
    categories: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 }),
    allowedDomains: Type.Array(Type.String({ maxLength: 255 }), { maxItems: 1000 }),
    /** Extra host → category entries merged over the shipped list. */
    extraDomains: Type.Optional(Type.Record(Type.String({ maxLength: 255 }), Type.String({ maxLength: 64 }))),
  }),
  /** minimal: no full URLs, no command lines of ordinary processes; standard: redacted command lines; full: full URLs too. */
  privacyLevel: Type.Union([Type.Literal('minimal'), Type.Literal('standard'), Type.Literal('full')]),
  captureFileFolders: Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 64 }),
});
export type Policy = Static<typeof Policy>;

// --- agent → collector -------------------------------------------------------------------

export const HelloMessage = Type.Object(
  {
    type: Type.Literal('hello'),
    agentId: Uuid,
    agentVersion: Type.String({ maxLength: 64 }),
    protocolVersion: Type.String({ pattern: '^[0-9]+\\.[0-9]+$', maxLength: 16 }),
    host: HostInventory,
    /** The last policy revision the agent holds, so the collector can skip re-sending it. */
    policyRevision: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const EventsMessage = Type.Object(
  {
    type: Type.Literal('events'),
    seq: Seq,
    events: Type.Array(VigilEventSchema, { minItems: 1, maxItems: limits.maxEventsPerBatch }),
  },
  { additionalProperties: false },
);

export const HeartbeatMessage = Type.Object(
  {
    type: Type.Literal('heartbeat'),
    time: Type.String({ format: 'date-time', maxLength: 40 }),
    spoolDepth: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const AgentMessage = Type.Union([HelloMessage, EventsMessage, HeartbeatMessage]);
export type HelloMessage = Static<typeof HelloMessage>;
export type EventsMessage = Static<typeof EventsMessage>;
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;
export type AgentMessage = Static<typeof AgentMessage>;
export const agentMessageTypes = ['hello', 'events', 'heartbeat'] as const;

// --- collector → agent -------------------------------------------------------------------

export const AckMessage = Type.Object({
  type: Type.Literal('ack'),
  seq: Seq,
  /** How many more batches the agent may have in flight; 0 asks it to pause until the next ack. */
  credit: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const PolicyMessage = Type.Object({ type: Type.Literal('policy'), policy: Policy });

/** Ask the agent to hold back its backlog; live events may still be sent. */
export const ThrottleMessage = Type.Object({
  type: Type.Literal('throttle'),
  retryAfterMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
});

export const errorCodes = [
  'bad_json',
  'bad_message',
  'unknown_type',
  'not_hello',
  'protocol_version',
  'agent_mismatch',
  'frame_too_large',
  'store_failed',
  'revoked',
] as const;
export type ProtocolErrorCode = (typeof errorCodes)[number];

export const ErrorMessage = Type.Object({
  type: Type.Literal('error'),
  code: Type.Enum(errorCodes),
  message: Type.String(),
  seq: Type.Optional(Seq),
});

export const CollectorMessage = Type.Union([AckMessage, PolicyMessage, ThrottleMessage, ErrorMessage]);
export type AckMessage = Static<typeof AckMessage>;
export type PolicyMessage = Static<typeof PolicyMessage>;
export type ErrorMessage = Static<typeof ErrorMessage>;
export type CollectorMessage = Static<typeof CollectorMessage>;
