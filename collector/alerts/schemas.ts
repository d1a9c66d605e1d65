// Route schemas of the alerts API (typebox), shared by its route modules.
import Type from 'typebox';
import { exceptionScopes } from './exceptions.js';
import { type Alert, alertSorts, alertStatuses, levels } from './repository.js';

export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const AlertSchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  ruleTitle: Type.String(),
  level: Type.Enum(levels),
  tags: Type.Array(Type.String()),
  /** null (and groupId null, hostname "collector") for an alert the collector raised about itself,
   * such as a notification that could not be delivered. */
  agentId: Nullable(Type.String()),
  groupId: Nullable(Type.String()),
  hostname: Type.String(),
  entity: Type.String(),
  status: Type.Enum(alertStatuses),
  statusReason: Nullable(Type.String()),
  assignee: Nullable(Type.Object({ id: Type.String(), username: Type.String() })),
  count: Type.Integer(),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  /** The workstation user the evidence names, as the console queue shows it; the rest of the
   * evidence (command lines, URLs) is read through the audited detail route only. */
  user: Nullable(Type.String()),
});

/** An alert as list and action responses carry it: no evidence beyond the user (see AlertSchema). */
export function alertSummary(alert: Alert): Omit<Alert, 'evidence'> & { user: string | null } {
  const { evidence, ...rest } = alert;
  return { ...rest, user: typeof evidence.user === 'string' ? evidence.user : null };
}

export const EvidenceEventSchema = Type.Object({
  id: Type.String(),
  time: Type.String(),
  receivedAt: Type.String(),
  type: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
});

export const AlertDetailSchema = Type.Intersect([
  AlertSchema,
  Type.Object({
    evidence: Type.Record(Type.String(), Type.Unknown()),
    events: Type.Array(EvidenceEventSchema),
    eventCount: Type.Integer(),
    eventIds: Type.Array(Type.String()),
  }),
]);

export const ListQuery = Type.Object({
  status: Type.Optional(Type.Enum(alertStatuses)),
  level: Type.Optional(Type.Enum(levels)),
  rule: Type.Optional(Type.String({ maxLength: 200 })),
  agent: Type.Optional(Type.String({ format: 'uuid' })),
  group: Type.Optional(Type.String({ maxLength: 200 })),
  assignee: Type.Optional(Type.String({ format: 'uuid' })),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  sort: Type.Optional(Type.Enum(alertSorts)),
  order: Type.Optional(Type.Enum(['asc', 'desc'])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 300 })),
});

export const TransitionBody = Type.Object(
  {
    status: Type.Enum(alertStatuses),
    reason: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export const AssignBody = Type.Object(
  { userId: Nullable(Type.String({ format: 'uuid' })) },
  { additionalProperties: false },
);

export const BulkBody = Type.Object(
  {
    ids: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 500 }),
    action: Type.Enum(['acknowledge', 'assign']),
    userId: Type.Optional(Nullable(Type.String({ format: 'uuid' }))),
  },
  { additionalProperties: false },
);

export const BulkResponse = Type.Object({
  results: Type.Array(
    Type.Object({
      id: Type.String(),
      ok: Type.Boolean(),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
});

export const CommentSchema = Type.Object({
  id: Type.String(),
  alertId: Type.String(),
  author: Type.Object({ id: Type.String(), username: Type.String() }),
  createdAt: Type.String(),
  text: Type.String(),
});

export const CommentBody = Type.Object(
  { text: Type.String({ minLength: 1, maxLength: 10000 }) },
  { additionalProperties: false },
);

export const ExceptionSchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  scope: Type.Enum(exceptionScopes),
  groupId: Nullable(Type.String()),
  agentId: Nullable(Type.String()),
  fields: Type.Record(Type.String(), Type.String()),
  reason: Type.String(),
  sourceAlertId: Nullable(Type.String()),
  createdBy: Type.Object({ id: Type.String(), username: Type.String() }),
  createdAt: Type.String(),
  expiresAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
  hits: Type.Integer(),
  lastHit: Nullable(Type.String()),
});

export const ExceptionBody = Type.Object(
  {
    scope: Type.Enum(exceptionScopes),
    fields: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ maxLength: 4096 }), {
        maxProperties: 20,
      }),
    ),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    expiresAt: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  },
  { additionalProperties: false },
);

export const ApproveBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);

export const AllowlistEntrySchema = Type.Object({
  id: Type.String(),
  groupId: Type.String(),
  pathGlob: Nullable(Type.String()),
  name: Nullable(Type.String()),
  sha256: Nullable(Type.String()),
  signer: Nullable(Type.String()),
  reason: Type.String(),
  createdAt: Type.String(),
});

export const AllowlistBody = Type.Object(
  {
    pathGlob: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
    signer: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
  },
  { additionalProperties: false, minProperties: 2 },
);

export const LearningSchema = Type.Object({
  groupId: Type.String(),
  learningDays: Type.Integer(),
  firstEnrollment: Nullable(Type.String()),
  learningUntil: Nullable(Type.String()),
  learning: Type.Boolean(),
  baselineSize: Type.Integer(),
});

export const LearningBody = Type.Object(
  { learningDays: Type.Integer({ minimum: 0, maximum: 365 }) },
  { additionalProperties: false },
);

export const GroupParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
