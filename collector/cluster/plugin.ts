// Cluster fan-out: several collectors share one PostgreSQL, and a change made through one of them
// (a group's policy, a new alert) must reach what the others hold in memory (their agents' sockets,
// live consoles). `app.cluster.notify` sends a PostgreSQL NOTIFY — inside the caller's transaction
// when given one, so it is delivered only if that commits — and `app.cluster.on` receives it in
// every collector, including the sender. Embedded PGlite means one process: delivery stays in it.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Queryable } from '../db/db.js';
import { VigilError } from '../errors.js';
import { type NotificationHandler, PgListener } from './listener.js';

/** The channels in use, and what their payload is. */
export const channels = {
  /** payload: JSON `{ group, origin }` — the group whose policy changed, and the sending process. */
  policy: 'vigil_policy',
  /** payload: JSON `{ created: string[], updated: string[] }` — alert ids touched by one batch. */
  alerts: 'vigil_alerts',
  /** payload: the agent id whose token was revoked; whichever collector holds its socket closes it. */
  agentRevoked: 'vigil_agent_revoked',
  /** payload: JSON `{ ruleId }` — a rule was switched or uploaded; every collector re-reads it. */
  rules: 'vigil_rules',
} as const;

/** PostgreSQL caps a NOTIFY payload just under 8000 bytes. */
const MAX_PAYLOAD_BYTES = 7900;

export class NotifyPayloadTooLargeError extends VigilError {
  constructor(channel: string, bytes: number) {
    super(
      'notify_payload_too_large',
      500,
      `a ${channel} notification of ${bytes} bytes exceeds ${MAX_PAYLOAD_BYTES}`,
    );
  }
}

export interface Cluster {
  /** Identifies this process in payloads, so a sender can skip work it already did. */
  readonly instanceId: string;
  notify(channel: string, payload: string, tx?: Queryable): Promise<void>;
  on(channel: string, handler: NotificationHandler): void;
  /** Called after the listener came back from a lost connection (notifications may be missed). */
  onReconnect(handler: () => void): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    cluster: Cluster;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    const handlers = new Map<string, NotificationHandler[]>();
    const reconnectHandlers: Array<() => void> = [];
    const deliver = (channel: string, payload: string) => {
      for (const handler of handlers.get(channel) ?? []) {
        Promise.resolve()
          .then(() => handler(payload))
          .catch((err) => app.log.error({ err, channel }, 'notification handler failed'));
      }
    };
    const listener =
      app.db.kind === 'pg' && app.db.connectionString
        ? new PgListener(app.db.connectionString, app.log, deliver, () => {
            for (const handler of reconnectHandlers) handler();
          })
        : undefined;
    await listener?.start();

    const cluster: Cluster = {
      instanceId: crypto.randomUUID(),
      async notify(channel, payload, tx) {
        const bytes = Buffer.byteLength(payload);
        if (bytes > MAX_PAYLOAD_BYTES) throw new NotifyPayloadTooLargeError(channel, bytes);
        if (listener) {
          await (tx ?? app.db).query('SELECT pg_notify($1, $2)', [channel, payload]);
          return;
        }
        // One process: deliver after the current work; PGlite serialises transactions, so a handler
        // reading the database waits for the sender's transaction to finish. A rolled-back sender
        // still delivers: handlers re-read the current state, so that costs a redundant push only.
        setImmediate(() => deliver(channel, payload));
      },
      on(channel, handler) {
        const list = handlers.get(channel) ?? [];
        list.push(handler);
        handlers.set(channel, list);
        void listener?.listen(channel);
      },
      onReconnect(handler) {
        reconnectHandlers.push(handler);
      },
    };
    app.decorate('cluster', cluster);
    app.addHook('onClose', async () => listener?.stop());
  },
  { name: 'cluster', dependencies: ['db'] },
);
