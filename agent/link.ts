// The agent's end of the WebSocket: hello, then batches taken from the spool, each removed from
// the spool only when the collector acks it (the collector acks after commit). Reconnects with
// exponential backoff and jitter; what was in flight goes back to the spool and is sent again
// (the collector stores each event id once).
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { checkCollectorMessage } from '../shared/checks.js';
import type { CollectorMessage, HostInventory, Policy } from '../shared/protocol.js';
import { closeCodes, limits, PROTOCOL_VERSION } from '../shared/protocol-constants.js';
import type { Identity } from './identity.js';
import type { Spool } from './spool.js';
import type { TlsOptions } from './tls.js';

export interface LinkOptions {
  identity: Identity;
  host: HostInventory;
  agentVersion: string;
  spool: Spool;
  tls: TlsOptions;
  log: Logger;
  policyRevision: () => number | undefined;
  heartbeatIntervalMs: () => number;
  maxInFlight?: number;
  maxBatchEvents?: number;
  /** Room left for the message envelope around the events. */
  maxBatchBytes?: number;
  backoff?: { baseMs: number; capMs: number };
}

/** Default reconnect schedule: doubling from 1 s, capped at a minute. */
export const DEFAULT_BACKOFF = { baseMs: 1000, capMs: 60_000 } as const;

/**
 * Delay before reconnect attempt `attempt` (0 = first after a drop): "equal jitter" — between half
 * and all of min(cap, base·2^attempt), so a fleet reconnecting after an outage spreads out and no
 * agent waits longer than the cap. `slow` (the collector refused our protocol version) waits the cap.
 */
export function reconnectDelayMs(
  attempt: number,
  backoff: { baseMs: number; capMs: number } = DEFAULT_BACKOFF,
  slow = false,
  random: () => number = Math.random,
): number {
  if (slow) return backoff.capMs;
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The collector's `{error: {code, message}}` body of a refused upgrade, as one line. */
function refusalReason(body: string): string {
  try {
    const error = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
    if (error?.message) return error.code ? `${error.message} (${error.code})` : error.message;
  } catch {
    // Not the collector's JSON (a proxy's page): the status says enough.
  }
  return 'token refused (HTTP 401)';
}

export interface LinkEvents {
  policy: [Policy];
  connected: [];
  disconnected: [{ code: number; reason: string }];
  /** The collector no longer accepts this agent's token: stop and re-enroll explicitly. */
  revoked: [string];
  /** The collector refused a batch as invalid; it was set aside (never resent). */
  rejected: [{ seq: number; code: string; message: string }];
}

export class Link extends EventEmitter<LinkEvents> {
  private socket?: WebSocket;
  private ready = false;
  private stopped = false;
  private attempt = 0;
  private inFlight = new Set<number>();
  private credit: number;
  private pausedUntil = 0;
  private heartbeat?: NodeJS.Timeout;
  private heartbeatMs = 0;
  /** The collector answered the upgrade with 401: the token is no longer valid; no reconnect, no noise. */
  private refused = false;
  private awaitingPong = false;
  private reconnectTimer?: NodeJS.Timeout;
  private resumeTimer?: NodeJS.Timeout;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;

  constructor(private readonly options: LinkOptions) {
    super();
    this.credit = options.maxInFlight ?? 4;
    this.maxBatchEvents = options.maxBatchEvents ?? limits.maxEventsPerBatch;
    // Room for the message envelope around the events.
    this.maxBatchBytes = options.maxBatchBytes ?? limits.maxFrameBytes - 4096;
  }

  get connected(): boolean {
    return this.ready;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** New events are in the spool: send what credit allows. */
  kick(): void {
    try {
      this.send();
    } catch (err) {
      this.onSpoolFailure(err);
    }
  }

  /**
   * The policy's heartbeat interval may have changed: apply it now, not at the next reconnect
   * (the collector's silence threshold is measured against it).
   */
  refreshHeartbeat(): void {
    if (this.ready && this.options.heartbeatIntervalMs() !== this.heartbeatMs) this.startHeartbeat();
  }

  private send(): void {
    if (!this.ready || !this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    // While the collector asks us to hold back, only live events (sniffers) still go out.
    const paused = now < this.pausedUntil;
    if (paused) {
      this.resumeTimer ??= setTimeout(() => {
        this.resumeTimer = undefined;
        this.kick();
      }, this.pausedUntil - now);
    }
    while (this.inFlight.size < this.credit) {
      const batch = this.options.spool.takeBatch(this.maxBatchEvents, this.maxBatchBytes, {
        liveOnly: paused,
      });
      if (!batch) return;
      this.inFlight.add(batch.batchId);
      this.socket.send(JSON.stringify({ type: 'events', seq: batch.batchId, events: batch.events }));
    }
  }

  /** Waits until nothing is in flight and the spool is empty, or the timeout passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.kick();
      if (this.ready && this.inFlight.size === 0 && this.options.spool.depth().events === 0) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.resumeTimer);
    clearInterval(this.heartbeat);
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close(1000, 'agent stopping');
      setTimeout(resolve, 2000).unref();
    });
  }

  /**
   * The spool failed (disk full, I/O error) inside a socket handler or a kick: never let it escape
   * as an uncaught exception. Drop the connection; what was in flight is released on close and
   * the reconnect (with backoff) tries the spool again.
   */
  private onSpoolFailure(err: unknown): void {
    const socket = this.socket;
    // Already being dropped (a second failure in the same turn): one line is enough.
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    this.options.log.error({ err }, 'the spool failed while sending; dropping the connection to retry later');
    socket.terminate();
  }

  private connect(): void {
    const { identity, tls, log } = this.options;
    const url = `${identity.collectorUrl.replace(/^http/, 'ws')}/api/v1/agents/stream`;
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${identity.token}` },
      maxPayload: limits.maxFrameBytes,
      handshakeTimeout: 15_000,
      ...tls,
    });
    this.socket = socket;

    socket.on('open', () => {
      socket.send(
        JSON.stringify({
          type: 'hello',
          agentId: identity.agentId,
          agentVersion: this.options.agentVersion,
          protocolVersion: PROTOCOL_VERSION,
          host: this.options.host,
          ...(this.options.policyRevision() !== undefined && {
            policyRevision: this.options.policyRevision(),
          }),
        }),
      );
      this.ready = true;
      this.attempt = 0;
      log.info({ collector: identity.collectorUrl }, 'connected to the collector');
      this.emit('connected');
      this.startHeartbeat();
      this.kick();
    });

    socket.on('message', (data) => {
      try {
        this.onMessage(data.toString());
      } catch (err) {
        this.onSpoolFailure(err);
      }
    });
    socket.on('pong', () => {
      this.awaitingPong = false;
    });

    socket.on('unexpected-response', (_req, res) => {
      if (res.statusCode !== 401) {
        log.warn({ status: res.statusCode }, 'the collector refused the stream');
        res.resume();
        socket.terminate();
        return;
      }
      // The token is no longer accepted (revoked, or unknown to this collector): decided now, so
      // neither the 'error' nor the 'close' that terminate() fires logs "link error" or
      // "reconnecting" ahead of the one revoked message. A network failure never gets here.
      this.stopped = true;
      this.refused = true;
      let body = '';
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        socket.terminate();
        this.emit('revoked', refusalReason(body));
      };
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      // The reason is in the body: read it whole before dropping the connection.
      res.on('end', finish);
      res.on('error', finish);
      setTimeout(finish, 5000).unref();
    });

    socket.on('error', (err) => {
      if (!this.refused) log.warn({ err: err.message }, 'collector link error');
    });

    socket.on('close', (code, reasonBuffer) => {
      const reason = reasonBuffer.toString();
      const wasReady = this.ready;
      this.ready = false;
      clearInterval(this.heartbeat);
      this.inFlight.clear();
      try {
        this.options.spool.releaseInFlight();
      } catch (err) {
        // Still failing: the spool releases in-flight rows itself when it is next opened.
        log.error({ err }, 'the spool could not release the batches in flight');
      }
      if (wasReady) this.emit('disconnected', { code, reason });
      if (code === closeCodes.revoked) {
        this.stopped = true;
        this.emit('revoked', reason || 'agent revoked');
      }
      if (!this.stopped) this.scheduleReconnect(code === closeCodes.protocolVersion);
    });
  }

  private onMessage(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.options.log.warn('the collector sent a frame that is not JSON');
      return;
    }
    const parsed = checkCollectorMessage(value);
    if (!parsed.ok) {
      this.options.log.warn({ errors: parsed.errors }, 'the collector sent an unknown message');
      return;
    }
    this.handle(parsed.value);
  }

  private handle(message: CollectorMessage): void {
    const { spool, log } = this.options;
    switch (message.type) {
      case 'ack':
        if (this.inFlight.delete(message.seq)) spool.ack(message.seq);
        if (message.credit !== undefined) this.credit = Math.max(1, message.credit);
        this.kick();
        return;
      case 'policy':
        this.emit('policy', message.policy);
        return;
      case 'throttle':
        this.pausedUntil = Date.now() + message.retryAfterMs;
        log.info({ retryAfterMs: message.retryAfterMs }, 'the collector asked to slow down');
        return;
      case 'error':
        if (message.seq !== undefined && this.inFlight.has(message.seq))
          this.onBatchError(message.seq, message);
        else log.warn({ code: message.code, message: message.message }, 'the collector reported an error');
        return;
    }
  }

  private onBatchError(seq: number, error: Extract<CollectorMessage, { type: 'error' }>): void {
    const { spool, log } = this.options;
    this.inFlight.delete(seq);
    if (error.code === 'store_failed') {
      // The collector could not commit (database away): back off, then send everything again.
      log.warn({ seq }, 'the collector could not store a batch; retrying');
      this.pausedUntil = Date.now() + 2000;
      spool.releaseInFlight();
      this.inFlight.clear();
      this.kick();
      return;
    }
    // Refused as invalid: resending would fail forever. Set it aside and make it visible.
    spool.ack(seq);
    log.error({ seq, code: error.code, reason: error.message }, 'the collector refused a batch as invalid');
    this.emit('rejected', { seq, code: error.code, message: error.message });
    this.kick();
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.awaitingPong = false;
    this.heartbeatMs = this.options.heartbeatIntervalMs();
    this.heartbeat = setInterval(() => {
      if (!this.ready || !this.socket) return;
      // A cut cable leaves TCP "open" for many minutes: a ping unanswered for a whole interval
      // means the collector is gone, so drop the socket and reconnect (in-flight batches resend).
      if (this.awaitingPong) {
        this.options.log.warn('the collector stopped answering; reconnecting');
        this.socket.terminate();
        return;
      }
      this.awaitingPong = true;
      this.socket.ping();
      const spoolDepth = this.options.spool.depth().events;
      this.socket.send(JSON.stringify({ type: 'heartbeat', time: new Date().toISOString(), spoolDepth }));
    }, this.heartbeatMs);
  }

  private scheduleReconnect(slow: boolean): void {
    const delay = reconnectDelayMs(this.attempt, this.options.backoff, slow);
    this.attempt++;
    this.options.log.info({ delayMs: Math.round(delay) }, 'reconnecting to the collector');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
