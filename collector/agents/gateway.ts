// One agent's WebSocket session: hello first, then batches of events that are acked only after
// they are committed, and heartbeats. Malformed frames get an `error` message naming the problem;
// the session stays up so one bad batch does not cost the agent its connection.
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import {
  type AgentMessage,
  type CollectorMessage,
  closeCodes,
  type EventsMessage,
  type HeartbeatMessage,
  type Policy,
  PROTOCOL_VERSION,
  protocolMajor,
} from '../../shared/protocol.js';
import { validateAgentMessage } from '../../shared/validate.js';
import type { AgentRecord } from './repository.js';

const HELLO_TIMEOUT_MS = 10_000;

const unstorableEscape = /\\u(?:0000|[dD][89a-fA-F])/;
const toStorable = (text: string) => text.replaceAll('\0', '\uFFFD').toWellFormed();

/** JSON.parse reviver: NUL and lone surrogates, in strings and keys, become U+FFFD. */
function storable(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return toStorable(value);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.some(([name]) => name !== toStorable(name))) {
      return Object.fromEntries(entries.map(([name, item]) => [toStorable(name), item]));
    }
  }
  return value;
}

export interface GatewayDeps {
  log: FastifyBaseLogger;
  /** Stores a batch durably (events, detections, alerts) and resolves after commit. */
  ingest(agent: AgentRecord, batch: EventsMessage): Promise<void>;
  onHello(agent: AgentRecord, hello: Extract<AgentMessage, { type: 'hello' }>): Promise<Policy>;
  onHeartbeat(agent: AgentRecord, heartbeat: HeartbeatMessage): Promise<void>;
  /** Batches this agent may keep in flight, sent with each ack. */
  credit(): number;
  /** Milliseconds the agent should hold its backlog, or 0. */
  throttle(): number;
}

export class AgentSession {
  /** A hello arrived; messages behind it wait in the queue until it is handled. */
  private helloSeen = false;
  /** The hello was accepted. */
  private helloDone = false;
  /** Batches are stored one after another so acks go out in the order batches came in. */
  private queue: Promise<void> = Promise.resolve();
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    readonly agent: AgentRecord,
    private readonly socket: WebSocket,
    private readonly deps: GatewayDeps,
  ) {
    this.helloTimer = setTimeout(
      () => this.close(closeCodes.notHello, 'no hello within 10 s'),
      HELLO_TIMEOUT_MS,
    );
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.send({
          type: 'error',
          code: 'bad_message',
          message: 'binary frames are not part of the protocol',
        });
        return;
      }
      this.onText(data.toString());
    });
    socket.on('close', () => clearTimeout(this.helloTimer));
    socket.on('error', (err) => deps.log.debug({ err, agentId: agent.id }, 'agent socket error'));
  }

  send(message: CollectorMessage): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close(code: number, reason: string): void {
    clearTimeout(this.helloTimer);
    this.socket.close(code, reason);
  }

  private onText(text: string): void {
    let value: unknown;
    try {
      // PostgreSQL jsonb refuses NUL and lone surrogates: a batch carrying one would be refused on
      // every resend. Escapes are the only way either reaches us in JSON, so the scan is cheap.
      value = unstorableEscape.test(text) ? JSON.parse(text, storable) : JSON.parse(text);
    } catch (err) {
      this.send({ type: 'error', code: 'bad_json', message: (err as Error).message });
      return;
    }
    const parsed = validateAgentMessage(value);
    if (!parsed.ok) {
      // Name the batch when we can, so the agent can set that batch aside instead of resending it.
      const seq = (value as { seq?: unknown } | null)?.seq;
      const message = parsed.errors.join('; ');
      this.send({
        type: 'error',
        code: parsed.code,
        message,
        ...(Number.isSafeInteger(seq) && { seq: seq as number }),
      });
      return;
    }
    const message = parsed.value;
    // An agent sends its backlog right behind hello, before the hello is handled: order, not
    // completion, is what the protocol requires.
    if (!this.helloSeen && message.type !== 'hello') {
      this.send({ type: 'error', code: 'not_hello', message: 'the first message must be hello' });
      this.close(closeCodes.notHello, 'the first message must be hello');
      return;
    }
    if (message.type === 'hello') this.helloSeen = true;
    this.queue = this.queue.then(() => this.handle(message)).catch((err) => this.fail(err, message));
  }

  private async handle(message: AgentMessage): Promise<void> {
    // Behind a refused hello the socket is closing: nothing after it is stored.
    if (message.type !== 'hello' && !this.helloDone) return;
    switch (message.type) {
      case 'hello':
        return this.hello(message);
      case 'events':
        await this.deps.ingest(this.agent, message);
        this.send({ type: 'ack', seq: message.seq, credit: this.deps.credit() });
        {
          const retryAfterMs = this.deps.throttle();
          if (retryAfterMs > 0) this.send({ type: 'throttle', retryAfterMs });
        }
        return;
      case 'heartbeat':
        return this.deps.onHeartbeat(this.agent, message);
    }
  }

  private async hello(message: Extract<AgentMessage, { type: 'hello' }>): Promise<void> {
    if (protocolMajor(message.protocolVersion) !== protocolMajor(PROTOCOL_VERSION)) {
      const reason = `protocol ${message.protocolVersion} is not supported; this collector speaks ${PROTOCOL_VERSION}`;
      this.send({ type: 'error', code: 'protocol_version', message: reason });
      this.close(closeCodes.protocolVersion, 'unsupported protocol version');
      return;
    }
    if (message.agentId !== this.agent.id) {
      this.send({
        type: 'error',
        code: 'agent_mismatch',
        message: 'hello.agentId does not belong to this token',
      });
      this.close(closeCodes.badMessage, 'agent id does not match token');
      return;
    }
    clearTimeout(this.helloTimer);
    this.helloDone = true;
    const policy = await this.deps.onHello(this.agent, message);
    if (message.policyRevision !== policy.revision) this.send({ type: 'policy', policy });
  }

  private fail(err: unknown, message: AgentMessage): void {
    const seq = message.type === 'events' ? message.seq : undefined;
    this.deps.log.error(
      { err, agentId: this.agent.id, seq },
      'could not store a batch; the agent will resend it',
    );
    this.send({
      type: 'error',
      code: 'store_failed',
      message: 'the batch was not stored; send it again',
      seq,
    });
  }
}
