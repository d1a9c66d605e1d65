// Rules API: list the running Sigma rules with their switches and recent hits, turn rules on and
// off, upload new rules (validated by the engine, stored, loaded at start and at once into the
// running set) and try a rule against recently stored events. The unexpected-process detection
// is listed beside them (kind baseline) and switched the same way. A switch or an upload NOTIFYs
// vigil_rules in its transaction, so every collector on the database re-reads that rule.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import type { VigilEvent } from '../../shared/events.js';
import { ruleHitCounts } from '../alerts/repository.js';
import { actorOf, recordAudit } from '../audit/repository.js';
import { channels } from '../cluster/plugin.js';
import type { Queryable } from '../db/db.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { UNEXPECTED_PROCESS_RULE } from './baseline.js';
import { compileRule, RuleSet, type SigmaRule, SigmaRuleError } from './sigma/index.js';
import { toSigma } from './taxonomy.js';

const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    ruleId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    reason: Type.Optional(Type.String()),
  }),
});

const RuleSchema = Type.Object({
  id: Type.String(),
  title: Type.String(),
  level: Type.String(),
  status: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
  logsource: Type.Record(Type.String(), Type.String()),
  source: Type.Enum(['builtin', 'uploaded']),
  /** sigma: a Sigma rule; baseline: the unexpected-process detection (per-group learned baseline). */
  kind: Type.Enum(['sigma', 'baseline']),
  enabled: Type.Boolean(),
  alerts24h: Type.Integer(),
});
type RuleView = Static<typeof RuleSchema>;

const RuleParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const UploadBody = Type.Object(
  { yaml: Type.String({ minLength: 1, maxLength: 256 * 1024 }) },
  { additionalProperties: false },
);
const TestBody = Type.Object(
  {
    yaml: Type.String({ minLength: 1, maxLength: 256 * 1024 }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    scan: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000 })),
  },
  { additionalProperties: false },
);
const TestMatch = Type.Object({
  eventId: Type.String(),
  agentId: Type.String(),
  hostname: Type.String(),
  time: Type.String(),
  type: Type.String(),
  entity: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
});

async function loadSettings(db: Queryable): Promise<Map<string, boolean>> {
  const { rows } = await db.query<{ rule_id: string; enabled: boolean }>(
    'SELECT rule_id, enabled FROM rule_settings',
  );
  return new Map(rows.map((row) => [row.rule_id, row.enabled]));
}

interface RecentEventRow {
  id: string;
  agent_id: string;
  time: Date;
  type: string;
  data: Record<string, unknown>;
  platform: string;
  hostname: string;
}

const baselineRule = {
  id: UNEXPECTED_PROCESS_RULE.id,
  title: UNEXPECTED_PROCESS_RULE.title,
  level: UNEXPECTED_PROCESS_RULE.level,
  status: 'stable',
  description:
    "A process whose executable (path + sha256) its agent group never ran after the group's learning period, and that the group's allowlist does not cover.",
  tags: [...UNEXPECTED_PROCESS_RULE.tags],
  logsource: { product: 'vigil', category: 'process_creation' },
} as const;

export default fp(
  async (app: FastifyInstance) => {
    // Rules present before the stored uploads load are shipped (built-in or the rules folder).
    const shippedIds = new Set([...app.detection.rules.map((rule) => rule.id), baselineRule.id]);
    const uploadedIds = new Set<string>();
    const compile = (yaml: string) => compileRule(yaml, { placeholders: app.detection.placeholders });

    /** Loads (again) one stored upload, or all of them, into the running set. */
    async function loadUploaded(ruleId?: string): Promise<void> {
      const { rows } = await app.db.query<{ id: string; yaml: string }>(
        `SELECT id, yaml FROM uploaded_rules${ruleId === undefined ? '' : ' WHERE id = $1'}`,
        ruleId === undefined ? [] : [ruleId],
      );
      for (const row of rows) {
        try {
          app.detection.upsertRule(compile(row.yaml));
          uploadedIds.add(row.id);
        } catch (err) {
          app.log.error({ ruleId: row.id, err }, 'stored uploaded rule refused; it stays out of detection');
        }
      }
    }
    /** Applies the stored switches: all of them, or one rule's (back to on when it has none). */
    async function applySettings(ruleId?: string): Promise<void> {
      const settings = await loadSettings(app.db);
      if (ruleId !== undefined) app.detection.setEnabled(ruleId, settings.get(ruleId) ?? true);
      else for (const [id, enabled] of settings) app.detection.setEnabled(id, enabled);
    }
    await loadUploaded();
    await applySettings();

    // Another collector (or this one) switched or uploaded a rule: re-read it from the database,
    // which holds the committed state whatever order notifications arrive in.
    app.cluster.on(channels.rules, async (payload) => {
      const { ruleId } = JSON.parse(payload) as { ruleId: string };
      await loadUploaded(ruleId);
      await applySettings(ruleId);
    });
    // Notifications sent while the listener was reconnecting are lost: re-read everything.
    app.cluster.onReconnect(() => {
      Promise.all([loadUploaded(), applySettings()]).catch((err) =>
        app.log.error({ err }, 'rules reload after reconnect failed'),
      );
    });
    const notifyRule = (tx: Queryable, ruleId: string) =>
      app.cluster.notify(channels.rules, JSON.stringify({ ruleId }), tx);

    const refuse = (err: SigmaRuleError) => ({
      error: { code: err.code, message: err.message, ruleId: err.ruleId ?? null, reason: err.reason },
    });

    app.get(
      '/api/v1/rules',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['rules'],
          summary:
            'Detection rules (built-in and uploaded) with their enabled flag and alerts of the last 24 h',
          response: { 200: Type.Object({ rules: Type.Array(RuleSchema) }) },
        },
      },
      async () => {
        const [settings, hits] = await Promise.all([loadSettings(app.db), ruleHitCounts(app.db)]);
        const rules: RuleView[] = app.detection.rules.map((rule) => ({
          id: rule.id,
          title: rule.title,
          level: rule.level,
          status: rule.status ?? null,
          description: rule.description ?? null,
          tags: rule.tags,
          logsource: Object.fromEntries(
            Object.entries(rule.logsource).filter((e): e is [string, string] => typeof e[1] === 'string'),
          ),
          source: uploadedIds.has(rule.id) ? 'uploaded' : 'builtin',
          kind: 'sigma',
          enabled: settings.get(rule.id) ?? true,
          alerts24h: hits.get(rule.id) ?? 0,
        }));
        rules.push({
          ...baselineRule,
          tags: [...baselineRule.tags],
          logsource: { ...baselineRule.logsource },
          source: 'builtin',
          kind: 'baseline',
          enabled: settings.get(baselineRule.id) ?? true,
          alerts24h: hits.get(baselineRule.id) ?? 0,
        });
        return { rules: rules.sort((a, b) => a.title.localeCompare(b.title) || a.id.localeCompare(b.id)) };
      },
    );

    for (const action of ['enable', 'disable'] as const) {
      app.post(
        `/api/v1/rules/:id/${action}`,
        {
          preHandler: app.requireRole('incident_manager'),
          schema: {
            tags: ['rules'],
            summary:
              action === 'enable' ? 'Turn a rule on' : 'Turn a rule off (its matches no longer raise alerts)',
            params: RuleParams,
            response: { 200: Type.Object({ id: Type.String(), enabled: Type.Boolean() }), 404: ErrorBody },
          },
        },
        async (request) => {
          const { id } = request.params as Static<typeof RuleParams>;
          if (id !== baselineRule.id && !app.detection.rules.some((rule) => rule.id === id))
            throw new NotFoundError('rule');
          const enabled = action === 'enable';
          await app.db.transaction(async (tx) => {
            const before = (await loadSettings(tx)).get(id) ?? true;
            await tx.query(
              `INSERT INTO rule_settings (rule_id, enabled, updated_by) VALUES ($1, $2, $3)
               ON CONFLICT (rule_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, updated_at = now()`,
              [id, enabled, request.principal!.userId],
            );
            await recordAudit(tx, actorOf(request), {
              action: `rule.${action}`,
              targetType: 'rule',
              targetId: id,
              before: { enabled: before },
              after: { enabled },
            });
            await notifyRule(tx, id);
          });
          app.detection.setEnabled(id, enabled);
          return { id, enabled };
        },
      );
    }

    app.post(
      '/api/v1/rules',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['rules'],
          summary: 'Upload a Sigma rule (YAML); refused rules answer 400 with the rule id and reason',
          body: UploadBody,
          response: { 201: RuleSchema, 400: ErrorBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        const { yaml } = request.body as Static<typeof UploadBody>;
        let rule: SigmaRule;
        try {
          rule = compile(yaml);
        } catch (err) {
          if (err instanceof SigmaRuleError) return reply.status(400).send(refuse(err));
          throw err;
        }
        if (shippedIds.has(rule.id) && !uploadedIds.has(rule.id)) {
          throw new ConflictError(
            `rule ${rule.id} is built in; upload it under another id`,
            'rule_id_builtin',
          );
        }
        await app.db.transaction(async (tx) => {
          const { rows } = await tx.query<{ yaml: string }>(
            'SELECT yaml FROM uploaded_rules WHERE id = $1 FOR UPDATE',
            [rule.id],
          );
          await tx.query(
            `INSERT INTO uploaded_rules (id, title, yaml, uploaded_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, yaml = EXCLUDED.yaml,
               uploaded_by = EXCLUDED.uploaded_by, uploaded_at = now()`,
            [rule.id, rule.title, yaml, request.principal!.userId],
          );
          await recordAudit(tx, actorOf(request), {
            action: 'rule.upload',
            targetType: 'rule',
            targetId: rule.id,
            before: rows[0] ? { yaml: rows[0].yaml } : undefined,
            after: { yaml, title: rule.title },
          });
          await notifyRule(tx, rule.id);
        });
        app.detection.upsertRule(rule);
        uploadedIds.add(rule.id);
        const enabled = (await loadSettings(app.db)).get(rule.id) ?? true;
        return reply.status(201).send({
          id: rule.id,
          title: rule.title,
          level: rule.level,
          status: rule.status ?? null,
          description: rule.description ?? null,
          tags: rule.tags,
          logsource: Object.fromEntries(
            Object.entries(rule.logsource).filter((e): e is [string, string] => typeof e[1] === 'string'),
          ),
          source: 'uploaded' as const,
          kind: 'sigma' as const,
          enabled,
          alerts24h: 0,
        });
      },
    );

    app.post(
      '/api/v1/rules/test',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['rules'],
          summary: 'Run a Sigma rule against the most recent stored events and return what it matches',
          body: TestBody,
          response: {
            200: Type.Object({
              ruleId: Type.String(),
              scanned: Type.Integer(),
              matches: Type.Array(TestMatch),
            }),
            400: ErrorBody,
          },
        },
      },
      async (request, reply) => {
        const body = request.body as Static<typeof TestBody>;
        let rule: SigmaRule;
        try {
          rule = compile(body.yaml);
        } catch (err) {
          if (err instanceof SigmaRuleError) return reply.status(400).send(refuse(err));
          throw err;
        }
        const ruleSet = new RuleSet([rule]);
        const limit = body.limit ?? 50;
        const { rows } = await app.db.query<RecentEventRow>(
          `SELECT e.id, e.agent_id, e.time, e.type, e.data, a.platform, a.hostname
             FROM events e JOIN agents a ON a.id = e.agent_id
            ORDER BY e.time DESC, e.id DESC LIMIT $1`,
          [body.scan ?? 10_000],
        );
        const matches: Static<typeof TestMatch>[] = [];
        for (const row of rows) {
          const time = new Date(row.time).toISOString();
          const event = {
            id: row.id,
            agentId: row.agent_id,
            time,
            type: row.type,
            data: row.data,
          } as VigilEvent;
          const sigma = toSigma(event, { platform: row.platform });
          if (!sigma || ruleSet.match(sigma).length === 0) continue;
          matches.push({
            eventId: row.id,
            agentId: row.agent_id,
            hostname: row.hostname,
            time,
            type: row.type,
            entity: sigma.entity,
            data: row.data,
          });
          if (matches.length >= limit) break;
        }
        return { ruleId: rule.id, scanned: rows.length, matches };
      },
    );
  },
  { name: 'rules-api', dependencies: ['db', 'auth', 'cluster', 'detection'] },
);
