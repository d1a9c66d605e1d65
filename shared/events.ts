// Every event an agent reports, as one envelope with a typed `data` per event type.
// The collector stores the envelope as-is; detection maps it onto the Sigma taxonomy.
import Type, { type Static, type TSchema } from 'typebox';

const Str = (maxLength = 4096) => Type.String({ maxLength });
const Pid = Type.Integer({ minimum: 0, maximum: 2 ** 32 });
const IsoTime = Type.String({ format: 'date-time', maxLength: 40 });

export const ProcessStart = Type.Object({
  pid: Pid,
  ppid: Pid,
  parentName: Type.Optional(Str(512)),
  parentExe: Type.Optional(Str()),
  parentCmdline: Type.Optional(Str(32768)),
  name: Str(512),
  exe: Str(),
  cmdline: Str(32768),
  user: Str(512),
  uid: Type.Optional(Type.Integer()),
  /** Who logged in to start the session this process belongs to (Linux loginuid): still names the person after a tool drops to its own account (tcpdump → user tcpdump). */
  loginUser: Type.Optional(Str(512)),
  cwd: Type.Optional(Str()),
  startTime: IsoTime,
  sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  signer: Type.Optional(Str(512)),
  originalFileName: Type.Optional(Str(512)),
});

/** An interface entered (`promiscuous: true`) or left promiscuous mode. */
export const CapturePromiscuous = Type.Object({
  interface: Str(64),
  promiscuous: Type.Boolean(),
  /** Processes holding packet sockets on that interface when the change was seen. */
  holders: Type.Optional(Type.Array(Type.Object({ pid: Pid, name: Str(512), exe: Str() }), { maxItems: 64 })),
});

/** A process holds a packet-level socket: AF_PACKET or raw IP on Linux, /dev/bpf on macOS. */
export const CapturePacketSocket = Type.Object({
  kind: Type.Union([Type.Literal('packet'), Type.Literal('raw'), Type.Literal('bpf'), Type.Literal('ndis')]),
  inode: Type.Optional(Type.Integer({ minimum: 0 })),
  interface: Type.Optional(Str(64)),
  protocol: Type.Optional(Str(32)),
  pid: Type.Optional(Pid),
  name: Type.Optional(Str(512)),
  exe: Type.Optional(Str()),
  cmdline: Type.Optional(Str(32768)),
  user: Type.Optional(Str(512)),
  /** The owner's login user (Linux loginuid), as in process.start. */
  loginUser: Type.Optional(Str(512)),
  sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
});

/** A capture driver or service (npcap, pktmon, ...) is present or was started. */
export const CaptureDriver = Type.Object({
  name: Str(256),
  displayName: Type.Optional(Str(512)),
  state: Type.Union([Type.Literal('present'), Type.Literal('started'), Type.Literal('stopped')]),
  path: Type.Optional(Str()),
});

/** A capture file (.pcap, .pcapng, .cap, .etl, .har) is being written. */
export const CaptureFile = Type.Object({
  path: Str(),
  extension: Str(16),
  size: Type.Integer({ minimum: 0 }),
  owner: Type.Optional(Str(512)),
  pid: Type.Optional(Pid),
  name: Type.Optional(Str(512)),
  exe: Type.Optional(Str()),
});

export const WebVisit = Type.Object({
  browser: Str(64),
  profile: Str(1024),
  user: Str(512),
  host: Str(512),
  category: Str(64),
  visitTime: IsoTime,
  url: Type.Optional(Str(8192)),
});

export const SensorState = Type.Object({
  state: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('off')]),
  reason: Type.Optional(Str(1024)),
});

export const AgentHealth = Type.Object({
  version: Str(64),
  uptimeSec: Type.Number({ minimum: 0 }),
  rssBytes: Type.Integer({ minimum: 0 }),
  cpuPercent: Type.Number({ minimum: 0 }),
  spoolDepth: Type.Integer({ minimum: 0 }),
  sensors: Type.Record(Type.String({ maxLength: 64 }), SensorState),
});

export const AgentSpoolDropped = Type.Object({
  dropped: Type.Integer({ minimum: 1 }),
  /** size/age: over a cap; corrupt: the file was moved aside; storage: the spool failed to store them (disk full, I/O). */
  reason: Type.Union([
    Type.Literal('size'),
    Type.Literal('age'),
    Type.Literal('corrupt'),
    Type.Literal('storage'),
  ]),
  oldest: Type.Optional(IsoTime),
  newest: Type.Optional(IsoTime),
});

export const AgentStopping = Type.Object({ reason: Str(256) });

export const AgentError = Type.Object({ code: Str(64), message: Str(4096) });

/** Maps each event type to the schema of its `data`. Adding a type here adds it to the protocol. */
export const eventDataSchemas = {
  'process.start': ProcessStart,
  'capture.promiscuous': CapturePromiscuous,
  'capture.packet_socket': CapturePacketSocket,
  'capture.driver': CaptureDriver,
  'capture.file': CaptureFile,
  'web.visit': WebVisit,
  'agent.health': AgentHealth,
  'agent.spool_dropped': AgentSpoolDropped,
  'agent.stopping': AgentStopping,
  'agent.error': AgentError,
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const eventTypes = Object.keys(eventDataSchemas) as EventType[];
export type EventData<T extends EventType> = Static<(typeof eventDataSchemas)[T]>;

const Uuid = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
});

const envelope = <T extends EventType>(type: T) =>
  Type.Object(
    {
      // `type` first: the batch schema is a union of envelopes, and a compiled union tries its
      // members in turn; a cheap literal check rejects the wrong members before any regex runs.
      type: Type.Literal(type),
      id: Uuid,
      agentId: Uuid,
      time: IsoTime,
      data: eventDataSchemas[type],
    },
    { additionalProperties: false },
  );

/** The envelope schema of each event type, for validating one event without the whole union. */
export const eventEnvelopeSchemas = {
  'process.start': envelope('process.start'),
  'capture.promiscuous': envelope('capture.promiscuous'),
  'capture.packet_socket': envelope('capture.packet_socket'),
  'capture.driver': envelope('capture.driver'),
  'capture.file': envelope('capture.file'),
  'web.visit': envelope('web.visit'),
  'agent.health': envelope('agent.health'),
  'agent.spool_dropped': envelope('agent.spool_dropped'),
  'agent.stopping': envelope('agent.stopping'),
  'agent.error': envelope('agent.error'),
} satisfies Record<EventType, TSchema>;

export const VigilEventSchema = Type.Union(Object.values(eventEnvelopeSchemas));

export type VigilEvent = {
  [T in EventType]: Static<(typeof eventEnvelopeSchemas)[T]>;
}[EventType];
export type EventOf<T extends EventType> = Extract<VigilEvent, { type: T }>;
