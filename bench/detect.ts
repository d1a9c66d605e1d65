// Detection throughput: built-in + SigmaHQ corpus rules in one RuleSet, ~200k mixed events on one core,
// then the alert-list query times with 1 M alerts in PostgreSQL (bench/alerts-query.ts).
// Run after a build: `node dist/bench/detect.js [eventCount] [--skip-alerts] [--rows N] [--runs N]`.
// The baseline (a JSON round trip of the same events, measured in the same run) makes the figure
// comparable across machines.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinRulesDir, loadRules } from '../collector/detection/loader.js';
import { compileRule, RuleSet, type SigmaRule } from '../collector/detection/sigma/index.js';
import { type SigmaMappedEvent, toSigma } from '../collector/detection/taxonomy.js';
import type { VigilEvent } from '../shared/events.js';
import { alertListBench } from './alerts-query.js';

function findRepoRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
const corpusDir = path.resolve(repoRoot, '../shared/corpus/sigma-regression');

function loadCorpusRules(): SigmaRule[] {
  if (!existsSync(corpusDir)) return [];
  return readdirSync(corpusDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => compileRule(readFileSync(path.join(corpusDir, entry.name, 'rule.yml'), 'utf8')));
}

/** Deterministic pseudo-random numbers, so every run measures the same events. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const next = random(42);
const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
const hex = (length: number): string =>
  Array.from({ length }, () => Math.floor(next() * 16).toString(16)).join('');

const WINDOWS_PROCESSES: readonly [string, string][] = [
  ['C:\\Windows\\System32\\svchost.exe', 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule'],
  ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', '"chrome.exe" --type=renderer --lang=en-US'],
  ['C:\\Windows\\System32\\cmd.exe', 'cmd.exe /c echo %USERNAME%'],
  [
    'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
    'powershell.exe -NoProfile -Command Get-Date',
  ],
  ['C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE', '"OUTLOOK.EXE" /recycle'],
  ['C:\\Windows\\System32\\conhost.exe', 'conhost.exe 0xffffffff -ForceV1'],
  ['C:\\Program Files\\Genesys\\Softphone\\softphone.exe', '"softphone.exe" --tray'],
  ['C:\\Windows\\System32\\netsh.exe', 'netsh trace start capture=yes tracefile=C:\\t.etl'],
  ['C:\\Users\\agent\\Downloads\\AnyDesk.exe', '"AnyDesk.exe" --control'],
  ['C:\\Windows\\System32\\reg.exe', 'reg query HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run'],
];
const LINUX_PROCESSES: readonly [string, string][] = [
  ['/usr/bin/bash', 'bash -c ls -la /home/agent'],
  ['/usr/lib/firefox/firefox', '/usr/lib/firefox/firefox -contentproc -childID 12'],
  ['/usr/bin/python3', 'python3 /opt/softphone/agent.py --tray'],
  ['/usr/bin/tcpdump', 'tcpdump -i any -w /tmp/capture.pcap'],
  ['/usr/bin/curl', 'curl -s https://crm.example.com/api/health'],
];
const USERS = ['CC\\agent01', 'CC\\agent02', 'CC\\supervisor', 'NT AUTHORITY\\SYSTEM'];
const CATEGORIES = ['webmail', 'social', 'personal_cloud', 'messaging', 'remote_access', 'news'];

let sequence = 0;
const envelope = (type: string, data: Record<string, unknown>): VigilEvent =>
  ({
    id: `00000000-0000-4000-8000-${(++sequence).toString(16).padStart(12, '0')}`,
    agentId: '00000000-0000-4000-8000-00000000beef',
    time: '2026-11-28T09:00:00.000Z',
    type,
    data,
  }) as unknown as VigilEvent;

function makeEvent(): { event: VigilEvent; platform: string } {
  const roll = next();
  if (roll < 0.65) {
    const [exe, cmdline] = pick(WINDOWS_PROCESSES);
    return {
      platform: 'win32',
      event: envelope('process.start', {
        pid: 1000 + Math.floor(next() * 60000),
        ppid: 4 + Math.floor(next() * 9000),
        name: exe.slice(exe.lastIndexOf('\\') + 1),
        exe,
        cmdline: `${cmdline} ${hex(8)}`,
        parentExe: 'C:\\Windows\\explorer.exe',
        parentCmdline: 'C:\\Windows\\Explorer.EXE',
        user: pick(USERS),
        cwd: 'C:\\Users\\agent\\',
        startTime: '2026-11-28T09:00:00.000Z',
        sha256: hex(64),
      }),
    };
  }
  if (roll < 0.85) {
    const [exe, cmdline] = pick(LINUX_PROCESSES);
    return {
      platform: 'linux',
      event: envelope('process.start', {
        pid: 1000 + Math.floor(next() * 60000),
        ppid: 1,
        name: exe.slice(exe.lastIndexOf('/') + 1),
        exe,
        cmdline,
        user: 'agent',
        startTime: '2026-11-28T09:00:00.000Z',
      }),
    };
  }
  if (roll < 0.92) {
    return {
      platform: 'win32',
      event: envelope('web.visit', {
        browser: 'chrome',
        profile: 'Default',
        user: 'agent01',
        host: `site${Math.floor(next() * 50)}.example`,
        category: pick(CATEGORIES),
        visitTime: '2026-11-28T09:00:00.000Z',
      }),
    };
  }
  if (roll < 0.97) {
    return {
      platform: 'linux',
      event: envelope('capture.packet_socket', {
        kind: 'packet',
        pid: 800,
        name: pick(['dhclient', 'tcpdump', 'NetworkManager']),
        exe: pick(['/usr/sbin/dhclient', '/usr/bin/tcpdump', '/usr/sbin/NetworkManager']),
      }),
    };
  }
  return {
    platform: 'win32',
    event: envelope('capture.file', {
      path: `C:\\Users\\agent\\${hex(6)}.pcapng`,
      extension: '.pcapng',
      size: 1024,
    }),
  };
}

/**
 * Events per second of CPU time used by this process (best of 3 after a warm-up): on a busy machine
 * wall-clock time would count other processes' work too.
 */
function measure(label: string, count: number, run: () => void): { label: string; perSecond: number } {
  run(); // warm-up: JIT and the RuleSet's logsource routes
  const timings: number[] = [];
  for (let round = 0; round < 3; round++) {
    const start = process.cpuUsage();
    run();
    const used = process.cpuUsage(start);
    timings.push((used.user + used.system) / 1e6);
  }
  const best = Math.min(...timings);
  return { label, perSecond: count / best };
}

const args = process.argv.slice(2);

function engineBench(): void {
  const countArg = args.find((arg, i) => /^\d+$/.test(arg) && !args[i - 1]?.startsWith('--'));
  const eventCount = Number(countArg ?? 200_000);
  const builtin = loadRules(builtinRulesDir);
  if (builtin.refused.length > 0)
    throw new Error(`built-in rules refused: ${JSON.stringify(builtin.refused)}`);
  const corpus = loadCorpusRules();
  const ruleSet = new RuleSet([...builtin.rules, ...corpus]);

  const generated = Array.from({ length: eventCount }, makeEvent);
  const mapped: SigmaMappedEvent[] = generated
    .map(({ event, platform }) => toSigma(event, { platform }))
    .filter((event): event is SigmaMappedEvent => event !== null);

  let matches = 0;
  const rows = [
    measure('baseline: JSON.parse(JSON.stringify(event))', mapped.length, () => {
      for (const event of mapped) JSON.parse(JSON.stringify(event));
    }),
    measure('RuleSet.match', mapped.length, () => {
      matches = 0;
      for (const event of mapped) matches += ruleSet.match(event).length;
    }),
    measure('toSigma + RuleSet.match', generated.length, () => {
      for (const { event, platform } of generated) {
        const sigma = toSigma(event, { platform });
        if (sigma !== null) ruleSet.match(sigma);
      }
    }),
  ];
  const baseline = rows[0]!.perSecond;

  console.log(
    `rules: ${ruleSet.size} (${builtin.rules.length} built-in, ${corpus.length} corpus)  events: ${mapped.length}  matches: ${matches}`,
  );
  console.log(
    `${'measure (one core, CPU time)'.padEnd(46)} ${'events/s'.padStart(12)} ${'vs baseline'.padStart(12)}`,
  );
  for (const row of rows) {
    console.log(
      `${row.label.padEnd(46)} ${Math.round(row.perSecond).toLocaleString('en-US').padStart(12)} ${`${(row.perSecond / baseline).toFixed(2)}x`.padStart(12)}`,
    );
  }
}

engineBench();
if (args.includes('--skip-alerts')) console.log('\nalert-list measurement skipped (--skip-alerts)');
else {
  console.log('\nalert-list query (bench:alerts), PostgreSQL on DATABASE_URL:');
  await alertListBench();
}
