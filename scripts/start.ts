// `npm start`: the whole of Vigil on one machine — the collector on embedded PGlite, and a local
// agent enrolled to it. Prints where to look and how to authenticate; Ctrl-C stops both.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentEnv, agentNodeArgs } from '../agent/runtime.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const port = process.env.PORT ?? '8080';
const dataDir = resolve(process.env.VIGIL_DATA_DIR ?? join(root, 'data'));
const base = `http://127.0.0.1:${port}`;
const children: ChildProcess[] = [];

function start(name: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${name} exited (${signal ?? code}); stopping\n`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0): void {
  if (stopping) return;
  stopping = true;
  for (const child of children.reverse()) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 4000).unref();
  Promise.all(
    children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))),
  ).then(() => process.exit(code));
}
process.on('SIGINT', () => stop());
process.on('SIGTERM', () => stop());

async function waitHealthy(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the collector did not become healthy on ${base}`);
}

if (!existsSync(join(dataDir, 'db')) && !process.env.DATABASE_URL) {
  process.stdout.write(
    `First start: initialising the embedded database in ${dataDir} (this takes a moment).\n`,
  );
}
start('collector', ['dist/collector/cli.js', 'start'], { PORT: port, VIGIL_DATA_DIR: dataDir });
try {
  await waitHealthy(300_000);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  stop(1);
  await new Promise(() => {});
}
const enrollSecret =
  process.env.VIGIL_ENROLL_SECRET ?? readFileSync(join(dataDir, 'enroll-secret'), 'utf8').trim();
start('agent', [...agentNodeArgs, 'dist/agent/cli.js', 'run'], {
  ...agentEnv,
  VIGIL_COLLECTOR_URL: base,
  VIGIL_ENROLL_SECRET: enrollSecret,
  VIGIL_STATE_DIR: join(dataDir, 'agent'),
});

const tokenHint = process.env.VIGIL_ADMIN_TOKEN
  ? '$VIGIL_ADMIN_TOKEN'
  : existsSync(join(dataDir, 'admin-token'))
    ? `$(cat ${join(dataDir, 'admin-token')})`
    : '<token>';
process.stdout.write(`
Vigil is running.
  collector   ${base}   (API docs: ${base}/docs)
  agent       watching this machine; state in ${join(dataDir, 'agent')}
  console     ${base}/console   (user admin; password in ${join(dataDir, 'admin-password')} unless VIGIL_ADMIN_PASSWORD is set)
  alerts      curl -s -H "Authorization: Bearer ${tokenHint}" ${base}/api/v1/alerts
${process.getuid?.() === 0 ? '' : "  note        not root: packet sockets of other users' processes cannot be traced to their owner\n"}
Try it: start a sniffer (sudo tcpdump -i lo) and list the alerts. Ctrl-C stops both.
`);
