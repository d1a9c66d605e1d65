// TLS between agent and collector, with real processes and a CA made for the test: the agent
// pins the CA with --ca, refuses a server it cannot verify, and connects anyway only when told
// --insecure (and says so loudly).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { freshPostgres, postgresAvailable } from '../helpers/db.js';
import { hasTool } from '../helpers/netns.js';
import { type Child, freePort, requireBuild, startNode, waitFor } from '../helpers/processes.js';

const ready = hasTool('openssl') && (await postgresAvailable());
const SECRET = 'tls-enroll-secret';

describe.skipIf(!ready)('agent ↔ collector over TLS', () => {
  let certs: TestCerts;
  let collector: Child;
  let base: string;
  let dropDb: () => Promise<void>;
  const dirs: string[] = [];
  const agents: Child[] = [];

  beforeAll(async () => {
    requireBuild();
    certs = makeTestCerts();
    const db = await freshPostgres();
    dropDb = db.drop;
    const port = await freePort();
    base = `https://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
    dirs.push(dataDir);
    collector = startNode('dist/collector/cli.js', ['start'], {
      PORT: String(port),
      DATABASE_URL: db.url,
      VIGIL_DATA_DIR: dataDir,
      VIGIL_ENROLL_SECRET: SECRET,
      VIGIL_ADMIN_TOKEN: 'vgl_tls_admin',
      VIGIL_TLS_CERT: certs.serverCert,
      VIGIL_TLS_KEY: certs.serverKey,
    });
    await waitFor(
      'collector health over TLS',
      async () => (collector.output().includes('Server listening') ? true : undefined),
      60_000,
    );
  }, 90_000);

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await collector?.stop();
    await dropDb?.();
    for (const d of [...dirs, certs?.dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  function agent(extra: string[]): Child {
    const stateDir = mkdtempSync(join(tmpdir(), 'vigil-tls-agent-'));
    dirs.push(stateDir);
    const child = startNode(
      'dist/agent/cli.js',
      ['run', '--collector', base, '--enroll-secret', SECRET, '--state-dir', stateDir, ...extra],
      {},
    );
    agents.push(child);
    return child;
  }

  it('connects when the CA is pinned with --ca', async () => {
    const child = agent(['--ca', certs.caCert]);
    await waitFor(
      'agent connected',
      async () => (child.output().includes('connected to the collector') ? true : undefined),
      45_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${child.output()}`);
    });
  }, 60_000);

  it('refuses a collector it cannot verify', async () => {
    const child = agent([]);
    const code = await new Promise<number | null>((resolve) => child.process.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(child.output()).toMatch(/enroll_tls.*(self-signed|unable to verify|certificate)/i);
  });

  it('connects with --insecure and warns loudly', async () => {
    const child = agent(['--insecure']);
    await waitFor(
      'agent connected',
      async () => (child.output().includes('connected to the collector') ? true : undefined),
      45_000,
    );
    expect(child.output()).toMatch(/TLS verification is OFF/);
  }, 60_000);
});
