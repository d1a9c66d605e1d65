// The wire contract accepts what each side sends and rejects what it must not, with errors that
// name the message and field.
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { defaultPolicy, PROTOCOL_VERSION } from '../../shared/protocol.js';
import {
  validateAgentMessage,
  validateCollectorMessage,
  validateEnrollRequest,
  validateEvent,
} from '../../shared/validate.js';

const agentId = uuidv7();
const host = {
  hostname: 'ws-1',
  os: { platform: 'linux', distro: 'Debian', release: '12', arch: 'x64' },
  systemUuid: 'u',
};
const processStart = {
  id: uuidv7(),
  agentId,
  time: new Date().toISOString(),
  type: 'process.start',
  data: {
    pid: 10,
    ppid: 1,
    name: 'tcpdump',
    exe: '/usr/bin/tcpdump',
    cmdline: 'tcpdump -i eth0',
    user: 'root',
    startTime: new Date().toISOString(),
    sha256: 'a'.repeat(64),
  },
};

describe('agent → collector', () => {
  it.each([
    ['hello', { type: 'hello', agentId, agentVersion: '1.0.0', protocolVersion: PROTOCOL_VERSION, host }],
    ['events', { type: 'events', seq: 1, events: [processStart] }],
    ['heartbeat', { type: 'heartbeat', time: new Date().toISOString(), spoolDepth: 3 }],
  ])('accepts a good %s', (_name, message) => {
    expect(validateAgentMessage(message)).toMatchObject({ ok: true });
  });

  it.each([
    ['an unknown type', { type: 'telemetry' }, 'unknown_type', /telemetry/],
    [
      'hello without host',
      { type: 'hello', agentId, agentVersion: '1', protocolVersion: '1.0' },
      'bad_message',
      /host/,
    ],
    [
      'a bad protocol version string',
      { type: 'hello', agentId, agentVersion: '1', protocolVersion: 'one', host },
      'bad_message',
      /protocolVersion/,
    ],
    ['an empty batch', { type: 'events', seq: 1, events: [] }, 'bad_message', /events/],
    ['a negative seq', { type: 'events', seq: -1, events: [processStart] }, 'bad_message', /seq/],
    [
      'an event with a string pid',
      { type: 'events', seq: 1, events: [{ ...processStart, data: { ...processStart.data, pid: 'x' } }] },
      'bad_message',
      /pid/,
    ],
    [
      'an unknown event type',
      { type: 'events', seq: 1, events: [{ ...processStart, type: 'process.magic' }] },
      'bad_message',
      /type/,
    ],
    [
      'extra fields',
      { type: 'heartbeat', time: new Date().toISOString(), extra: 1 },
      'bad_message',
      /additional/,
    ],
  ])('rejects %s', (_name, message, code, mention) => {
    const result = validateAgentMessage(message);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.errors.join(' ')).toMatch(mention);
    }
  });

  it('validates one event by its own type', () => {
    expect(validateEvent(processStart).ok).toBe(true);
    const bad = validateEvent({ ...processStart, data: { ...processStart.data, sha256: 'not-a-hash' } });
    expect(bad.ok).toBe(false);
  });
});

describe('collector → agent', () => {
  it.each([
    ['ack', { type: 'ack', seq: 5, credit: 2 }],
    ['policy', { type: 'policy', policy: defaultPolicy }],
    ['throttle', { type: 'throttle', retryAfterMs: 1000 }],
    ['error', { type: 'error', code: 'bad_json', message: 'x' }],
  ])('accepts a good %s', (_name, message) => {
    expect(validateCollectorMessage(message)).toMatchObject({ ok: true });
  });

  it.each([
    ['an ack without seq', { type: 'ack' }],
    ['a policy with a too-fast scan', { type: 'policy', policy: { ...defaultPolicy, scanIntervalMs: 1 } }],
    ['an error with an unknown code', { type: 'error', code: 'whatever', message: 'x' }],
    ['an unknown type', { type: 'reboot' }],
  ])('rejects %s', (_name, message) => {
    expect(validateCollectorMessage(message).ok).toBe(false);
  });
});

describe('enrollment', () => {
  it('accepts a request and rejects one without a secret', () => {
    expect(validateEnrollRequest({ secret: 's', host, agentVersion: '1' }).ok).toBe(true);
    expect(validateEnrollRequest({ host, agentVersion: '1' }).ok).toBe(false);
  });
});
