// The capture-file sensor on a real file system with real inotify watches and a real writer process.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  captureExtension,
  createCaptureFileSensor,
  defaultCaptureFolders,
  findFileWriter,
  parseFolderList,
  parseHostFolders,
} from '../../../agent/sensors/capture-files.js';
import type { Sensor, SensorContext } from '../../../agent/sensors/sensor.js';
import type { EventData } from '../../../shared/events.js';
import { defaultPolicy, type Policy } from '../../../shared/protocol.js';

type FileEvent = EventData<'capture.file'>;

function harness(policy: { current: Policy }) {
  const events: { data: FileEvent; live: boolean }[] = [];
  const ctx: SensorContext = {
    emit(type, data, options) {
      expect(type).toBe('capture.file');
      events.push({ data: data as FileEvent, live: options?.live === true });
    },
    log: pino({ level: 'silent' }),
    stateDir: tmpdir(),
    policy: () => policy.current,
    setHealth() {},
  };
  return { ctx, events };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error('timed out');
}

const myUser = () => {
  const uid = String(process.getuid?.());
  return (
    readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((line) => line.split(':')[2] === uid)
      ?.split(':')[0] ?? uid
  );
};

describe('capture file naming', () => {
  it('recognises the capture extensions in any case, and nothing else', () => {
    expect(captureExtension('/a/b/trace.PCAPNG')).toBe('pcapng');
    expect(captureExtension('x.pcap')).toBe('pcap');
    expect(captureExtension('C:\\Temp\\net.etl')).toBe('etl');
    expect(captureExtension('session.Har')).toBe('har');
    expect(captureExtension('dump.cap')).toBe('cap');
    expect(captureExtension('pcap')).toBeUndefined();
    expect(captureExtension('notes.pcap.txt')).toBeUndefined();
    expect(captureExtension('capture')).toBeUndefined();
  });

  it('splits folder lists on the path delimiter and drops blanks', () => {
    expect(parseFolderList('/a: /b ::/c', ':')).toEqual(['/a', '/b', '/c']);
    expect(parseFolderList('C:\\x;D:\\y', ';')).toEqual(['C:\\x', 'D:\\y']);
    expect(parseFolderList(undefined)).toEqual([]);
  });

  it('lists the temp folders and every user folder per OS', async () => {
    const linux = await defaultCaptureFolders('linux');
    expect(linux).toEqual(
      expect.arrayContaining(['/tmp', '/var/tmp', '/root/Downloads', '/root/Desktop', '/root/Documents']),
    );
    const darwin = await defaultCaptureFolders('darwin');
    expect(darwin).toContain('/private/tmp');
    const windows = await defaultCaptureFolders('win32');
    expect(windows.some((folder) => /Windows[\\/]Temp$/.test(folder))).toBe(true);
  });
});

describe.skipIf(process.platform !== 'linux')('capture file sensor (linux)', () => {
  let root: string;
  let sensor: Sensor;
  const policy = { current: { ...defaultPolicy } };
  const children: ChildProcess[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'vigil-capfiles-'));
    policy.current = { ...defaultPolicy, captureFileFolders: [] };
  });

  afterEach(async () => {
    await sensor?.stop();
    for (const child of children.splice(0)) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  /** A process that keeps the file open for writing, as a sniffer does. */
  function writer(path: string): ChildProcess {
    const child = spawn('sh', ['-c', `exec sleep 30 > '${path}'`], { stdio: 'ignore' });
    children.push(child);
    return child;
  }

  it('reports a new capture file once, live, with size, owner and the writing process', async () => {
    const { ctx, events } = harness(policy);
    sensor = createCaptureFileSensor({ roots: [root], settleMs: 100 });
    await sensor.start(ctx);
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    await sleep(200);
    const path = join(root, 'a', 'b', 'Trace.PCAPNG');
    const child = writer(path);
    await until(() =>
      readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep') ? true : undefined,
    );
    appendFileSync(path, Buffer.alloc(24));
    const event = await until(() => events[0]);
    expect(event.live).toBe(true);
    expect(event.data).toMatchObject({
      path,
      extension: 'pcapng',
      size: 24,
      owner: myUser(),
      pid: child.pid,
      name: 'sleep',
    });
    expect(event.data.exe).toMatch(/sleep$/);
    for (let i = 0; i < 5; i++) {
      appendFileSync(path, Buffer.alloc(100));
      await sleep(30);
    }
    await sleep(400);
    expect(events).toHaveLength(1);
  });

  it('ignores other files and skipped trees, and files deeper than the depth bound', async () => {
    const { ctx, events } = harness(policy);
    sensor = createCaptureFileSensor({ roots: [root], settleMs: 50, depth: 1 });
    mkdirSync(join(root, 'node_modules'), { recursive: true });
    mkdirSync(join(root, 'one', 'two'), { recursive: true });
    await sensor.start(ctx);
    writeFileSync(join(root, 'notes.txt'), 'x');
    writeFileSync(join(root, 'node_modules', 'fixture.pcap'), 'x');
    writeFileSync(join(root, 'one', 'two', 'deep.pcap'), 'x');
    writeFileSync(join(root, 'one', 'ok.har'), '{}');
    const event = await until(() => events[0]);
    expect(event.data.path).toBe(join(root, 'one', 'ok.har'));
    await sleep(300);
    expect(events.map((e) => e.data.path)).toEqual([join(root, 'one', 'ok.har')]);
  });

  it('never watches the agent’s own folders, even inside a watched one', async () => {
    const { ctx, events } = harness(policy);
    const state = join(root, 'vigil-state');
    mkdirSync(state);
    sensor = createCaptureFileSensor({ roots: [root], excludedFolders: [state], settleMs: 50 });
    await sensor.start(ctx);
    writeFileSync(join(state, 'inside.pcap'), 'x');
    writeFileSync(join(root, 'outside.pcap'), 'x');
    const event = await until(() => events[0]);
    expect(event.data.path).toBe(join(root, 'outside.pcap'));
    await sleep(300);
    expect(events.map((e) => e.data.path)).toEqual([join(root, 'outside.pcap')]);
  });

  it('watches shared temp folders shallower than the users’ own folders', async () => {
    const { ctx, events } = harness(policy);
    sensor = createCaptureFileSensor({ roots: [root], tempRoots: [root], tempDepth: 1, settleMs: 50 });
    mkdirSync(join(root, 'job', 'cache'), { recursive: true });
    await sensor.start(ctx);
    writeFileSync(join(root, 'job', 'cache', 'deep.pcap'), 'x');
    writeFileSync(join(root, 'job', 'trace.pcapng'), 'x');
    const event = await until(() => events[0]);
    expect(event.data.path).toBe(join(root, 'job', 'trace.pcapng'));
    await sleep(300);
    expect(events.map((e) => e.data.path)).toEqual([join(root, 'job', 'trace.pcapng')]);
  });

  it('does not report files that existed before the start until they grow; reports again after a long quiet', async () => {
    const path = join(root, 'old.cap');
    writeFileSync(path, 'x');
    const { ctx, events } = harness(policy);
    sensor = createCaptureFileSensor({ roots: [root], settleMs: 50, quietMs: 2000 });
    await sensor.start(ctx);
    await sleep(200);
    expect(events).toHaveLength(0);
    appendFileSync(path, 'more');
    await until(() => events[0]);
    expect(events[0]!.data).toMatchObject({ path, size: 5 });
    expect(events[0]!.data.pid).toBeUndefined();
    appendFileSync(path, 'again');
    await sleep(150);
    expect(events).toHaveLength(1);
    await sleep(2300);
    appendFileSync(path, 'new session');
    await until(() => events[1]);
    expect(events[1]!.data.size).toBe(21);
  });

  it('reports a deleted and re-created file again', async () => {
    const { ctx, events } = harness(policy);
    sensor = createCaptureFileSensor({ roots: [root], settleMs: 50 });
    await sensor.start(ctx);
    const path = join(root, 'x.pcap');
    writeFileSync(path, 'a');
    await until(() => events[0]);
    unlinkSync(path);
    await sleep(300);
    writeFileSync(path, 'bb');
    const second = await until(() => events[1]);
    expect(second.data.size).toBe(2);
  });

  it('follows policy.captureFileFolders changes on scan, and watches extra folders', async () => {
    const policyDir = join(root, 'policy');
    const extraDir = join(root, 'extra');
    const unwatched = join(root, 'unwatched');
    for (const dir of [policyDir, extraDir, unwatched]) mkdirSync(dir);
    const { ctx, events } = harness(policy);
    sensor = createCaptureFileSensor({
      roots: [unwatched, join(root, 'missing')],
      extraFolders: [extraDir],
      settleMs: 50,
    });
    await sensor.start(ctx);
    writeFileSync(join(policyDir, 'before.pcap'), 'x');
    writeFileSync(join(extraDir, 'extra.pcap'), 'x');
    await until(() => events[0]);
    await sleep(200);
    expect(events.map((e) => e.data.path)).toEqual([join(extraDir, 'extra.pcap')]);

    policy.current = { ...policy.current, captureFileFolders: [policyDir] };
    await sensor.scan!();
    writeFileSync(join(policyDir, 'after.pcap'), 'x');
    await until(() => events[1]);
    expect(events[1]!.data.path).toBe(join(policyDir, 'after.pcap'));

    policy.current = { ...policy.current, captureFileFolders: [] };
    await sensor.scan!();
    writeFileSync(join(policyDir, 'dropped.pcap'), 'x');
    await sleep(300);
    expect(events).toHaveLength(2);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'watches a host temp folder through its bind (service with PrivateTmp) and reports the host path',
    async () => {
      // As under systemd, turned around: the writer (in its own mount namespace) sees the folder
      // at `host`; here `host` is an empty directory and the files are only visible at `seen`.
      // Watching `host` would see nothing: the event can only come through the mapping.
      const host = join(root, 'host-tmp');
      const seen = join(root, 'seen');
      mkdirSync(host);
      mkdirSync(seen);
      const { ctx, events } = harness(policy);
      sensor = createCaptureFileSensor({
        roots: [host],
        tempRoots: [host],
        hostFolders: parseHostFolders(`${host}=${seen}`),
        settleMs: 100,
      });
      await sensor.start(ctx);
      const path = join(host, 'sniff.pcap');
      const child = spawn(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          `mount --bind '${seen}' '${host}' && exec sleep 30 > '${path}'`,
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
      await until(() =>
        readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep') ? true : undefined,
      );
      appendFileSync(join(seen, 'sniff.pcap'), Buffer.alloc(24));
      const event = await until(() => events[0]);
      expect(event.data).toMatchObject({ path, size: 24, pid: child.pid, name: 'sleep' });
    },
  );

  it('reads VIGIL_HOST_TEMP_DIRS as host=seen pairs', () => {
    expect([
      ...parseHostFolders('/tmp=/run/vigil-agent/host-tmp:/var/tmp=/run/vigil-agent/host-var-tmp'),
    ]).toEqual([
      ['/tmp', '/run/vigil-agent/host-tmp'],
      ['/var/tmp', '/run/vigil-agent/host-var-tmp'],
    ]);
    expect(parseHostFolders(undefined).size).toBe(0);
    expect(parseHostFolders('/tmp').size).toBe(0);
  });

  it('finds the process writing a file, preferring a writer over a reader', async () => {
    const path = join(root, 'w.pcap');
    writeFileSync(path, '');
    const reader = spawn('sh', ['-c', `exec sleep 30 < '${path}'`], { stdio: 'ignore' });
    children.push(reader);
    const child = writer(path);
    await until(() =>
      readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep') ? true : undefined,
    );
    await until(() =>
      readFileSync(`/proc/${reader.pid}/cmdline`, 'utf8').startsWith('sleep') ? true : undefined,
    );
    expect(await findFileWriter(path)).toEqual({ pid: child.pid, writing: true });
    child.kill('SIGKILL');
    await until(() => (child.exitCode !== null || child.signalCode !== null ? true : undefined));
    expect(await findFileWriter(path)).toEqual({ pid: reader.pid, writing: false });
    expect(await findFileWriter(join(root, 'nobody.pcap'))).toBeUndefined();
  });
});
