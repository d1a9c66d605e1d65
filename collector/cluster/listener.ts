// One dedicated PostgreSQL connection that LISTENs on the channels handlers asked for and hands
// each notification to them. When the server goes away (restart, failover) it reconnects with
// backoff, LISTENs again and tells `onReconnect` handlers, since notifications sent while it was
// down are lost: they re-read the state they care about.
import pg from 'pg';

export type NotificationHandler = (payload: string) => void | Promise<void>;

export interface ListenerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class PgListener {
  private client: pg.Client | undefined;
  private readonly channels = new Set<string>();
  private stopped = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly log: ListenerLog,
    private readonly deliver: (channel: string, payload: string) => void,
    private readonly reconnected: () => void,
  ) {}

  /** Connects and LISTENs; resolves once listening (or keeps retrying in the background). */
  async start(): Promise<void> {
    await this.connect(false);
  }

  async listen(channel: string): Promise<void> {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    await this.client?.query(`LISTEN ${quoteIdent(channel)}`).catch(() => {});
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(isReconnect: boolean): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    client.on('notification', (message) => this.deliver(message.channel, message.payload ?? ''));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      for (const channel of this.channels) await client.query(`LISTEN ${quoteIdent(channel)}`);
    } catch (err) {
      await client.end().catch(() => {});
      this.scheduleRetry(err);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.attempt = 0;
    if (isReconnect) {
      this.log.warn({ channels: [...this.channels] }, 'cluster listener reconnected');
      this.reconnected();
    }
  }

  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    if (this.stopped) return;
    this.log.warn({ err }, 'cluster listener lost its connection; reconnecting');
    this.scheduleRetry(err);
  }

  private scheduleRetry(err: unknown): void {
    if (this.stopped) return;
    this.attempt++;
    const delay = Math.min(10_000, 200 * 2 ** Math.min(this.attempt, 6));
    if (this.attempt === 1 || this.attempt % 10 === 0)
      this.log.error({ err, attempt: this.attempt, delay }, 'cluster listener cannot connect');
    this.retryTimer = setTimeout(() => void this.connect(true), delay);
    this.retryTimer.unref();
  }
}

/** Channel names come from code, not users; quoting still keeps LISTEN well-formed. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
