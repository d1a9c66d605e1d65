// Self-watchdog in the spirit of osquery's: the agent must never become the CPU or memory hog on a
// contact-center workstation. When a limit is exceeded the agent reports why and exits with
// WATCHDOG_EXIT_CODE; the service manager (Restart=always, KeepAlive, WinSW onfailure) restarts it.

/** EX_TEMPFAIL from sysexits.h: "temporary failure, retry" is what a restart means here. */
export const WATCHDOG_EXIT_CODE = 75;

export interface WatchdogLimits {
  maxRssBytes: number;
  /** Percent of one core (process-wide, so several busy threads can exceed 100). */
  maxCpuPercent: number;
  /** CPU must stay above maxCpuPercent this long; a single busy interval is not enough. */
  sustainedMs: number;
}

export interface WatchdogReason {
  kind: 'memory' | 'cpu';
  /** Bytes of RSS, or CPU percent averaged over the sustained window. */
  value: number;
  limit: number;
}

export interface WatchdogSample {
  /** Monotonic milliseconds. */
  atMs: number;
  rssBytes: number;
  /** Cumulative user + system CPU time of the process in microseconds. */
  cpuMicros: number;
}

export interface WatchdogSamplers {
  nowMs(): number;
  rssBytes(): number;
  cpuMicros(): number;
}

export interface WatchdogOptions extends WatchdogLimits {
  intervalMs: number;
  /** Called once; the watchdog stops itself before calling it. */
  onExceeded(reason: WatchdogReason): void;
  /** Replaces the process readings (tests). */
  samplers?: WatchdogSamplers;
}

/** A limit or interval that would make the watchdog fire at random or never. */
export class WatchdogConfigError extends Error {
  readonly code = 'WATCHDOG_CONFIG_INVALID';
  override name = 'WatchdogConfigError';
}

export const processSamplers: WatchdogSamplers = {
  nowMs: () => performance.now(),
  rssBytes: () => process.memoryUsage.rss(),
  cpuMicros: () => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  },
};

function checkPositive(field: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new WatchdogConfigError(`${field} must be a positive finite number: ${value}`);
  }
}

function checkLimits(limits: WatchdogLimits): void {
  checkPositive('maxRssBytes', limits.maxRssBytes);
  checkPositive('maxCpuPercent', limits.maxCpuPercent);
  if (!Number.isFinite(limits.sustainedMs) || limits.sustainedMs < 0) {
    throw new WatchdogConfigError(
      `sustainedMs must be zero or a positive finite number: ${limits.sustainedMs}`,
    );
  }
}

/**
 * The decision logic without timers: feed it samples in time order, it answers with the first limit
 * exceeded. Memory trips on one sample (RSS is a level, not a spike); CPU trips once every interval
 * over the last sustainedMs was above the limit.
 */
export function createWatchdogEvaluator(
  limits: WatchdogLimits,
): (sample: WatchdogSample) => WatchdogReason | undefined {
  checkLimits(limits);
  let previous: WatchdogSample | undefined;
  // Start of the current run of over-limit intervals, and the CPU spent since then.
  let overSince: WatchdogSample | undefined;
  return (sample) => {
    if (sample.rssBytes > limits.maxRssBytes) {
      return { kind: 'memory', value: sample.rssBytes, limit: limits.maxRssBytes };
    }
    const last = previous;
    previous = sample;
    if (last === undefined || sample.atMs <= last.atMs) return undefined;
    const intervalPercent = ((sample.cpuMicros - last.cpuMicros) / 1000 / (sample.atMs - last.atMs)) * 100;
    if (intervalPercent <= limits.maxCpuPercent) {
      overSince = undefined;
      return undefined;
    }
    overSince ??= last;
    const overMs = sample.atMs - overSince.atMs;
    if (overMs < limits.sustainedMs) return undefined;
    const averagePercent = ((sample.cpuMicros - overSince.cpuMicros) / 1000 / overMs) * 100;
    return { kind: 'cpu', value: averagePercent, limit: limits.maxCpuPercent };
  };
}

/** Samples every intervalMs (unref'd timer) until stopped or a limit is exceeded; returns stop(). */
export function startWatchdog(options: WatchdogOptions): () => void {
  checkPositive('intervalMs', options.intervalMs);
  const evaluate = createWatchdogEvaluator(options);
  const samplers = options.samplers ?? processSamplers;
  const sample = (): WatchdogSample => ({
    atMs: samplers.nowMs(),
    rssBytes: samplers.rssBytes(),
    cpuMicros: samplers.cpuMicros(),
  });
  evaluate(sample());
  const timer = setInterval(() => {
    const reason = evaluate(sample());
    if (reason === undefined) return;
    clearInterval(timer);
    options.onExceeded(reason);
  }, options.intervalMs);
  // The watchdog alone must not keep the agent alive.
  timer.unref();
  return () => clearInterval(timer);
}
