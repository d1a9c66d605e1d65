// `npm start`: the whole of Vigil on one machine — the collector on embedded PGlite, and a local
// agent enrolled to it. Prints where to look and how to authenticate once the agent is connected;
// Ctrl-C stops the agent first (so its agent.stopping reaches the collector), then the collector.
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

function start(name: string, args: string[], env: NodeJS.ProcessEnv, pipeStdout = false): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', pipeStdout ? 'pipe' : 'inherit', 'inherit'],
    // Own process group: Ctrl-C in the terminal reaches only this script, which stops the
    // children in order (a shared group would signal all three at once).
    detached: true,
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${name} exited (${signal ?? code}); stopping\n`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

const exited = (child: ChildProcess, timeoutMs: number) =>
  new Promise<void>((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveExit();
    child.once('exit', () => resolveExit());
    setTimeout(() => {
      child.kill('SIGKILL');
      resolveExit();
    }, timeoutMs).unref();
  });

let stopping = false;
/** The agent first, waiting for it to exit (it delivers agent.stopping), then the collector. */
async function stop(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const child of [...children].reverse()) {
    child.kill('SIGTERM');
    // The agent gives its link 3 s to deliver agent.stopping; the collector drains its sessions.
    await exited(child, 10_000);
  }
  process.exit(code);
}
// Ctrl-C, a service stop, or the terminal closing (the children, in their own group, hear none of it).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());
// A child in its own process group would outlive this script: take them down if it dies of an error.
process.on('exit', () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

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
  await stop(1);
}
const enrollSecret =
  process.env.VIGIL_ENROLL_SECRET ?? readFileSync(join(dataDir, 'enroll-secret'), 'utf8').trim();
const agent = start(
  'agent',
  [...agentNodeArgs, 'dist/agent/cli.js', 'run'],
  {
    ...agentEnv,
    VIGIL_COLLECTOR_URL: base,
    VIGIL_ENROLL_SECRET: enrollSecret,
    VIGIL_STATE_DIR: join(dataDir, 'agent'),
  },
  true,
);
// The agent's log goes on to the terminal; its "connected" line tells when Vigil really runs.
const CONNECTED_LINE = 'connected to the collector';
const connected = new Promise<boolean>((resolveConnected) => {
  let tail = '';
  agent.stdout?.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    tail = (tail + chunk.toString()).slice(-4096);
    if (tail.includes(CONNECTED_LINE)) resolveConnected(true);
  });
  setTimeout(() => resolveConnected(false), 30_000).unref();
});
const agentConnected = await connected;

const tokenHint = process.env.VIGIL_ADMIN_TOKEN
  ? '$VIGIL_ADMIN_TOKEN'
  : existsSync(join(dataDir, 'admin-token'))
    ? `$(cat ${join(dataDir, 'admin-token')})`
    : '<token>';
process.stdout.write(`
${agentConnected ? 'Vigil is running.' : 'The collector is running; the agent is still connecting (see its log above).'}
  collector   ${base}   (API docs: ${base}/docs)
  agent       ${agentConnected ? 'connected, watching this machine' : 'not connected yet'}; state in ${join(dataDir, 'agent')}
  console     ${base}/console   (user admin; password in ${join(dataDir, 'admin-password')} unless VIGIL_ADMIN_PASSWORD is set)
  alerts      curl -s -H "Authorization: Bearer ${tokenHint}" ${base}/api/v1/alerts
${process.getuid?.() === 0 ? '' : "  note        not root: packet sockets of other users' processes cannot be traced to their owner\n"}
Try it: start a sniffer (sudo tcpdump -i lo) and list the alerts. Ctrl-C stops both.
`);
