// The capture sensor's reporting rules over successive snapshots of a reader: a packet socket is
// reported when first seen, and once more when its owner turns up later (the reader could not
// trace it at first: another pid namespace, a process still starting).
import { tmpdir } from 'node:os';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CaptureReader, CaptureSnapshot, PacketSocketOwner } from '../../../agent/platform/types.js';
import { createCaptureSensor } from '../../../agent/sensors/capture.js';
import type { SensorContext } from '../../../agent/sensors/sensor.js';
import type { EventData } from '../../../shared/events.js';
import { defaultPolicy } from '../../../shared/protocol-constants.js';

/** Hands out the given snapshots in order, then repeats the last. */
function scriptedReader(snapshots: PacketSocketOwner[][]): CaptureReader {
  let index = 0;
  return {
    async snapshot(): Promise<CaptureSnapshot> {
      const sockets = snapshots[Math.min(index++, snapshots.length - 1)]!;
      return { promiscuous: new Set(), sockets, drivers: [], problems: [] };
    },
  };
}

describe('capture sensor', () => {
  it('reports a socket again once its owner is found, and only then', async () => {
    const ownerless: PacketSocketOwner = {
      key: 'inode:42',
      kind: 'packet',
      inode: 42,
      interface: 'any',
      protocol: 'all',
    };
    const owned: PacketSocketOwner = {
      ...ownerless,
      pid: process.pid,
      name: 'tcpdump',
      user: 'tcpdump',
      loginUser: 'alice',
    };
    const emitted: EventData<'capture.packet_socket'>[] = [];
    const ctx: SensorContext = {
      emit: (type, data) => {
        if (type === 'capture.packet_socket') emitted.push(data as EventData<'capture.packet_socket'>);
      },
      log: pino({ level: 'silent' }),
      stateDir: tmpdir(),
      policy: () => defaultPolicy,
      setHealth: () => {},
    };
    const sensor = createCaptureSensor(scriptedReader([[ownerless], [ownerless], [owned], [owned]]));
    await sensor.start(ctx);
    await sensor.scan!();
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.pid).toBeUndefined();
    await sensor.scan!();
    await sensor.scan!();
    expect(emitted).toHaveLength(2);
    expect(emitted[1]).toMatchObject({ inode: 42, pid: process.pid, name: 'tcpdump', loginUser: 'alice' });
    await sensor.stop();
  });
});
