// `rules test` and `rules lint` on real files in a temporary folder.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinRulesDir } from '../../../collector/detection/loader.js';
import { rulesLint, rulesTest } from '../../../collector/detection/rules-cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-rules-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
};

const packetRule = path.join(builtinRulesDir, 'packet_socket_held.yml');

describe('rulesTest', () => {
  it('prints each matching Vigil event with its line number, and the count', async () => {
    const events = write(
      'events.jsonl',
      [
        JSON.stringify({
          id: '00000000-0000-4000-8000-000000000001',
          agentId: '00000000-0000-4000-8000-000000000002',
          time: '2026-11-28T09:00:00.000Z',
          type: 'capture.packet_socket',
          data: { kind: 'packet', pid: 9, name: 'tcpdump', exe: '/usr/bin/tcpdump' },
        }),
        '',
        JSON.stringify({
          id: '00000000-0000-4000-8000-000000000003',
          agentId: '00000000-0000-4000-8000-000000000002',
          time: '2026-11-28T09:00:00.000Z',
          type: 'capture.packet_socket',
          data: { kind: 'packet', pid: 10, name: 'dhclient', exe: '/usr/sbin/dhclient' },
        }),
        JSON.stringify({
          type: 'agent.stopping',
          data: { reason: 'shutdown' },
          host: { platform: 'win32' },
        }),
      ].join('\n'),
    );
    const result = await rulesTest(packetRule, events);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('line 1: MATCH {"id":"00000000-0000-4000-8000-000000000001"');
    expect(result.output).not.toContain('line 3: MATCH');
    expect(result.output).toContain('1 of 3 events matched');
  });

  it('evaluates flat Sigma field objects directly', async () => {
    const events = write(
      'flat.jsonl',
      `${JSON.stringify({ Kind: 'raw', Image: '/opt/x/sniff' })}\n${JSON.stringify({ Kind: 'none' })}\n`,
    );
    const result = await rulesTest(packetRule, events);
    expect(result.output).toContain('line 1: MATCH {"Kind":"raw","Image":"/opt/x/sniff"}');
    expect(result.output).toContain('1 of 2 events matched');
  });

  it('reports a refused rule and a bad event line with exit code 2', async () => {
    const badRule = write(
      'bad.yml',
      'title: t\nid: x\nlogsource: {}\ndetection:\n    s: {F|nope: 1}\n    condition: s\n',
    );
    const events = write('one.jsonl', '{}\n');
    const refused = await rulesTest(badRule, events);
    expect(refused.exitCode).toBe(2);
    expect(refused.output).toContain('sigma_unsupported x');
    const broken = await rulesTest(packetRule, write('broken.jsonl', '{}\n{not json\n'));
    expect(broken.exitCode).toBe(2);
    expect(broken.output).toContain('broken.jsonl:2: not JSON');
  });
});

describe('rulesLint', () => {
  it('prints OK for every built-in rule and exits 0', async () => {
    const result = await rulesLint(builtinRulesDir);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('OK    packet_socket_held.yml: 5606f9b5-74cb-40db-865f-a2156999adae');
    expect(result.output).not.toContain('ERROR');
  });

  it('prints each failing rule with its id and reason and exits 1', async () => {
    const lintDir = path.join(dir, 'lint');
    write('lint/good.yml', readFileSync(packetRule, 'utf8'));
    write(
      'lint/nested/agg.yml',
      'title: t\nid: agg-1\nlogsource: {}\ndetection:\n    s: {F: 1}\n    condition: s | count() > 3\n',
    );
    write('lint/dup.yml', readFileSync(packetRule, 'utf8'));
    const result = await rulesLint(lintDir);
    expect(result.exitCode).toBe(1);
    expect(result.output).toMatch(/ERROR nested[/\\]agg\.yml: sigma_unsupported agg-1: aggregation/);
    expect(result.output).toContain('id already used by');
    expect(result.output).toContain('1 of 3 rules OK');
  });
});
