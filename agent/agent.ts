// The running agent: sensors → spool → link. Sensors emit events; each event is validated and
// written to the durable spool before anything is sent; the link drains the spool. The policy
// from the collector is applied on the fly and kept on disk for offline starts.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { checkEvent } from '../shared/checks.js';
import type { EventData, EventType, VigilEvent } from '../shared/events.js';
import type { HostInventory, Policy } from '../shared/protocol.js';
import { defaultPolicy } from '../shared/protocol-constants.js';
import type { AgentConfig } from './config.js';
import {
  AgentRevokedError,
  EnrollError,
  enroll,
  type Identity,
  loadIdentity,
  markRevoked,
  readRevoked,
  revokedExitCode,
  saveIdentity,
  withCollectorUrl,
} from './identity.js';
import { hostInventory } from './inventory.js';
import { Link } from './link.js';
import type { Sensor, SensorContext, SensorHealth } from './sensors/sensor.js';
import { Spool } from './spool.js';
import { tlsOptions, warnIfInsecure } from './tls.js';
import { AGENT_VERSION } from './version.js';

const HEALTH_EVERY_MS = 5 * 60_000;

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  /** Builds the sensors for this platform; injected so tests can run a subset. */
  sensors: () => Promise<Sensor[]>;
  /** Called once the agent stopped by itself (revoked) with the exit status the process should end with. */
  onSelfStop?: (exitCode: number) => void;
}

/** Events that never reached the spool (it failed to store them), reported once it works again. */
interface Unspooled {
  events: number;
  oldest: string;
  newest: string;
}

export class Agent {
  private spool!: Spool;
  private link!: Link;
  private identity!: Identity;
  private host!: HostInventory;
  private policy: Policy = { ...defaultPolicy };
  private policyKnown = false;
  private sensors: Sensor[] = [];
  private readonly running = new Set<Sensor>();
  private readonly health = new Map<string, SensorHealth>();
  private pending: { live: VigilEvent[]; backlog: VigilEvent[] } = { live: [], backlog: [] };
  private flushScheduled = false;
  private scanTimer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private lastCpu = process.cpuUsage();
  private lastCpuAt = Date.now();
  private stopping = false;
  private unspooled?: Unspooled;

  constructor(private readonly deps: AgentDeps) {}

  get agentId(): string {
    return this.identity.agentId;
  }

  async start(): Promise<void> {
    const { config, log } = this.deps;
    mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
    // A refused agent stays down until `vigil-agent enroll`: a service manager restarting it must
    // not get a scan, a 401 and an exit on every restart.
    const revoked = readRevoked(config.stateDir);
    if (revoked) throw new AgentRevokedError(revoked, config.stateDir);
    warnIfInsecure(config, log);
    this.host = await hostInventory(log);
    const saved = loadIdentity(config.stateDir);
    if (saved && config.collectorUrlGiven && saved.collectorUrl !== config.collectorUrl) {
      log.info(
        { from: saved.collectorUrl, to: config.collectorUrl },
        'collector URL changed; keeping this agent identity and saving the new URL',
      );
    }
    this.identity =
      saved === undefined
        ? await this.enrollNow()
        : config.collectorUrlGiven
          ? withCollectorUrl(config.stateDir, saved, config.collectorUrl)
          : saved;
    this.loadPolicy();
    this.spool = Spool.open({
      dir: config.stateDir,
      agentId: this.identity.agentId,
      maxBytes: config.spoolMaxBytes,
      maxAgeMs: config.spoolMaxAgeMs,
      log,
    });
    this.link = new Link({
      identity: this.identity,
      host: this.host,
      agentVersion: AGENT_VERSION,
      spool: this.spool,
      tls: tlsOptions(config),
      log,
      policyRevision: () => (this.policyKnown ? this.policy.revision : undefined),
      heartbeatIntervalMs: () => this.policy.heartbeatIntervalMs,
    });
    this.link.on('policy', (policy) => void this.applyPolicy(policy));
    this.link.on('rejected', ({ seq, code, message }) =>
      this.emit('agent.error', { code: `batch_${code}`, message: `batch ${seq} refused: ${message}` }),
    );
    this.link.on('revoked', (reason) => {
      markRevoked(config.stateDir, reason);
      log.error({ reason }, 'the collector refused this agent; run `vigil-agent enroll` to enroll it again');
      const exitCode = revokedExitCode();
      void this.stop('revoked', exitCode).then(() => this.deps.onSelfStop?.(exitCode));
    });

    this.sensors = await this.deps.sensors();
    await this.applyPolicy(this.policy, false);
    this.link.start();
    this.scheduleScan();
    this.healthTimer = setInterval(() => this.reportHealth(), HEALTH_EVERY_MS);
    this.healthTimer.unref();
    log.info(
      { agentId: this.identity.agentId, sensors: [...this.running].map((s) => s.name) },
      'agent running',
    );
  }

  /** Stops sensors, records `agent.stopping` and gives the link a moment to deliver it. */
  async stop(reason: string, exitCode?: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.scanTimer);
    clearInterval(this.healthTimer);
    for (const sensor of this.running) await sensor.stop().catch(() => {});
    this.running.clear();
    if (reason !== 'revoked') {
      this.emit('agent.stopping', { reason }, { live: true });
      this.flush();
      await this.link.drain(3000);
    }
    await this.link.stop();
    this.spool.close();
    if (exitCode !== undefined) process.exitCode = exitCode;
  }

  /** Turns sensor output into envelopes; they reach the spool at the end of the current tick. */
  emit<T extends EventType>(type: T, data: EventData<T>, options: { live?: boolean } = {}): void {
    const event = {
      id: uuidv7(),
      agentId: this.identity.agentId,
      time: new Date().toISOString(),
      type,
      data,
    };
    const checked = checkEvent(event);
    if (!checked.ok) {
      // A sensor produced something outside the contract: a bug to fix, never a reason to crash.
      this.deps.log.error({ type, errors: checked.errors }, 'dropped an event that does not fit its schema');
      return;
    }
    (options.live ? this.pending.live : this.pending.backlog).push(checked.value);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    let { live, backlog } = this.pending;
    this.pending = { live: [], backlog: [] };
    if (this.spool === undefined) return;
    try {
      const report = this.unspooledReport();
      if (live.length || report) {
        this.spool.append(report ? [report, ...live] : live, { live: true });
        if (report) {
          this.deps.log.warn(report.data, 'the spool works again; reported the events it could not store');
          this.unspooled = undefined;
        }
        live = [];
      }
      if (backlog.length) this.spool.append(backlog);
    } catch (err) {
      // Disk full, I/O error: these events are lost. Count them, and report the count as
      // agent.spool_dropped (reason storage) with the first append that succeeds again.
      const lost = [...live, ...backlog];
      const first = this.unspooled === undefined;
      const times = lost.map((event) => event.time).sort();
      this.unspooled = {
        events: (this.unspooled?.events ?? 0) + lost.length,
        oldest: this.unspooled?.oldest ?? times[0] ?? new Date().toISOString(),
        newest: times.at(-1) ?? this.unspooled?.newest ?? new Date().toISOString(),
      };
      if (first)
        this.deps.log.error(
          { err, events: lost.length },
          'could not write events to the spool; counting losses',
        );
      return;
    }
    this.link.kick();
  }

  private unspooledReport(): VigilEvent | undefined {
    if (this.unspooled === undefined) return undefined;
    const { events, oldest, newest } = this.unspooled;
    return {
      id: uuidv7(),
      agentId: this.identity.agentId,
      time: new Date().toISOString(),
      type: 'agent.spool_dropped',
      data: { dropped: events, reason: 'storage', oldest, newest },
    };
  }

  /** Enrolls, waiting out a collector that cannot be reached yet (installed before the server). */
  private async enrollNow(): Promise<Identity> {
    const { config, log } = this.deps;
    let identity: Identity | undefined;
    for (let attempt = 0; !identity; attempt++) {
      try {
        identity = await enroll({
          collectorUrl: config.collectorUrl,
          secret: config.enrollSecret,
          host: this.host,
          agentVersion: AGENT_VERSION,
          tls: tlsOptions(config),
        });
      } catch (err) {
        if (!(err instanceof EnrollError) || err.code !== 'enroll_unreachable' || this.stopping) throw err;
        const delayMs = Math.min(60_000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
        log.warn({ err: err.message, retryInMs: Math.round(delayMs) }, 'cannot enroll yet; retrying');
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
    saveIdentity(config.stateDir, identity);
    log.info({ agentId: identity.agentId, group: identity.group }, 'enrolled');
    return identity;
  }

  private contextFor(sensor: Sensor): SensorContext {
    const stateDir = join(this.deps.config.stateDir, 'sensors', sensor.name);
    mkdirSync(stateDir, { recursive: true });
    return {
      emit: (type, data, options) => this.emit(type, data, options),
      log: this.deps.log.child({ sensor: sensor.name }),
      stateDir,
      policy: () => this.policy,
      setHealth: (health) => {
        const before = this.health.get(sensor.name);
        this.health.set(sensor.name, health);
        if (before && (before.state !== health.state || before.reason !== health.reason)) this.reportHealth();
      },
    };
  }

  private async applyPolicy(policy: Policy, save = true): Promise<void> {
    this.policy = policy;
    if (save) {
      this.policyKnown = true;
      const file = join(this.deps.config.stateDir, 'policy.json');
      writeFileSync(`${file}.tmp`, JSON.stringify(policy));
      renameSync(`${file}.tmp`, file);
      this.deps.log.info({ revision: policy.revision }, 'policy applied');
    }
    this.link?.refreshHeartbeat();
    for (const sensor of this.sensors) {
      const wanted = policy.sensors[sensor.policyKey];
      if (wanted && !this.running.has(sensor)) {
        try {
          this.health.set(sensor.name, { state: 'ok' });
          await sensor.start(this.contextFor(sensor));
          this.running.add(sensor);
        } catch (err) {
          this.health.set(sensor.name, { state: 'degraded', reason: (err as Error).message });
          this.deps.log.error({ err, sensor: sensor.name }, 'sensor failed to start');
        }
      } else if (!wanted && this.running.has(sensor)) {
        await sensor.stop().catch(() => {});
        this.running.delete(sensor);
        this.health.set(sensor.name, { state: 'off' });
      }
    }
  }

  private loadPolicy(): void {
    const file = join(this.deps.config.stateDir, 'policy.json');
    if (!existsSync(file)) return;
    try {
      this.policy = { ...defaultPolicy, ...(JSON.parse(readFileSync(file, 'utf8')) as Policy) };
      this.policyKnown = true;
    } catch (err) {
      this.deps.log.warn({ err }, 'ignoring an unreadable saved policy');
    }
  }

  /** Polls the scanning sensors one after another, never overlapping, every scanIntervalMs. */
  private scheduleScan(): void {
    this.scanTimer = setTimeout(async () => {
      for (const sensor of this.running) {
        if (!sensor.scan) continue;
        try {
          await sensor.scan();
        } catch (err) {
          this.health.set(sensor.name, { state: 'degraded', reason: (err as Error).message });
          this.deps.log.warn({ err, sensor: sensor.name }, 'scan failed');
        }
      }
      if (!this.stopping) this.scheduleScan();
    }, this.policy.scanIntervalMs);
  }

  healthSnapshot(): EventData<'agent.health'> {
    const now = Date.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, now - this.lastCpuAt)) * 100;
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = now;
    return {
      version: AGENT_VERSION,
      uptimeSec: Math.round((now - this.startedAt) / 1000),
      rssBytes: process.memoryUsage.rss(),
      cpuPercent: Math.round(cpuPercent * 100) / 100,
      spoolDepth: this.spool.depth().events,
      sensors: Object.fromEntries(this.health),
    };
  }

  private reportHealth(): void {
    if (!this.stopping) this.emit('agent.health', this.healthSnapshot());
  }
}
