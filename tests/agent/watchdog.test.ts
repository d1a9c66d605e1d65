import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWatchdogEvaluator,
  startWatchdog,
  WATCHDOG_EXIT_CODE,
  WatchdogConfigError,
  type WatchdogReason,
  type WatchdogSample,
} from '../../agent/watchdog.js';

const MB = 1024 * 1024;
const limits = { maxRssBytes: 500 * MB, maxCpuPercent: 50, sustainedMs: 3000 };

/** Samples one second apart with the given CPU percent for each interval. */
function samplesAt(percents: number[], rssBytes = 100 * MB): WatchdogSample[] {
  const samples: WatchdogSample[] = [{ atMs: 0, rssBytes, cpuMicros: 0 }];
  for (const percent of percents) {
    const last = samples.at(-1)!;
    samples.push({ atMs: last.atMs + 1000, rssBytes, cpuMicros: last.cpuMicros + percent * 10_000 });
  }
  return samples;
}

function firstReason(
  evaluate: (sample: WatchdogSample) => WatchdogReason | undefined,
  samples: WatchdogSample[],
) {
  for (const [index, sample] of samples.entries()) {
    const reason = evaluate(sample);
    if (reason !== undefined) return { index, reason };
  }
  return undefined;
}

describe('watchdog decision', () => {
  it('ignores a single CPU spike', () => {
    expect(
      firstReason(createWatchdogEvaluator(limits), samplesAt([100, 10, 100, 10, 100, 10])),
    ).toBeUndefined();
  });

  it('trips once CPU stayed over the limit for sustainedMs, with the average over that window', () => {
    const result = firstReason(createWatchdogEvaluator(limits), samplesAt([10, 90, 80, 70, 90]));
    // Over from t=1000 (sample 1) on; 3000 ms later is sample 4.
    expect(result?.index).toBe(4);
    expect(result?.reason.kind).toBe('cpu');
    expect(result?.reason.value).toBeCloseTo(80, 6);
    expect(result?.reason.limit).toBe(50);
  });

  it('restarts the sustained window after a dip below the limit', () => {
    const evaluate = createWatchdogEvaluator(limits);
    expect(firstReason(evaluate, samplesAt([90, 90, 40, 90, 90]))).toBeUndefined();
  });

  it('does not trip at exactly the limit', () => {
    expect(firstReason(createWatchdogEvaluator(limits), samplesAt([50, 50, 50, 50, 50]))).toBeUndefined();
  });

  it('trips on the first interval when sustainedMs is 0', () => {
    const result = firstReason(createWatchdogEvaluator({ ...limits, sustainedMs: 0 }), samplesAt([60]));
    expect(result?.index).toBe(1);
  });

  it('trips on memory at the first sample over the limit, even the very first one', () => {
    const evaluate = createWatchdogEvaluator(limits);
    expect(evaluate({ atMs: 0, rssBytes: 501 * MB, cpuMicros: 0 })).toEqual({
      kind: 'memory',
      value: 501 * MB,
      limit: 500 * MB,
    });
    expect(evaluate({ atMs: 1, rssBytes: 500 * MB, cpuMicros: 0 })).toBeUndefined();
  });

  it('ignores a sample whose clock did not advance', () => {
    const evaluate = createWatchdogEvaluator({ ...limits, sustainedMs: 0 });
    expect(evaluate({ atMs: 1000, rssBytes: 0, cpuMicros: 0 })).toBeUndefined();
    expect(evaluate({ atMs: 1000, rssBytes: 0, cpuMicros: 5_000_000 })).toBeUndefined();
  });

  it('rejects limits that cannot work', () => {
    expect(() => createWatchdogEvaluator({ ...limits, maxRssBytes: 0 })).toThrow(WatchdogConfigError);
    expect(() => createWatchdogEvaluator({ ...limits, maxCpuPercent: Number.NaN })).toThrow(
      WatchdogConfigError,
    );
    expect(() => createWatchdogEvaluator({ ...limits, sustainedMs: -1 })).toThrow(/sustainedMs/);
    expect(() => startWatchdog({ ...limits, intervalMs: 0, onExceeded: () => {} })).toThrow(/intervalMs/);
  });
});

describe('startWatchdog with injected samplers', () => {
  it('calls onExceeded once with the reason and stops sampling', async () => {
    let now = 0;
    let cpu = 0;
    let reads = 0;
    const reasons: WatchdogReason[] = [];
    // Each reading advances a virtual second at 90 % CPU.
    const samplers = {
      nowMs: () => {
        reads += 1;
        now += 1000;
        cpu += 900_000;
        return now;
      },
      rssBytes: () => 10 * MB,
      cpuMicros: () => cpu,
    };
    startWatchdog({ ...limits, intervalMs: 5, samplers, onExceeded: (reason) => reasons.push(reason) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ kind: 'cpu', limit: 50 });
    expect(reasons[0]?.value).toBeCloseTo(90, 6);
    // Initial sample + 3 intervals to cover 3000 ms, then nothing more.
    expect(reads).toBe(4);
  });

  it('never calls onExceeded after stop()', async () => {
    const reasons: WatchdogReason[] = [];
    const samplers = { nowMs: () => performance.now(), rssBytes: () => 10 * MB, cpuMicros: () => 0 };
    const stop = startWatchdog({
      ...limits,
      maxRssBytes: MB,
      intervalMs: 5,
      samplers,
      onExceeded: (r) => reasons.push(r),
    });
    samplers.rssBytes = () => 2 * MB;
    stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reasons).toEqual([]);
  });
});

// Child processes on a loaded CI machine can take many seconds to start.
describe('watchdog in a real process', { timeout: 60_000 }, () => {
  let workDir: string;
  let watchdogModule: string;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'vigil-watchdog-'));
    watchdogModule = path.join(workDir, 'watchdog.mjs');
    // Node 20 cannot run TypeScript, so the child gets the module compiled by rolldown.
    await build({
      input: fileURLToPath(new URL('../../agent/watchdog.ts', import.meta.url)),
      platform: 'node',
      logLevel: 'silent',
      output: { file: watchdogModule, format: 'esm' },
      write: true,
    });
  });

  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  /** Runs a child that starts the watchdog as the agent does, then runs `load`. */
  function runChild(
    options: object,
    load: string,
  ): Promise<{ code: number | null; stdout: string; ms: number }> {
    const script = path.join(workDir, `child-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(
      script,
      `import { startWatchdog, WATCHDOG_EXIT_CODE } from ${JSON.stringify(watchdogModule)};
const startedAt = performance.now();
startWatchdog({ ...${JSON.stringify(options)}, onExceeded(reason) {
  process.stdout.write(JSON.stringify({ ...reason, afterMs: performance.now() - startedAt }));
  process.exit(WATCHDOG_EXIT_CODE);
} });
${load}
`,
    );
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, ms: performance.now() - started }));
    });
  }

  it('exits with the watchdog code after a sustained busy loop', async () => {
    const result = await runChild(
      // A low limit: on a loaded CI machine the busy threads may get only a slice of a core.
      { maxRssBytes: 4096 * MB, maxCpuPercent: 15, sustainedMs: 1000, intervalMs: 100 },
      // Busy worker threads burn CPU while the main thread stays free to sample.
      `import { Worker } from 'node:worker_threads';
for (let index = 0; index < 3; index += 1) new Worker('for (;;) {}', { eval: true });
setTimeout(() => process.exit(0), 15000);`,
    );
    expect(result.code).toBe(WATCHDOG_EXIT_CODE);
    const reason = JSON.parse(result.stdout) as WatchdogReason & { afterMs: number };
    expect(reason.kind).toBe('cpu');
    expect(reason.value).toBeGreaterThan(15);
    expect(reason.afterMs).toBeGreaterThanOrEqual(1000);
  });

  it('lets a short real CPU spike pass', async () => {
    const result = await runChild(
      { maxRssBytes: 4096 * MB, maxCpuPercent: 15, sustainedMs: 1500, intervalMs: 100 },
      `setTimeout(() => {
  const until = performance.now() + 400;
  while (performance.now() < until) {}
}, 300);
setTimeout(() => process.exit(0), 2500);`,
    );
    expect(result.stdout).toBe('');
    expect(result.code).toBe(0);
  });

  it('exits with the watchdog code when real allocations pass the RSS limit', async () => {
    const result = await runChild(
      { maxRssBytes: 256 * MB, maxCpuPercent: 1000, sustainedMs: 1000, intervalMs: 50 },
      // Filled buffers, so the pages are really resident; allocated at once so a loaded machine's
      // slow timers cannot stretch the test.
      `const kept = [];
for (let index = 0; index < 20; index += 1) kept.push(Buffer.alloc(16 * 1024 * 1024, 1));
setTimeout(() => process.exit(kept.length === 20 ? 0 : 1), 15000);`,
    );
    expect(result.code).toBe(WATCHDOG_EXIT_CODE);
    const reason = JSON.parse(result.stdout) as WatchdogReason;
    expect(reason.kind).toBe('memory');
    expect(reason.value).toBeGreaterThan(256 * MB);
    expect(reason.limit).toBe(256 * MB);
  });
});
