// Opens the database (PostgreSQL or embedded PGlite), brings its schema up to date, and makes it
// available as `app.db` to every other plugin. Closed last, when the app closes.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { CollectorConfig } from '../config.js';
import { type Db, openEmbedded, openPostgres } from './db.js';
import { migrate } from './migrate.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig; db?: Db }) => {
    const db =
      opts.db ??
      (opts.config.databaseUrl
        ? openPostgres(opts.config.databaseUrl)
        : await openEmbedded(opts.config.dataDir, { onLockWait: (message) => app.log.warn(message) }));
    const applied = await migrate(db);
    if (applied.length > 0) app.log.info({ applied, engine: db.kind }, 'database migrated');
    app.decorate('db', db);
    // A database handed in by the caller (tests) stays open for the caller to close.
    if (!opts.db) app.addHook('onClose', async () => db.close());
  },
  { name: 'db' },
);
