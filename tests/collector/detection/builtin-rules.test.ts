// Every shipped rule compiles, fires on a realistic Vigil event mapped through toSigma, and stays quiet
// on a benign one.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRulesDir, loadRules } from '../../../collector/detection/loader.js';
import { compileRule, RuleSet } from '../../../collector/detection/sigma/index.js';
import { toSigma } from '../../../collector/detection/taxonomy.js';
import type { VigilEvent } from '../../../shared/events.js';

/**
 * The hand-written rules on agent events. The generated sniffer rules (rules/generated/) and the rules on
 * events the collector synthesizes itself (agent presence) are tested elsewhere.
 */
const handWritten = readdirSync(builtinRulesDir)
  .filter((name) => name.endsWith('.yml'))
  .map((name) => compileRule(readFileSync(path.join(builtinRulesDir, name), 'utf8')))
  .filter((rule) => rule.logsource.category !== 'agent_presence');

const AGENT = '7d1f6a52-3c1e-4a8e-9f0b-2f4c6d8e0a1b';
let counter = 0;
const envelope = <E extends VigilEvent>(type: E['type'], data: E['data']): VigilEvent =>
  ({
    id: `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`,
    agentId: AGENT,
    time: '2026-11-28T09:30:00.000Z',
    type,
    data,
  }) as VigilEvent;

const processStart = (exe: string, cmdline: string, extra: Record<string, unknown> = {}): VigilEvent =>
  envelope('process.start', {
    pid: 4242,
    ppid: 1000,
    name: exe.split(/[\\/]/).pop() ?? exe,
    exe,
    cmdline,
    user: 'CC\\agent07',
    startTime: '2026-11-28T09:29:59.000Z',
    ...extra,
  } as never);

interface Case {
  rule: string;
  platform: string;
  hit: VigilEvent;
  benign: VigilEvent;
}

const cases: Case[] = [
  {
    rule: 'Vigil Agent Dropped Events',
    platform: 'win32',
    hit: envelope('agent.spool_dropped', { dropped: 1200, reason: 'size' } as never),
    benign: envelope('agent.error', { code: 'batch_invalid', message: 'batch 7 refused' } as never),
  },
  {
    rule: 'Packet Capture Socket Held By A Process',
    platform: 'linux',
    hit: envelope('capture.packet_socket', {
      kind: 'packet',
      interface: 'eth0',
      protocol: 'ETH_P_ALL',
      pid: 3131,
      name: 'tcpdump',
      exe: '/usr/bin/tcpdump',
      cmdline: 'tcpdump -i eth0',
      user: 'root',
    } as never),
    benign: envelope('capture.packet_socket', {
      kind: 'packet',
      interface: 'eth0',
      pid: 812,
      name: 'NetworkManager',
      exe: '/usr/sbin/NetworkManager',
      user: 'root',
    } as never),
  },
  {
    rule: 'Network Interface In Promiscuous Mode',
    platform: 'linux',
    hit: envelope('capture.promiscuous', { interface: 'eth0', promiscuous: true } as never),
    benign: envelope('capture.promiscuous', { interface: 'eth0', promiscuous: false } as never),
  },
  {
    rule: 'Third-Party Packet Capture Driver Installed',
    platform: 'win32',
    hit: envelope('capture.driver', {
      name: 'npcap',
      displayName: 'Npcap Packet Driver (NPCAP)',
      state: 'present',
      path: 'C:\\Windows\\System32\\drivers\\npcap.sys',
    } as never),
    benign: envelope('capture.driver', {
      name: 'ndiscap',
      displayName: 'NDIS Capture',
      state: 'present',
    } as never),
  },
  {
    rule: 'Packet Capture Driver Started',
    platform: 'win32',
    hit: envelope('capture.driver', { name: 'WinDivert14', state: 'started' } as never),
    benign: envelope('capture.driver', { name: 'WinDivert14', state: 'stopped' } as never),
  },
  {
    rule: 'Packet Capture File Written',
    platform: 'win32',
    hit: envelope('capture.file', {
      path: 'C:\\Users\\agent07\\Documents\\calls.pcapng',
      extension: '.pcapng',
      size: 1048576,
      owner: 'CC\\agent07',
    } as never),
    benign: envelope('capture.file', {
      path: 'C:\\Windows\\System32\\LogFiles\\WMI\\Wifi.etl',
      extension: '.etl',
      size: 65536,
    } as never),
  },
  {
    rule: 'Packet Capture Started From The Command Line',
    platform: 'win32',
    hit: processStart(
      'C:\\Windows\\System32\\netsh.exe',
      'netsh trace start capture=yes tracefile=C:\\Users\\Public\\t.etl',
    ),
    benign: processStart('C:\\Windows\\System32\\netsh.exe', 'netsh interface show interface'),
  },
  {
    rule: 'Packet Capture Started From The Command Line',
    platform: 'linux',
    hit: processStart('/usr/bin/tcpdump', 'tcpdump -i any -nn -w /tmp/x.pcap port 5060'),
    benign: processStart('/usr/bin/tcpdump', 'tcpdump --version'),
  },
  {
    rule: 'Packet Capture Started From The Command Line',
    platform: 'win32',
    hit: processStart(
      'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      'powershell -c "New-NetEventSession -Name s1 -LocalFilePath C:\\t.etl"',
    ),
    benign: processStart(
      'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      'powershell Get-Date',
    ),
  },
  {
    rule: 'Packet Capture Started From The Command Line',
    platform: 'win32',
    hit: processStart('C:\\Windows\\System32\\PktMon.exe', 'pktmon start --capture --pkt-size 0'),
    benign: processStart('C:\\Windows\\System32\\PktMon.exe', 'pktmon list'),
  },
  {
    rule: 'Remote Access Tool Started',
    platform: 'win32',
    hit: processStart(
      'C:\\Users\\agent07\\Downloads\\AnyDesk.exe',
      '"C:\\Users\\agent07\\Downloads\\AnyDesk.exe"',
    ),
    benign: processStart('C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE', 'OUTLOOK.EXE'),
  },
  {
    rule: 'Remote Access Tool Started',
    platform: 'linux',
    hit: processStart('/usr/bin/rustdesk', 'rustdesk --service'),
    benign: processStart('/usr/bin/firefox', 'firefox'),
  },
  ...(
    [
      ['webmail', 'mail.google.com'],
      ['personal_cloud', 'www.dropbox.com'],
      ['social', 'www.facebook.com'],
      ['messaging', 'web.whatsapp.com'],
      ['remote_access', 'remotedesktop.google.com'],
    ] as const
  ).map(([category, host]): Case => {
    const visit = (cat: string, site: string) =>
      envelope('web.visit', {
        browser: 'chrome',
        profile: 'Default',
        user: 'agent07',
        host: site,
        category: cat,
        visitTime: '2026-11-28T09:20:00.000Z',
        url: `https://${site}/`,
      } as never);
    const titles: Record<string, string> = {
      webmail: 'Personal Web Access - Webmail',
      personal_cloud: 'Personal Web Access - Personal Cloud Storage',
      social: 'Personal Web Access - Social Network',
      messaging: 'Personal Web Access - Messaging',
      remote_access: 'Personal Web Access - Remote Access Site',
    };
    return {
      rule: titles[category]!,
      platform: 'win32',
      hit: visit(category, host),
      benign: visit('work', 'crm.example.com'),
    };
  }),
];

describe('built-in rules', () => {
  const rules = handWritten;
  const ruleSet = new RuleSet(rules);

  it('every built-in rule file compiles, generated ones included', () => {
    const loaded = loadRules(builtinRulesDir);
    expect(loaded.refused).toEqual([]);
    expect(loaded.rules.length).toBeGreaterThan(rules.length);
  });

  it('hand-written ones compile, with unique ids, ATT&CK tags, a description and false positives', () => {
    expect(rules.length).toBeGreaterThanOrEqual(12);
    expect(new Set(rules.map((rule) => rule.id)).size).toBe(rules.length);
    for (const rule of rules) {
      expect(rule.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(
        rule.tags.some((tag) => /^attack\.t\d{4}(\.\d{3})?$/.test(tag)),
        rule.title,
      ).toBe(true);
      expect(rule.description, rule.title).toBeTruthy();
      expect(rule.falsepositives.length, rule.title).toBeGreaterThan(0);
    }
  });

  it('every rule is exercised below', () => {
    const covered = new Set(cases.map((c) => c.rule));
    for (const rule of rules) expect(covered.has(rule.title), rule.title).toBe(true);
  });

  for (const [index, c] of cases.entries()) {
    it(`${c.rule} #${index}: fires on the attack, not on the benign event`, () => {
      const hit = toSigma(c.hit, { platform: c.platform });
      const benign = toSigma(c.benign, { platform: c.platform });
      expect(hit).not.toBeNull();
      expect(benign).not.toBeNull();
      expect(ruleSet.match(hit!).map((rule) => rule.title)).toContain(c.rule);
      expect(ruleSet.match(benign!).map((rule) => rule.title)).not.toContain(c.rule);
    });
  }
});
