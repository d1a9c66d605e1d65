// Agent cost benchmark (Linux, root). Run after a build:
//   node dist/bench/agent.js [--seconds 60] [--settle 30] [--churn 0] [--runs 20]
// With ~500 processes running (sleep children are added up to that and killed at the end) it measures:
// - CPU per steady-state scan of the real process sensor, next to `ps -axo pid,ppid,comm` and a
//   bare readdir('/proc') measured in the same run; the capture and capture-file sensors' scans;
// - the real agent (dist/agent/cli.js run, 1 s scans) against a real collector on PostgreSQL:
//   average CPU over the window from /proc/<pid>/stat, and resident memory;
// - time from starting tcpdump in a network namespace to its event row existing in PostgreSQL.
// Prints the load average next to the figures: the machine may be shared.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { LinuxCaptureReader } from '../agent/platform/linux/capture.js';
import { createLinuxProcessLister } from '../agent/platform/linux/processes.js';
import type { ProcessLister } from '../agent/platform/types.js';
import { agentEnv, agentNodeArgs } from '../agent/runtime.js';
import { createCaptureSensor } from '../agent/sensors/capture.js';
import { createCaptureFileSensor } from '../agent/sensors/capture-files.js';
import { createProcessSensor } from '../agent/sensors/process.js';
import type { Sensor, SensorContext } from '../agent/sensors/sensor.js';
import { defaultPolicy } from '../shared/protocol.js';
import { freePort, freshDatabase } from './support.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    // After connecting, the agent's first seconds hold one-off work (baseline of every process,
    // heap shrinking after start-up): the steady-state window starts after this settle time.
    settle: { type: 'string', default: '30' },
    // Processes started per minute during the CPU window (`sleep 2`, long enough for a 1 s scan to see).
    churn: { type: 'string', default: '0' },
    runs: { type: 'string', default: '20' },
    processes: { type: 'string', default: '500' },
    scans: { type: 'string', default: '200' },
  },
});
const AGENT_SECONDS = Number(args.seconds);
const SETTLE_SECONDS = Number(args.settle);
const CHURN_PER_MINUTE = Number(args.churn);
const LATENCY_RUNS = Number(args.runs);
const TARGET_PROCESSES = Number(args.processes);
const SCANS = Number(args.scans);

const repoRoot = resolve(import.meta.dirname, '../..');
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

const rows: [string, string, string][] = [];
function row(what: string, value: string, note = ''): void {
  rows.push([what, value, note]);
  console.error(`  ${what}: ${value} ${note}`);
}

// --- processes -----------------------------------------------------------------------------

const sleepers: ChildProcess[] = [];
function countProcesses(): number {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).length;
}
async function ensureProcesses(target: number): Promise<void> {
  const missing = target - countProcesses();
  for (let i = 0; i < missing; i++) sleepers.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
  await sleep(500);
}
function killSleepers(): void {
  for (const child of sleepers) child.kill('SIGKILL');
}

// --- scan costs ----------------------------------------------------------------------------

function silentContext(): SensorContext {
  return {
    emit() {},
    log: pino({ level: 'silent' }),
    stateDir: tmpdir(),
    policy: () => defaultPolicy,
    setHealth() {},
  };
}

/** CPU (user+system, this process) and wall time per call, as microseconds. */
async function perCall(n: number, fn: () => Promise<unknown>): Promise<{ cpuUs: number; wallUs: number }> {
  await fn();
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < n; i++) await fn();
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / n, wallUs: ((performance.now() - wall) * 1000) / n };
}

/** `ps` runs in a child: bash's `times` reports its children's CPU. */
function psCost(n: number): { cpuUs: number; wallUs: number } {
  const started = performance.now();
  const out = execFileSync(
    'bash',
    ['-c', `for i in $(seq 1 ${n}); do ps -axo pid,ppid,comm > /dev/null; done; times`],
    { encoding: 'utf8' },
  );
  const wallUs = ((performance.now() - started) * 1000) / n;
  const children = out.trim().split('\n')[1] ?? '';
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce(
    (sum, m) => sum + Number(m[1]) * 60 + Number(m[2]),
    0,
  );
  return { cpuUs: (seconds * 1e6) / n, wallUs };
}

const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`);

async function scanCosts(): Promise<void> {
  // Counts the pids whose details the sensor reads: on a shared machine other people's processes
  // start during the measurement, and each costs a details read and a hash lookup.
  const lister = createLinuxProcessLister();
  let detailed = 0;
  const counting: ProcessLister = {
    ...lister,
    details: (pids) => {
      detailed += pids.length;
      return lister.details(pids);
    },
  };
  const processes = createProcessSensor(counting, { platform: 'linux' });
  const capture = createCaptureSensor(new LinuxCaptureReader());
  const captureFiles = createCaptureFileSensor();
  const sensors: Sensor[] = [processes, capture, captureFiles];
  for (const sensor of sensors) await sensor.start(silentContext());
  // Past the exec-recheck window of the baseline's newest pids: a steady state.
  await sleep(5500);
  const n = SCANS;
  detailed = 0;
  const proc = await perCall(n, () => processes.scan!());
  const newPerScan = detailed / (n + 1);
  const bare = await perCall(n, () => readdir('/proc'));
  const ps = psCost(Math.max(10, Math.round(n / 10)));
  const cap = await perCall(n, () => capture.scan!());
  const files = await perCall(n, () => captureFiles.scan!());
  for (const sensor of sensors) await sensor.stop();
  const pids = countProcesses();
  row(
    `process sensor scan (${pids} pids)`,
    `${fmt(proc.cpuUs)} CPU`,
    `wall ${fmt(proc.wallUs)}; ${newPerScan.toFixed(1)} new or exec-rechecked pids read per scan (machine churn)`,
  );
  row("  baseline: readdir('/proc')", `${fmt(bare.cpuUs)} CPU`, `wall ${fmt(bare.wallUs)}`);
  row('  baseline: ps -axo pid,ppid,comm', `${fmt(ps.cpuUs)} CPU`, `wall ${fmt(ps.wallUs)} (child CPU)`);
  row('capture sensor scan', `${fmt(cap.cpuUs)} CPU`, `wall ${fmt(cap.wallUs)}`);
  row('capture-file sensor scan', `${fmt(files.cpuUs)} CPU`, `wall ${fmt(files.wallUs)}`);
  row(
    'sum of scans per 1 s interval',
    `${((proc.cpuUs + cap.cpuUs + files.cpuUs) / 10_000).toFixed(3)} % of a core`,
  );
}

// --- collector + agent ---------------------------------------------------------------------

function startNode(
  script: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, resolve(repoRoot, script), ...argv], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  });
  child.stderr?.on('data', (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  });
  return { child, output: () => output };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
}
/**
 * CPU ticks of a process's main thread (JavaScript) and of its other threads together (libuv's
 * pool, V8's compiler and GC workers). Node names them all "node", so they are told apart by tid.
 */
function threadTicks(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main thread' : 'other threads';
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return byName;
}
const rssMb = (pid: number) =>
  Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function agentCosts(): Promise<void> {
  const database = await freshDatabase(adminUrl);
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-collector-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'vigil-bench-agent-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const collector = startNode('dist/collector/cli.js', ['start'], {
    PORT: String(port),
    DATABASE_URL: database.url,
    VIGIL_DATA_DIR: dataDir,
    VIGIL_ENROLL_SECRET: 'bench-secret',
    VIGIL_ADMIN_TOKEN: 'vgl_bench_admin',
    VIGIL_LOG_LEVEL: 'warn',
  });
  let agent: ReturnType<typeof startNode> | undefined;
  const tag = randomBytes(3).toString('hex');
  const namespace = `vbench-${tag}`;
  try {
    await until('collector', async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined), 120_000);
    agent = startNode(
      'dist/agent/cli.js',
      ['run', '--collector', base, '--enroll-secret', 'bench-secret', '--state-dir', stateDir],
      // As the service runs it (agent/runtime.ts).
      { ...agentEnv },
      // e.g. BENCH_AGENT_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the agent.
      [...agentNodeArgs, ...(process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    );
    const started = agent;
    await until(
      'agent connected',
      async () => (started.output().includes('connected to the collector') ? true : undefined),
      60_000,
    );
    const pid = started.child.pid!;
    const launchedTicks = cpuTicks(pid);
    await sleep(SETTLE_SECONDS * 1000);
    row(
      'agent CPU from launch to the end of the settle time',
      `${(launchedTicks / CLK_TCK).toFixed(2)} s to connect, ${((cpuTicks(pid) - launchedTicks) / CLK_TCK).toFixed(2)} s in the next ${SETTLE_SECONDS} s`,
      'one-off: baseline of every running process, inventory, enrollment',
    );
    console.error(`measuring agent CPU for ${AGENT_SECONDS} s (load ${load()})`);
    const ticks0 = cpuTicks(pid);
    const threads0 = threadTicks(pid);
    const t0 = performance.now();
    let maxRss = 0;
    const loadBefore = loadavg()[0]!;
    const churn =
      CHURN_PER_MINUTE > 0
        ? setInterval(() => spawn('sleep', ['2'], { stdio: 'ignore' }), 60_000 / CHURN_PER_MINUTE)
        : undefined;
    while (performance.now() - t0 < AGENT_SECONDS * 1000) {
      maxRss = Math.max(maxRss, rssMb(pid));
      await sleep(1000);
    }
    clearInterval(churn);
    const cpuSeconds = (cpuTicks(pid) - ticks0) / CLK_TCK;
    const threads = [...threadTicks(pid)]
      .map(([name, ticks]) => [name, ticks - (threads0.get(name) ?? 0)] as const)
      .filter(([, ticks]) => ticks > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, ticks]) => `${name} ${((ticks / CLK_TCK / AGENT_SECONDS) * 100).toFixed(3)} %`);
    const { rows: stored } = await pool.query<{ type: string; n: string }>(
      `SELECT type, count(*) AS n FROM events WHERE received_at > now() - make_interval(secs => $1) GROUP BY type ORDER BY type`,
      [AGENT_SECONDS],
    );
    const percent = (cpuSeconds / ((performance.now() - t0) / 1000)) * 100;
    row(
      `agent CPU, 1 s scans, ${AGENT_SECONDS} s`,
      `${percent.toFixed(3)} % of a core`,
      `target ≤ 0.2 %; ${countProcesses()} pids; ${CHURN_PER_MINUTE} started/min; load ${loadBefore.toFixed(2)}→${loadavg()[0]!.toFixed(2)}`,
    );
    row('  by thread', threads.join(', ') || 'none');
    row(
      '  events the agent sent in that window',
      stored.map((r) => `${r.type} ${r.n}`).join(', ') || 'none',
      'each process started on the machine is one process.start',
    );
    row('agent RSS', `${rssMb(pid).toFixed(1)} MB (max ${maxRss.toFixed(1)} MB)`, 'target ≤ 60 MB');

    // Sniffer start → event row in PostgreSQL.
    const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
    ip('netns', 'add', namespace);
    ip('link', 'add', `vbo${tag}`, 'type', 'veth', 'peer', 'name', `vbi${tag}`);
    ip('link', 'set', `vbi${tag}`, 'netns', namespace);
    ip('link', 'set', `vbo${tag}`, 'up');
    ip('-n', namespace, 'link', 'set', `vbi${tag}`, 'up');
    const latencies: number[] = [];
    for (let run = 0; run < LATENCY_RUNS; run++) {
      const t = performance.now();
      const tcpdump = spawn('ip', ['netns', 'exec', namespace, 'tcpdump', '-n', '-i', `vbi${tag}`], {
        stdio: 'ignore',
      });
      const sniffer = tcpdump.pid!;
      await until(
        `event for tcpdump ${sniffer}`,
        async () => {
          const { rowCount } = await pool.query(
            `SELECT 1 FROM events WHERE type IN ('process.start', 'capture.packet_socket') AND (data->>'pid')::int = $1 LIMIT 1`,
            [sniffer],
          );
          return rowCount ? true : undefined;
        },
        30_000,
        20,
      );
      latencies.push(performance.now() - t);
      tcpdump.kill('SIGKILL');
      await sleep(1200);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
    row(
      `tcpdump start → event row (${LATENCY_RUNS} runs)`,
      `p50 ${pct(50).toFixed(0)} ms, p95 ${pct(95).toFixed(0)} ms`,
      `target p95 ≤ 2000 ms; max ${latencies.at(-1)!.toFixed(0)} ms; load ${load()}`,
    );
  } finally {
    agent?.child.kill('SIGTERM');
    await sleep(1000);
    agent?.child.kill('SIGKILL');
    collector.child.kill('SIGTERM');
    await sleep(1000);
    collector.child.kill('SIGKILL');
    try {
      execFileSync('ip', ['link', 'del', `vbo${tag}`], { stdio: 'ignore' });
    } catch {}
    try {
      execFileSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
    } catch {}
    await pool.end();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0)
    throw new Error('bench/agent needs Linux and root');
  process.once('SIGINT', () => {
    killSleepers();
    process.exit(130);
  });
  const loadStart = load();
  await ensureProcesses(TARGET_PROCESSES);
  console.error(
    `${countProcesses()} processes running (${sleepers.length} sleep children added); load ${loadStart}`,
  );
  try {
    await scanCosts();
    await agentCosts();
  } finally {
    killSleepers();
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  console.log(
    `\nvigil agent benchmark — ${new Date().toISOString()}, ${countProcesses()} pids after cleanup`,
  );
  console.log(
    `load average at start ${loadStart}, at end ${load()} (${(await import('node:os')).cpus().length} CPUs)\n`,
  );
  for (const [what, value, note] of rows)
    console.log(`${what.padEnd(width)}  ${value.padEnd(valueWidth)}  ${note}`);
}

main().catch((err) => {
  killSleepers();
  console.error(err);
  process.exitCode = 1;
});
