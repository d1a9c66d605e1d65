import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createDarwinProcessLister,
  parseLstart,
  parsePidList,
  parsePsArgs,
  parsePsDetails,
  toProcessInfo,
} from '../../../../agent/platform/darwin/processes.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/darwin/${name}`, import.meta.url), 'utf8');

describe('darwin ps parsers', () => {
  it('parses lstart in local time, including a space-padded day', () => {
    expect(parseLstart('Sat Nov 28 09:08:12 2026')).toEqual(new Date(2026, 10, 28, 9, 8, 12));
    expect(parseLstart('Sat Nov  7 23:59:59 2026')).toEqual(new Date(2026, 10, 7, 23, 59, 59));
    expect(parseLstart('Sat Foo 28 09:08:12 2026')).toBeNull();
    expect(parseLstart('yesterday')).toBeNull();
  });

  it('lists pids', () => {
    expect(parsePidList(fixture('ps-pids.txt'))).toEqual([1, 87, 88, 331, 412, 1203, 5123, 6001, 99812]);
  });

  it('joins details and arguments', () => {
    const details = parsePsDetails(fixture('ps-details.txt'));
    const args = parsePsArgs(fixture('ps-args.txt'));
    expect([...details.keys()]).toEqual([1, 87, 331, 412, 1203, 5123, 6001, 0]);

    const fiddler = toProcessInfo(details.get(412)!, args.get(412));
    expect(fiddler).toEqual({
      pid: 412,
      ppid: 1,
      name: 'Fiddler Everywhere',
      exe: '/Applications/Fiddler Everywhere.app/Contents/MacOS/Fiddler Everywhere',
      cmdline: '/Applications/Fiddler Everywhere.app/Contents/MacOS/Fiddler Everywhere --no-sandbox',
      uid: 501,
      user: 'agent',
      startTime: new Date(2026, 10, 28, 9, 3, 2),
    });

    const dumpcap = toProcessInfo(details.get(5123)!, args.get(5123));
    expect(dumpcap.name).toBe('dumpcap');
    expect(dumpcap.ppid).toBe(1203);
    expect(dumpcap.cmdline).toContain('-w /var/folders/xy/T/wireshark_en0.pcapng');
    expect(toProcessInfo(details.get(1203)!, args.get(1203)).startTime).toEqual(
      new Date(2026, 10, 28, 9, 5, 11),
    );
  });

  it('leaves exe empty for a relative comm and cmdline empty for "(name)" arguments', () => {
    const details = parsePsDetails(fixture('ps-details.txt'));
    const args = parsePsArgs(fixture('ps-args.txt'));
    const tcpdump = toProcessInfo(details.get(6001)!, args.get(6001));
    expect(tcpdump).toMatchObject({ name: 'tcpdump', exe: '', cmdline: '', uid: 0, user: 'root' });
    expect(tcpdump.startTime).toEqual(new Date(2026, 10, 7, 23, 59, 59));
    expect(toProcessInfo(details.get(87)!, undefined).cmdline).toBe('');
  });

  it('skips lines that do not parse', () => {
    expect(parsePsDetails('garbage\n  12 1 0 root notadate x\n').size).toBe(0);
  });
});

// BSD and procps ps accept the same options used here, so the spawning part runs against the
// real ps of whatever machine runs the tests.
describe('createDarwinProcessLister against the local ps', () => {
  const lister = createDarwinProcessLister({ ps: 'ps' });

  it('lists this process among the pids', async () => {
    const pids = await lister.listPids();
    expect(pids).toContain(process.pid);
    expect(pids.length).toBeGreaterThan(2);
  });

  it('returns details of live pids and omits dead ones', async () => {
    const details = await lister.details([process.pid, 2 ** 22 + 17]);
    expect([...details.keys()]).toEqual([process.pid]);
    const self = details.get(process.pid)!;
    expect(self.ppid).toBe(process.ppid);
    expect(self.cmdline).toContain(process.argv[1]!.split('/').pop());
    expect(Math.abs(self.startTime.getTime() - (Date.now() - process.uptime() * 1000))).toBeLessThan(5000);
  });

  it('returns an empty map when every pid is gone', async () => {
    expect((await lister.details([2 ** 22 + 17])).size).toBe(0);
    expect((await lister.details([])).size).toBe(0);
  });
});
