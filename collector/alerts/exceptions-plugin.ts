// Makes the exception cache available to the ingest path (registered before ingest).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ExceptionCache } from './exception-cache.js';

declare module 'fastify' {
  interface FastifyInstance {
    alertExceptions: ExceptionCache;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    app.decorate('alertExceptions', new ExceptionCache());
  },
  { name: 'alert-exceptions', dependencies: ['db'] },
);
