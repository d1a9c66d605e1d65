// Packet capture by what the OS shows, so a renamed sniffer is still caught: interfaces entering
// or leaving promiscuous mode, packet/raw/bpf sockets and their owning processes, and capture
// drivers (Windows). Each scan diffs the reader's snapshot against the previous one; everything
// present at start is reported too, since a sniffer that was already running matters as much.
import type { EventData } from '../../shared/events.js';
import { ExecutableHasher } from '../hash.js';
import type { CaptureReader, CaptureSnapshot, PacketSocketOwner } from '../platform/types.js';
import { redactCommandLine } from '../redact.js';
import type { Sensor, SensorContext } from './sensor.js';

/** `hasher` is shared with the process sensor, so a sniffer's binary is hashed once, not per sensor. */
export function createCaptureSensor(reader: CaptureReader, hasher = new ExecutableHasher()): Sensor {
  let previous: CaptureSnapshot = { promiscuous: new Set(), sockets: [], drivers: [], problems: [] };
  let ctx: SensorContext;

  async function socketEvent(socket: PacketSocketOwner): Promise<EventData<'capture.packet_socket'>> {
    const exePath =
      process.platform === 'linux' && socket.pid !== undefined ? `/proc/${socket.pid}/exe` : socket.exe;
    const sha256 = socket.exe && exePath ? await hasher.sha256(exePath) : undefined;
    return {
      kind: socket.kind,
      ...(socket.inode !== undefined && { inode: socket.inode }),
      ...(socket.interface && { interface: socket.interface }),
      ...(socket.protocol && { protocol: socket.protocol }),
      ...(socket.pid !== undefined && { pid: socket.pid }),
      ...(socket.name && { name: socket.name }),
      ...(socket.exe && { exe: socket.exe }),
      ...(socket.cmdline && { cmdline: redactCommandLine(socket.cmdline) }),
      ...(socket.user && { user: socket.user }),
      ...(socket.loginUser && { loginUser: socket.loginUser }),
      ...(sha256 && { sha256 }),
    };
  }

  async function scan(): Promise<void> {
    const current = await reader.snapshot();
    ctx.setHealth(
      current.problems.length ? { state: 'degraded', reason: current.problems.join('; ') } : { state: 'ok' },
    );

    // Reported when first seen, and once more when the owner of a socket first seen without one
    // is found (the reader searches again for ownerless sockets now and then).
    const seenSockets = new Map(previous.sockets.map((s) => [s.key, s]));
    for (const socket of current.sockets) {
      const before = seenSockets.get(socket.key);
      if (!before || (before.pid === undefined && socket.pid !== undefined))
        ctx.emit('capture.packet_socket', await socketEvent(socket), { live: true });
    }

    const holdersOf = (iface: string) =>
      current.sockets
        .filter(
          (s) => s.pid !== undefined && (s.interface === iface || s.interface === 'any' || !s.interface),
        )
        .slice(0, 64)
        .map((s) => ({ pid: s.pid!, name: s.name ?? '', exe: s.exe ?? '' }));
    for (const iface of current.promiscuous) {
      if (!previous.promiscuous.has(iface)) {
        ctx.emit(
          'capture.promiscuous',
          { interface: iface, promiscuous: true, holders: holdersOf(iface) },
          { live: true },
        );
      }
    }
    for (const iface of previous.promiscuous) {
      if (!current.promiscuous.has(iface))
        ctx.emit('capture.promiscuous', { interface: iface, promiscuous: false });
    }

    const before = new Map(previous.drivers.map((d) => [d.name, d]));
    for (const driver of current.drivers) {
      const was = before.get(driver.name);
      const state = !was
        ? driver.running
          ? 'started'
          : 'present'
        : !was.running && driver.running
          ? 'started'
          : undefined;
      if (was?.running && !driver.running)
        ctx.emit('capture.driver', { name: driver.name, state: 'stopped' });
      if (!state) continue;
      ctx.emit(
        'capture.driver',
        {
          name: driver.name,
          state,
          ...(driver.displayName && { displayName: driver.displayName }),
          ...(driver.path && { path: driver.path }),
        },
        { live: true },
      );
    }
    previous = current;
  }

  return {
    name: 'capture',
    policyKey: 'capture',
    async start(context) {
      ctx = context;
      await scan();
    },
    scan,
    async stop() {
      await reader.close?.();
    },
  };
}
