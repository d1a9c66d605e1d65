// The one interface every sensor implements. A sensor observes one thing and emits events;
// it never talks to the network or the spool directly.
import type { Logger } from 'pino';
import type { EventData, EventType } from '../../shared/events.js';
import type { Policy } from '../../shared/protocol.js';

export type SensorHealth = { state: 'ok' | 'degraded' | 'off'; reason?: string };

export interface SensorContext {
  /** Queue an event. `live` events (sniffers) are sent ahead of any backlog. */
  emit<T extends EventType>(type: T, data: EventData<T>, options?: { live?: boolean }): void;
  log: Logger;
  /** Directory this sensor may keep state in (cursors, caches); created by the agent. */
  stateDir: string;
  /** The policy in force now; sensors read it on each scan so changes apply without restart. */
  policy(): Policy;
  /** Report degraded operation (e.g. no permission on a user's profile) without failing. */
  setHealth(health: SensorHealth): void;
}

export interface Sensor {
  readonly name: string;
  /** Which policy switch turns this sensor on or off. */
  readonly policyKey: keyof Policy['sensors'];
  /** Set up watches; the first baseline scan happens here so existing state is not reported as new. */
  start(ctx: SensorContext): Promise<void>;
  /** Poll once. Called every `policy.scanIntervalMs` by the agent's scheduler; watch-based sensors may omit it. */
  scan?(): Promise<void>;
  stop(): Promise<void>;
}
