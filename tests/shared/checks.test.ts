// The generated checks the agent uses (shared/checks.ts) against the compiled ones the collector
// uses (shared/validate.ts): same verdicts, same error texts, and a checked-in file that matches
// what the generator writes today.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateChecks } from '../../scripts/gen-checks.js';
import { checkCollectorMessage, checkEvent, checkHostInventory } from '../../shared/checks.js';
import { defaultPolicy, HostInventory } from '../../shared/protocol.js';
import { validateCollectorMessage, validateEvent, validator } from '../../shared/validate.js';
import { packetSocketEvent } from '../helpers/agent-client.js';

const agentId = '0192f0e4-7c1a-7b3e-8c4d-1234567890ac';

function variants(base: Record<string, unknown>): unknown[] {
  return [
    base,
    { ...base, id: 'not-a-uuid' },
    { ...base, time: '0000-01-01T00:00:00Z' },
    { ...base, time: '2026-11-28T12:00:00+02:00' },
    { ...base, extra: 1 },
    { ...base, data: {} },
    { ...base, data: { ...(base.data as object), pid: -1 } },
    { ...base, type: 'no.such.type' },
    null,
    'text',
  ];
}

describe('generated checks', () => {
  it('are what the generator writes from today’s schemas', () => {
    const checkedIn = readFileSync(new URL('../../shared/generated/checks.ts', import.meta.url), 'utf8');
    expect(checkedIn).toBe(generateChecks());
  });

  it('judge events as the compiled validators do, with the same errors', () => {
    const process = {
      type: 'process.start',
      id: '0192f0e4-7c1a-7b3e-8c4d-1234567890ab',
      agentId,
      time: '2026-11-28T12:00:00.000Z',
      data: {
        pid: 10,
        ppid: 1,
        name: 'tcpdump',
        exe: '/usr/bin/tcpdump',
        cmdline: 'tcpdump -i eth0',
        user: 'root',
        startTime: '2026-11-28T11:59:59.000Z',
        sha256: 'a'.repeat(64),
      },
    };
    const samples = [
      ...variants(process),
      ...variants({ ...process, data: { ...process.data, sha256: 'XYZ' } }),
      ...variants(packetSocketEvent(agentId) as unknown as Record<string, unknown>),
      ...variants({
        type: 'agent.error',
        id: process.id,
        agentId,
        time: process.time,
        data: { code: 'x', message: 'y' },
      }),
    ];
    let refused = 0;
    for (const sample of samples) {
      const generated = checkEvent(sample);
      const compiled = validateEvent(sample);
      expect(generated).toEqual(compiled);
      if (!compiled.ok) refused++;
    }
    expect(refused).toBeGreaterThan(samples.length / 2);
  });

  it('judge collector messages and the host inventory as the compiled validators do', () => {
    const messages = [
      { type: 'ack', seq: 3, credit: 4 },
      { type: 'ack', seq: -1 },
      { type: 'policy', policy: defaultPolicy },
      { type: 'policy', policy: { ...defaultPolicy, scanIntervalMs: 'often' } },
      { type: 'throttle', retryAfterMs: 1000 },
      { type: 'error', code: 'bad_message', message: 'x', seq: 2 },
      { type: 'hello' },
    ];
    for (const message of messages)
      expect(checkCollectorMessage(message)).toEqual(validateCollectorMessage(message));
    const inventory = validator(HostInventory);
    for (const host of [
      {
        hostname: 'ws-1',
        os: { platform: 'linux', distro: 'Debian', release: '12', arch: 'x64' },
        systemUuid: 'u',
      },
      { hostname: '', os: {}, systemUuid: 1 },
    ]) {
      const checked = checkHostInventory(host);
      const compiled = inventory(host);
      expect(checked.ok).toBe(compiled.ok);
      if (!checked.ok && !compiled.ok) expect(checked.errors).toEqual(compiled.errors);
    }
  });
});
