import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ServiceSpecError } from '../../../agent/service/errors.js';
import { WINSW_LOG_KEEP_FILES, WINSW_LOG_SIZE_KB, winswXml } from '../../../agent/service/winsw.js';
import { toolAvailable, windowsSpec } from './fixtures.js';

interface XmlElement {
  tag: string;
  attrib: Record<string, string>;
  text: string;
  children: XmlElement[];
}

// Python's ElementTree (expat) is the well-formedness check and gives back the decoded values.
const XML_TO_JSON = `
import json, sys, xml.etree.ElementTree as ET
def walk(e):
    return {'tag': e.tag, 'attrib': dict(e.attrib), 'text': (e.text or '').strip(), 'children': [walk(c) for c in e]}
print(json.dumps(walk(ET.fromstring(sys.stdin.buffer.read()))))
`;

function parseXml(text: string): XmlElement {
  const result = spawnSync('python3', ['-c', XML_TO_JSON], { input: text, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ElementTree rejected the XML: ${result.stderr}`);
  return JSON.parse(result.stdout) as XmlElement;
}

// Elements of <service> documented in winsw/winsw docs/xml-config-file.md (v3).
const WINSW_ELEMENTS = new Set([
  'id',
  'name',
  'description',
  'executable',
  'startmode',
  'delayedAutoStart',
  'depend',
  'logpath',
  'log',
  'argument',
  'arguments',
  'startargument',
  'stopargument',
  'stopexecutable',
  'prestart',
  'poststart',
  'prestop',
  'poststop',
  'stoptimeout',
  'env',
  'interactive',
  'beeponshutdown',
  'download',
  'onfailure',
  'resetfailure',
  'securtityDescriptor',
  'serviceaccount',
  'workingdirectory',
  'priority',
  'extensions',
]);

const hasPython = toolAvailable('python3', ['-c', 'import xml.etree.ElementTree'], 'install python3');

describe.skipIf(!hasPython)('winswXml parsed by ElementTree', () => {
  const spec = windowsSpec();
  let service: XmlElement;
  const children = (tag: string) => service.children.filter((child) => child.tag === tag);

  beforeAll(() => {
    service = parseXml(winswXml(spec));
  });

  it('is a <service> made only of documented WinSW v3 elements', () => {
    expect(service.tag).toBe('service');
    for (const child of service.children) expect(WINSW_ELEMENTS.has(child.tag), child.tag).toBe(true);
    expect(children('id')).toEqual([expect.objectContaining({ text: 'vigil-agent' })]);
    expect(children('executable')).toEqual([expect.objectContaining({ text: spec.nodePath })]);
    expect(children('description')[0]?.text).toBe('Vigil endpoint agent & friends');
    expect(children('workingdirectory')[0]?.text).toBe(spec.stateDir);
    expect(children('startmode')[0]?.text).toBe('Automatic');
  });

  it('passes the script and each argument as its own <argument>, unescaped on the way back', () => {
    expect(children('argument').map((child) => child.text)).toEqual([spec.scriptPath, ...spec.args]);
  });

  it('restarts on failure and rolls the wrapper log by size', () => {
    expect(children('onfailure')).toEqual([
      expect.objectContaining({ attrib: { action: 'restart', delay: '10 sec' } }),
    ]);
    expect(children('stoptimeout')[0]?.text).toBe('15 sec');
    expect(children('logpath')[0]?.text).toBe(spec.logDir);
    const log = children('log')[0];
    expect(log?.attrib).toEqual({ mode: 'roll-by-size' });
    expect(log?.children.map((child) => [child.tag, child.text])).toEqual([
      ['sizeThreshold', String(WINSW_LOG_SIZE_KB)],
      ['keepFiles', String(WINSW_LOG_KEEP_FILES)],
    ]);
  });

  it('sets environment variables as name/value attributes', () => {
    expect(children('env').map((child) => child.attrib)).toEqual([
      { name: 'NODE_ENV', value: 'production' },
      { name: 'VIGIL_TAG', value: 'site "A" & <B>' },
      // A revoked agent exits 0 under WinSW: <onfailure> restarts after any non-zero exit.
      { name: 'VIGIL_SERVICE_MANAGER', value: 'winsw' },
    ]);
  });

  it('names a service account only when asked', () => {
    expect(children('serviceaccount')).toEqual([]);
    const withUser = parseXml(winswXml(windowsSpec({ user: 'NT AUTHORITY\\LocalService' })));
    const account = withUser.children.find((child) => child.tag === 'serviceaccount');
    expect(account?.children).toEqual([
      expect.objectContaining({ tag: 'username', text: 'NT AUTHORITY\\LocalService' }),
    ]);
  });
});

describe('winswXml input checks', () => {
  it('refuses values WinSW would expand as %VARIABLES%', () => {
    expect(() => winswXml(windowsSpec({ args: ['run', '--collector', 'wss://h/%PATH%'] }))).toThrow(
      ServiceSpecError,
    );
    expect(() => winswXml(windowsSpec({ env: { A: '%USERPROFILE%' } }))).toThrow(/env A/);
    // A lone percent sign is not a reference.
    expect(winswXml(windowsSpec({ description: 'runs at 100% of the time' }))).toContain('100% of the time');
  });

  it('requires Windows absolute paths', () => {
    expect(() => winswXml(windowsSpec({ nodePath: 'node.exe' }))).toThrow(/nodePath/);
    expect(() => winswXml(windowsSpec({ stateDir: '/var/lib/vigil' }))).toThrow(/stateDir/);
  });
});
