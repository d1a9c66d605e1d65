// Live alert updates for open consoles: a Server-Sent Events stream per alert queue page. Every
// collector LISTENs on vigil_alerts (see collector/cluster/), so an alert ingested through any of
// them reaches every console; the page then re-fetches its rows through htmx. Streams are ended
// before the server closes (a held-open response would otherwise keep app.close() waiting).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { findCredentialOwner } from '../auth/credentials.js';
import { channels } from '../cluster/plugin.js';
import { sessionToken } from './session.js';

/** Comment lines keep proxies (nginx proxy_read_timeout) from cutting an idle stream. */
const HEARTBEAT_MS = 25_000;
/** Browsers reconnect after this when a stream drops (e.g. a collector restarts). */
const RETRY_MS = 5_000;

interface Stream {
  response: ServerResponse;
  /** The cookie session the stream was opened with, re-checked at each heartbeat. */
  session?: string;
}

export function registerLiveUpdates(app: FastifyInstance): void {
  const streams = new Set<Stream>();

  const end = (stream: Stream) => {
    streams.delete(stream);
    stream.response.end();
  };

  app.cluster.on(channels.alerts, (payload) => {
    const message = `event: alerts\ndata: ${payload.replace(/\n/g, ' ')}\n\n`;
    for (const stream of streams) stream.response.write(message);
  });
  // Notifications may have been lost while the listener was away: every page re-reads its rows.
  app.cluster.onReconnect(() => {
    const message = `event: alerts\ndata: ${JSON.stringify({ created: [], updated: [], truncated: true })}\n\n`;
    for (const stream of streams) stream.response.write(message);
  });

  const heartbeat = setInterval(async () => {
    for (const stream of streams) {
      // A session that expired or was revoked (logout elsewhere) stops receiving.
      if (
        stream.session &&
        (await findCredentialOwner(app.db, stream.session).catch(() => undefined)) === undefined
      ) {
        end(stream);
        continue;
      }
      stream.response.write(': keep-alive\n\n');
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    for (const stream of streams) end(stream);
  });

  app.get(
    '/console/alerts/events',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    async (request, reply) => {
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // nginx would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      });
      response.write(`retry: ${RETRY_MS}\n\n`);
      const stream: Stream = { response, session: sessionToken(request) };
      streams.add(stream);
      request.raw.on('close', () => streams.delete(stream));
    },
  );
}
