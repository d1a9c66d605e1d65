// Group commit for ingest: batches wait here while `concurrency` transactions are in flight, and
// the next free transaction takes every waiting batch (up to `maxEvents`). With no load a batch
// goes straight through; under load the number of transactions stays flat as batches grow.
import type { VigilEvent } from '../../shared/events.js';
import type { AgentRecord } from '../agents/repository.js';
import type { IngestResult } from './plugin.js';

export interface PendingBatch {
  agent: AgentRecord;
  events: VigilEvent[];
  resolve(result: IngestResult): void;
  reject(error: unknown): void;
}

export interface IngestQueueOptions {
  concurrency: number;
  maxEvents: number;
  /** Commits a group; must settle every batch in it (resolve or reject), and not throw. */
  commit(group: PendingBatch[]): Promise<void>;
}

export class IngestQueue {
  private readonly waiting: PendingBatch[] = [];
  private running = 0;

  constructor(private readonly options: IngestQueueOptions) {}

  push(agent: AgentRecord, events: VigilEvent[]): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ agent, events, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.running < this.options.concurrency && this.waiting.length > 0) {
      const group = this.takeGroup();
      this.running++;
      this.options
        .commit(group)
        .catch((error: unknown) => {
          for (const batch of group) batch.reject(error);
        })
        .finally(() => {
          this.running--;
          this.drain();
        });
    }
  }

  private takeGroup(): PendingBatch[] {
    let events = this.waiting[0]!.events.length;
    let count = 1;
    while (
      count < this.waiting.length &&
      events + this.waiting[count]!.events.length <= this.options.maxEvents
    ) {
      events += this.waiting[count]!.events.length;
      count++;
    }
    return this.waiting.splice(0, count);
  }
}
