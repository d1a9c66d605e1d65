import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BridgeLineError,
  LineSplitter,
  parseBridgeLine,
  parseWindowsDate,
} from '../../../../agent/platform/windows/lines.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/windows/${name}`, import.meta.url), 'utf8');

describe('parseWindowsDate', () => {
  it.each([
    ['ISO from the script', '2026-11-28T09:08:12.1230000Z', 1795856892123],
    ['CIM datetime in UTC', '20261128090812.123456+000', 1795856892123],
    ['CIM datetime east of UTC', '20261128101200.000000+060', Date.UTC(2026, 10, 28, 9, 12, 0)],
    ['CIM datetime west of UTC', '20261128041200.000000-300', Date.UTC(2026, 10, 28, 9, 12, 0)],
    ['ConvertTo-Json /Date(ms)/', '/Date(1795856892123)/', 1795856892123],
    ['/Date(ms+offset)/ keeps UTC ms', '/Date(1795856892123+0100)/', 1795856892123],
  ])('reads %s', (_name, text, ms) => {
    expect(parseWindowsDate(text)?.getTime()).toBe(ms);
  });

  it.each([[''], ['yesterday'], ['2026-13-45T99:00:00Z'], [null], [1795856892123]])('rejects %j', (value) => {
    expect(parseWindowsDate(value)).toBeNull();
  });
});

describe('LineSplitter', () => {
  it('joins partial lines, strips CR and skips blank lines', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('{"a":')).toEqual([]);
    expect(splitter.push('1}\r\n\r\n{"b"')).toEqual(['{"a":1}']);
    expect(splitter.push(':2}\r\n{"c":3}')).toEqual(['{"b":2}']);
    expect(splitter.flush()).toEqual(['{"c":3}']);
    expect(splitter.flush()).toEqual([]);
  });
});

describe('parseBridgeLine on the recorded output', () => {
  const lines = fixture('bridge-admin.jsonl').split('\n').filter(Boolean);

  it('reads a process with signer, original file name and escaped characters', () => {
    const chrome = parseBridgeLine(lines[3]!);
    expect(chrome.kind).toBe('process');
    if (chrome.kind !== 'process') return;
    expect(chrome.existing).toBe(true);
    expect(chrome.info.cmdline).toContain('1864,i,1 & --enable-features=A<B>');
    expect(chrome.info.exe).toBe('C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe');
    expect(chrome.info.user).toBe('CORP\\agent1');
    expect(chrome.info.signer).toBe('CN=Google LLC, O=Google LLC, L=Mountain View, S=California, C=US');
  });

  it('omits absent signer and original file name', () => {
    const system = parseBridgeLine(lines[1]!);
    expect(system).toEqual({
      kind: 'process',
      existing: true,
      info: {
        pid: 4,
        ppid: 0,
        name: 'System',
        exe: '',
        cmdline: '',
        user: '',
        startTime: new Date('2026-11-28T08:01:02.500Z'),
      },
    });
  });

  it('reads the capture state', () => {
    const capture = parseBridgeLine(lines[5]!);
    expect(capture).toEqual({
      kind: 'capture',
      snapshot: {
        promiscuous: new Set(['Wi-Fi']),
        sockets: [],
        drivers: [
          {
            name: 'npcap',
            displayName: 'Npcap Packet Driver (NPCAP)',
            running: true,
            path: 'C:\\WINDOWS\\system32\\drivers\\npcap.sys',
          },
          {
            name: 'ndiscap',
            displayName: 'NDIS Capture',
            running: false,
            path: 'C:\\WINDOWS\\system32\\drivers\\ndiscap.sys',
          },
        ],
        problems: [],
      },
    });
  });

  it('accepts ConvertTo-Json collapsing one-element arrays', () => {
    const line = JSON.stringify({
      kind: 'capture',
      adapters: { name: 'Ethernet', promiscuous: true },
      drivers: { name: 'npcap', running: true },
      problems: 'Win32_Service: Access denied',
    });
    const parsed = parseBridgeLine(line);
    expect(parsed).toMatchObject({
      snapshot: {
        promiscuous: new Set(['Ethernet']),
        drivers: [{ name: 'npcap', running: true }],
        problems: ['Win32_Service: Access denied'],
      },
    });
  });

  it('reads ready and error lines', () => {
    expect(parseBridgeLine(lines[4]!)).toEqual({ kind: 'ready', mode: 'events' });
    expect(parseBridgeLine(lines.at(-1)!)).toEqual({
      kind: 'error',
      message: 'process start 9190: Invalid query ',
    });
  });

  it.each([
    ['non-JSON output', 'Get-NetAdapter : Access is denied.'],
    ['a JSON array', '[1,2]'],
    ['an unknown kind', '{"kind":"mystery"}'],
    ['a process without pid', '{"kind":"process","name":"x.exe","created":"2026-11-28T09:00:00Z"}'],
    ['a process without start time', '{"kind":"process","pid":1,"ppid":0,"name":"x.exe"}'],
  ])('rejects %s with BridgeLineError', (_name, line) => {
    expect(() => parseBridgeLine(line)).toThrow(BridgeLineError);
  });
});
