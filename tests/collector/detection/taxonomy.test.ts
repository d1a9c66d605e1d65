// Vigil events mapped onto Sigma logsources and field names.
import { describe, expect, it } from 'vitest';
import { toSigma } from '../../../collector/detection/taxonomy.js';
import type { VigilEvent } from '../../../shared/events.js';

const SHA = 'ab'.repeat(32);
const base = {
  id: '00000000-0000-4000-8000-000000000001',
  agentId: '00000000-0000-4000-8000-000000000002',
  time: '2026-11-28T09:00:00.000Z',
};
const event = (type: string, data: Record<string, unknown>) =>
  ({ ...base, type, data }) as unknown as VigilEvent;

describe('toSigma', () => {
  it('maps process.start to process_creation with Sysmon field names', () => {
    const mapped = toSigma(
      event('process.start', {
        pid: 10,
        ppid: 1,
        parentExe: 'C:\\Windows\\explorer.exe',
        parentCmdline: 'explorer.exe',
        name: 'cmd.exe',
        exe: 'C:\\Windows\\System32\\cmd.exe',
        cmdline: 'cmd /c whoami',
        user: 'CC\\bob',
        cwd: 'C:\\Users\\bob',
        startTime: base.time,
        sha256: SHA,
        signer: 'Microsoft Windows',
        originalFileName: 'Cmd.Exe',
      }),
      { platform: 'win32' },
    );
    expect(mapped).toEqual({
      logsource: { category: 'process_creation', product: 'windows' },
      entity: 'C:\\Windows\\System32\\cmd.exe',
      fields: {
        Image: 'C:\\Windows\\System32\\cmd.exe',
        CommandLine: 'cmd /c whoami',
        ParentImage: 'C:\\Windows\\explorer.exe',
        ParentCommandLine: 'explorer.exe',
        User: 'CC\\bob',
        ProcessId: 10,
        ParentProcessId: 1,
        CurrentDirectory: 'C:\\Users\\bob',
        Hashes: `SHA256=${SHA.toUpperCase()}`,
        OriginalFileName: 'Cmd.Exe',
        Signer: 'Microsoft Windows',
        Sha256: SHA,
        Name: 'cmd.exe',
      },
    });
  });

  it('names the product after the host platform', () => {
    const data = { pid: 1, ppid: 0, name: 'x', exe: '/x', cmdline: 'x', user: 'u', startTime: base.time };
    expect(toSigma(event('process.start', data), { platform: 'linux' })?.logsource.product).toBe('linux');
    expect(toSigma(event('process.start', data), { platform: 'darwin' })?.logsource.product).toBe('macos');
  });

  it('maps packet sockets, falling back from Image to Name to pid for the entity', () => {
    const full = toSigma(
      event('capture.packet_socket', {
        kind: 'packet',
        interface: 'eth0',
        pid: 7,
        name: 'tcpdump',
        exe: '/usr/bin/tcpdump',
      }),
      { platform: 'linux' },
    );
    expect(full?.logsource).toEqual({ category: 'packet_capture', product: 'linux' });
    expect(full?.fields).toMatchObject({
      Kind: 'packet',
      Interface: 'eth0',
      ProcessId: 7,
      Image: '/usr/bin/tcpdump',
      Name: 'tcpdump',
    });
    expect(full?.entity).toBe('/usr/bin/tcpdump');
    expect(
      toSigma(event('capture.packet_socket', { kind: 'raw', pid: 7, name: 'x' }), { platform: 'linux' })
        ?.entity,
    ).toBe('x');
    expect(
      toSigma(event('capture.packet_socket', { kind: 'bpf', pid: 7 }), { platform: 'darwin' })?.entity,
    ).toBe('pid:7');
  });

  it('maps promiscuous, driver, capture file and web visit events', () => {
    const promiscuous = toSigma(event('capture.promiscuous', { interface: 'eth1', promiscuous: true }), {
      platform: 'linux',
    });
    expect(promiscuous).toMatchObject({
      logsource: { category: 'promiscuous_interface' },
      fields: { Interface: 'eth1', Promiscuous: true },
      entity: 'eth1',
    });
    const driver = toSigma(
      event('capture.driver', {
        name: 'npcap',
        displayName: 'Npcap',
        state: 'started',
        path: 'C:\\npcap.sys',
      }),
      {
        platform: 'win32',
      },
    );
    expect(driver).toMatchObject({
      logsource: { category: 'capture_driver', product: 'windows' },
      fields: { DriverName: 'npcap', DisplayName: 'Npcap', State: 'started', Path: 'C:\\npcap.sys' },
      entity: 'npcap',
    });
    const file = toSigma(
      event('capture.file', {
        path: '/tmp/a.pcap',
        extension: '.pcap',
        size: 5,
        owner: 'bob',
        pid: 3,
        exe: '/usr/bin/tcpdump',
      }),
      { platform: 'linux' },
    );
    expect(file).toMatchObject({
      logsource: { category: 'capture_file' },
      fields: {
        TargetFilename: '/tmp/a.pcap',
        Extension: '.pcap',
        Size: 5,
        User: 'bob',
        Image: '/usr/bin/tcpdump',
        ProcessId: 3,
      },
      entity: '/tmp/a.pcap',
    });
    const visit = toSigma(
      event('web.visit', {
        browser: 'firefox',
        profile: 'p',
        user: 'bob',
        host: 'mail.example',
        category: 'webmail',
        visitTime: base.time,
      }),
      { platform: 'darwin' },
    );
    expect(visit).toMatchObject({
      logsource: { category: 'web_visit', product: 'macos' },
      fields: { Browser: 'firefox', Profile: 'p', User: 'bob', Host: 'mail.example', Category: 'webmail' },
      entity: 'mail.example',
    });
    expect(visit?.fields).not.toHaveProperty('Url');
  });

  it('returns null for agent housekeeping events', () => {
    expect(toSigma(event('agent.stopping', { reason: 'shutdown' }), { platform: 'linux' })).toBeNull();
  });

  it('maps lost evidence and agent errors to agent_health, product vigil on every OS', () => {
    expect(
      toSigma(event('agent.spool_dropped', { dropped: 5, reason: 'age' }), { platform: 'win32' }),
    ).toEqual({
      logsource: { category: 'agent_health', product: 'vigil' },
      fields: { Event: 'spool_dropped', Dropped: 5, Reason: 'age' },
      entity: 'spool',
    });
    expect(toSigma(event('agent.error', { code: 'x', message: 'y' }), { platform: 'linux' })).toEqual({
      logsource: { category: 'agent_health', product: 'vigil' },
      fields: { Event: 'error', Code: 'x', Message: 'y' },
      entity: 'x',
    });
  });
});
