import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultRulesDir, generateSnifferRules, writeSnifferRules } from '../../scripts/gen-sniffer-rules.js';
import {
  loadCaptureDrivers,
  loadSniffers,
  parseCaptureDrivers,
  parseSniffers,
  SignatureDataError,
} from '../../shared/signatures/index.js';

const checkedInDir = fileURLToPath(new URL('../../collector/detection/rules/generated/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'vigil-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sniffer signature data', () => {
  const data = loadSniffers();

  it('gives every sniffer and pattern an ATT&CK technique and a level', () => {
    expect(data.sniffers.length).toBeGreaterThan(30);
    for (const entry of [...data.sniffers, ...data.commandLinePatterns]) {
      expect(entry.technique, entry.id).toMatch(/^T1040$|^T1557(\.00[12])?$/);
      expect(['low', 'medium', 'high', 'critical'], entry.id).toContain(entry.level);
    }
  });

  it('names executables with .exe on Windows and without elsewhere', () => {
    for (const sniffer of data.sniffers) {
      expect(Object.keys(sniffer.names).length, sniffer.id).toBeGreaterThan(0);
      for (const name of sniffer.names.windows ?? []) expect(name, sniffer.id).toMatch(/\.exe$/i);
      for (const name of [...(sniffer.names.linux ?? []), ...(sniffer.names.macos ?? [])]) {
        expect(name, sniffer.id).not.toMatch(/\.exe$|[\\/]/i);
      }
    }
  });

  it('lists the capture drivers with their service names', () => {
    const names = loadCaptureDrivers().drivers.flatMap((d) => d.serviceNames.map((n) => n.toLowerCase()));
    for (const wanted of [
      'npcap',
      'npf',
      'nm3',
      'ndiscap',
      'nmnt',
      'windivert',
      'windivert14',
      'windivert1.4',
      'usbpcap',
      'pktmon',
    ]) {
      expect(names).toContain(wanted);
    }
  });

  it('rejects bad data with a clear, coded error', () => {
    const broken = structuredClone(data) as unknown as { sniffers: Array<Record<string, unknown>> };
    delete broken.sniffers[0]!.technique;
    expect(() => parseSniffers(broken)).toThrow(/sniffers\.json: .*technique/);
    const badRegex = structuredClone(data);
    badRegex.commandLinePatterns[0]!.regex = '(';
    expect(() => parseSniffers(badRegex)).toThrow(SignatureDataError);
    const duplicate = structuredClone(data);
    duplicate.sniffers.push(duplicate.sniffers[0]!);
    expect(() => parseSniffers(duplicate)).toThrow(/duplicate id wireshark/);
    try {
      parseCaptureDrivers({ drivers: [] });
      expect.unreachable();
    } catch (error) {
      expect((error as SignatureDataError).code).toBe('signature_data_invalid');
    }
  });
});

describe('generated Sigma rules', () => {
  it('are identical to a fresh generation (data and rules cannot drift)', () => {
    const written = writeSnifferRules(tmp);
    const checkedIn = readdirSync(checkedInDir)
      .filter((f) => f.endsWith('.yml'))
      .sort();
    expect(checkedIn).toEqual([...written].sort());
    for (const file of written) {
      expect(readFileSync(join(checkedInDir, file), 'utf8'), file).toBe(
        readFileSync(join(tmp, file), 'utf8'),
      );
    }
    expect(defaultRulesDir()).toBe(checkedInDir.replace(/\/$/, ''));
  });

  it('regenerate byte-identically and remove stale generated files only', () => {
    const first = generateSnifferRules();
    expect(generateSnifferRules()).toEqual(first);
    writeFileSync(join(tmp, 'vigil-sniffer-stale.yml'), 'title: stale\n');
    writeFileSync(join(tmp, 'hand-written.yml'), 'title: mine\n');
    writeSnifferRules(tmp);
    expect(readdirSync(tmp)).not.toContain('vigil-sniffer-stale.yml');
    expect(readdirSync(tmp)).toContain('hand-written.yml');
  });

  it('are valid Sigma process_creation rules with unique ids', () => {
    const ids = new Set<string>();
    for (const [file, text] of generateSnifferRules()) {
      const rule = parse(text);
      expect(rule.id, file).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(ids.has(rule.id), file).toBe(false);
      ids.add(rule.id);
      expect(rule.title, file).toEqual(expect.any(String));
      expect(rule.logsource.category, file).toBe('process_creation');
      expect(['windows', 'linux', 'macos'], file).toContain(rule.logsource.product);
      expect(rule.detection.condition, file).toBe('selection');
      expect(['low', 'medium', 'high', 'critical'], file).toContain(rule.level);
      expect(
        rule.tags.some((t: string) => /^attack\.t1(040|557)/.test(t)),
        file,
      ).toBe(true);
      const separator = rule.logsource.product === 'windows' ? '\\' : '/';
      for (const image of rule.detection.selection['Image|endswith'] ?? []) {
        expect(image.startsWith(separator), `${file}: ${image}`).toBe(true);
      }
      const regex = rule.detection.selection['CommandLine|re'];
      if (regex) expect(() => new RegExp(regex), file).not.toThrow();
    }
  });

  it('cover every sniffer executable of every OS', () => {
    const rules = [...generateSnifferRules().values()].map((text) => parse(text));
    const endings = (product: string) =>
      rules
        .filter((r) => r.logsource.product === product && !r.detection.selection['CommandLine|re'])
        .flatMap((r) => r.detection.selection['Image|endswith'] ?? []);
    for (const sniffer of loadSniffers().sniffers) {
      for (const name of sniffer.names.windows ?? []) expect(endings('windows')).toContain(`\\${name}`);
      for (const name of sniffer.names.linux ?? []) expect(endings('linux')).toContain(`/${name}`);
      for (const name of sniffer.names.macos ?? []) expect(endings('macos')).toContain(`/${name}`);
    }
  });
});
