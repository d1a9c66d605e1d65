// Hand-written rules exercising each value form, modifier and condition feature of the Sigma engine.
import { describe, expect, it } from 'vitest';
import {
  compileRule,
  RuleSet,
  SigmaInvalidRuleError,
  SigmaRuleError,
  SigmaUnsupportedRuleError,
} from '../../../collector/detection/sigma/index.js';

const RULE_ID = '11111111-2222-4333-8444-555555555555';

/** A complete rule around a detection block written with 4-space YAML indentation. */
const ruleYaml = (detection: string, extra = ''): string =>
  `title: Test rule
id: ${RULE_ID}
status: test
level: high
logsource:
    category: process_creation
    product: windows
${extra}detection:
${detection
  .trim()
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
`;

const compile = (detection: string, options?: Parameters<typeof compileRule>[1]) =>
  compileRule(ruleYaml(detection), options);

const matches = (
  detection: string,
  fields: Record<string, unknown>,
  options?: Parameters<typeof compileRule>[1],
) => compile(detection, options).match(fields);

const refusal = (yamlText: string): SigmaRuleError => {
  try {
    compileRule(yamlText);
  } catch (error) {
    if (error instanceof SigmaRuleError) return error;
    throw error;
  }
  throw new Error('the rule was accepted');
};

describe('rule metadata', () => {
  it('reads title, id, level, status, tags, logsource, description and false positives', () => {
    const rule = compileRule(
      ruleYaml(
        'selection:\n    Image: x\ncondition: selection',
        'tags:\n    - attack.t1040\ndescription: Something\nfalsepositives:\n    - Admins\n',
      ),
    );
    expect(rule).toMatchObject({
      id: RULE_ID,
      title: 'Test rule',
      level: 'high',
      status: 'test',
      tags: ['attack.t1040'],
      logsource: { category: 'process_creation', product: 'windows' },
      description: 'Something',
      falsepositives: ['Admins'],
    });
    expect(rule.source).toContain('title: Test rule');
  });
});

describe('values', () => {
  it('compares case-insensitively by default and exactly (whole value)', () => {
    const detection = 'selection:\n    Image: C:\\Windows\\System32\\cmd.exe\ncondition: selection';
    expect(matches(detection, { Image: 'c:\\windows\\system32\\CMD.EXE' })).toBe(true);
    expect(matches(detection, { Image: 'c:\\windows\\system32\\cmd.exe.bak' })).toBe(false);
    expect(matches(detection, {})).toBe(false);
  });

  it('supports * and ? wildcards', () => {
    const detection = "selection:\n    Image: '*\\cm?.exe'\ncondition: selection";
    expect(matches(detection, { Image: 'C:\\x\\cmd.exe' })).toBe(true);
    expect(matches(detection, { Image: 'C:\\x\\cmdd.exe' })).toBe(false);
  });

  it('escapes wildcards and backslashes with \\', () => {
    const star = "selection:\n    CommandLine: 'a\\*b'\ncondition: selection";
    expect(matches(star, { CommandLine: 'a*b' })).toBe(true);
    expect(matches(star, { CommandLine: 'axxb' })).toBe(false);
    const question = "selection:\n    CommandLine: 'why\\?'\ncondition: selection";
    expect(matches(question, { CommandLine: 'why?' })).toBe(true);
    expect(matches(question, { CommandLine: 'whyX' })).toBe(false);
    // `\\*`: a plain backslash followed by a wildcard.
    const backslashStar = "selection:\n    Path: 'C:\\\\*'\ncondition: selection";
    expect(matches(backslashStar, { Path: 'C:\\anything' })).toBe(true);
    expect(matches(backslashStar, { Path: 'C:/anything' })).toBe(false);
  });

  it('treats a list as OR and a map as AND', () => {
    const detection = 'selection:\n    Image: [a.exe, b.exe]\n    User: bob\ncondition: selection';
    expect(matches(detection, { Image: 'B.EXE', User: 'Bob' })).toBe(true);
    expect(matches(detection, { Image: 'c.exe', User: 'bob' })).toBe(false);
    expect(matches(detection, { Image: 'a.exe', User: 'alice' })).toBe(false);
  });

  it('treats a list of maps as OR', () => {
    const detection = 'selection:\n    - Image: a.exe\n    - User: bob\ncondition: selection';
    expect(matches(detection, { Image: 'x', User: 'bob' })).toBe(true);
    expect(matches(detection, { Image: 'x', User: 'eve' })).toBe(false);
  });

  it('matches null as an absent or null field, and empty string only as empty', () => {
    const nullRule = 'selection:\n    ParentUser: null\ncondition: selection';
    expect(matches(nullRule, {})).toBe(true);
    expect(matches(nullRule, { ParentUser: null })).toBe(true);
    expect(matches(nullRule, { ParentUser: '' })).toBe(false);
    const emptyRule = "selection:\n    ParentUser: ''\ncondition: selection";
    expect(matches(emptyRule, { ParentUser: '' })).toBe(true);
    expect(matches(emptyRule, {})).toBe(false);
  });

  it('matches numbers against numeric and string fields', () => {
    const detection = 'selection:\n    EventID: 4688\ncondition: selection';
    expect(matches(detection, { EventID: 4688 })).toBe(true);
    expect(matches(detection, { EventID: '4688' })).toBe(true);
    expect(matches(detection, { EventID: 46880 })).toBe(false);
  });

  it('matches booleans', () => {
    const detection = 'selection:\n    Promiscuous: true\ncondition: selection';
    expect(matches(detection, { Promiscuous: true })).toBe(true);
    expect(matches(detection, { Promiscuous: false })).toBe(false);
  });

  it('matches any element of an array field', () => {
    const detection = 'selection:\n    Tags|contains: evil\ncondition: selection';
    expect(matches(detection, { Tags: ['good', 'very-EVIL'] })).toBe(true);
    expect(matches(detection, { Tags: ['good'] })).toBe(false);
  });

  it('searches keyword lists across all field values', () => {
    const detection = 'keywords:\n    - mimikatz\n    - sekurlsa\ncondition: keywords';
    expect(matches(detection, { CommandLine: 'run SEKURLSA::logonpasswords', Image: 'x' })).toBe(true);
    expect(matches(detection, { CommandLine: 'notepad', Image: 'c:\\mimikatz.exe' })).toBe(true);
    expect(matches(detection, { CommandLine: 'notepad' })).toBe(false);
  });

  it('keywords with modifiers: all requires every keyword somewhere, startswith anchors', () => {
    const all = "keywords:\n    '|all':\n        - dump\n        - lsass\ncondition: keywords";
    expect(matches(all, { CommandLine: 'procdump -ma LSASS.exe' })).toBe(true);
    expect(matches(all, { CommandLine: 'procdump -ma notepad.exe' })).toBe(false);
    const starts = "keywords:\n    '|startswith': proc\ncondition: keywords";
    expect(matches(starts, { A: 'x', CommandLine: 'procdump' })).toBe(true);
    expect(matches(starts, { CommandLine: 'xprocdump' })).toBe(false);
  });

  it('reads nested fields by dotted names', () => {
    const detection = 'selection:\n    process.name: sshd\ncondition: selection';
    expect(matches(detection, { process: { name: 'sshd' } })).toBe(true);
    expect(matches(detection, { process: { name: 'bash' } })).toBe(false);
  });
});

describe('modifiers', () => {
  it('contains, startswith, endswith', () => {
    expect(matches('s:\n    F|contains: Mid\ncondition: s', { F: 'aMIDb' })).toBe(true);
    expect(matches('s:\n    F|contains: mid\ncondition: s', { F: 'amib' })).toBe(false);
    expect(matches('s:\n    F|startswith: ab\ncondition: s', { F: 'ABc' })).toBe(true);
    expect(matches('s:\n    F|startswith: ab\ncondition: s', { F: 'cab' })).toBe(false);
    expect(matches('s:\n    F|endswith: .EXE\ncondition: s', { F: 'x.exe' })).toBe(true);
    expect(matches('s:\n    F|endswith: .exe\ncondition: s', { F: 'x.exe ' })).toBe(false);
  });

  it('contains keeps inner wildcards', () => {
    const detection = "s:\n    F|contains: 'a*c'\ncondition: s";
    expect(matches(detection, { F: 'xxabbbcxx' })).toBe(true);
    expect(matches(detection, { F: 'xxcbax' })).toBe(false);
  });

  it('all requires every value', () => {
    const detection = 's:\n    F|contains|all: [net, user, /add]\ncondition: s';
    expect(matches(detection, { F: 'net user bob /add' })).toBe(true);
    expect(matches(detection, { F: 'net user bob' })).toBe(false);
  });

  it('windash accepts -, /, en dash, em dash and horizontal bar for flags', () => {
    const detection = "s:\n    F|windash|contains: ' -enc '\ncondition: s";
    for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015']) {
      expect(matches(detection, { F: `powershell ${dash}enc AAAA` })).toBe(true);
    }
    expect(matches(detection, { F: 'powershell +enc AAAA' })).toBe(false);
    // A dash inside a word is not a flag and stays literal.
    const inner = "s:\n    F|windash: 'a-b'\ncondition: s";
    expect(matches(inner, { F: 'a-b' })).toBe(true);
    expect(matches(inner, { F: 'a/b' })).toBe(false);
  });

  it('re is case-sensitive by default, with i, m and s sub-modifiers', () => {
    expect(matches("s:\n    F|re: '\\s-H\\s'\ncondition: s", { F: 'curl -H x' })).toBe(true);
    expect(matches("s:\n    F|re: '\\s-H\\s'\ncondition: s", { F: 'curl -h x' })).toBe(false);
    expect(matches("s:\n    F|re|i: '^abc$'\ncondition: s", { F: 'ABC' })).toBe(true);
    expect(matches("s:\n    F|re: '^b$'\ncondition: s", { F: 'a\nb' })).toBe(false);
    expect(matches("s:\n    F|re|m: '^b$'\ncondition: s", { F: 'a\nb' })).toBe(true);
    expect(matches("s:\n    F|re: 'a.b'\ncondition: s", { F: 'a\nb' })).toBe(false);
    expect(matches("s:\n    F|re|s: 'a.b'\ncondition: s", { F: 'a\nb' })).toBe(true);
  });

  it('re understands a leading (?i) and Python named groups', () => {
    expect(matches("s:\n    F|re: '(?i)werfault'\ncondition: s", { F: 'WerFault.exe' })).toBe(true);
    expect(matches("s:\n    F|re: '(?P<x>a)(?P=x)'\ncondition: s", { F: 'baab' })).toBe(true);
  });

  it('cidr matches IPv4 and IPv6 ranges', () => {
    const detection = 's:\n    DestinationIp|cidr:\n        - 10.0.0.0/8\n        - fd00::/8\ncondition: s';
    expect(matches(detection, { DestinationIp: '10.20.30.40' })).toBe(true);
    expect(matches(detection, { DestinationIp: '::ffff:10.1.2.3' })).toBe(true);
    expect(matches(detection, { DestinationIp: 'fd12:3456::1' })).toBe(true);
    expect(matches(detection, { DestinationIp: '11.0.0.1' })).toBe(false);
    expect(matches(detection, { DestinationIp: '2001:db8::1' })).toBe(false);
    expect(matches(detection, { DestinationIp: 'not an ip' })).toBe(false);
  });

  it('exists checks presence only', () => {
    expect(matches('s:\n    F|exists: true\ncondition: s', { F: null })).toBe(true);
    expect(matches('s:\n    F|exists: true\ncondition: s', {})).toBe(false);
    expect(matches('s:\n    F|exists: false\ncondition: s', {})).toBe(true);
    expect(matches('s:\n    F|exists: false\ncondition: s', { F: '' })).toBe(false);
  });

  it('cased compares case-sensitively', () => {
    expect(matches('s:\n    F|cased|contains: Evil\ncondition: s', { F: 'xEvilx' })).toBe(true);
    expect(matches('s:\n    F|cased|contains: Evil\ncondition: s', { F: 'xevilx' })).toBe(false);
  });

  it('neq requires a present field that differs from every value', () => {
    const detection = 's:\n    User|neq: [SYSTEM, root]\ncondition: s';
    expect(matches(detection, { User: 'bob' })).toBe(true);
    expect(matches(detection, { User: 'system' })).toBe(false);
    expect(matches(detection, { User: 'root' })).toBe(false);
    expect(matches(detection, {})).toBe(false);
  });

  it('lt, lte, gt, gte compare numbers', () => {
    expect(matches('s:\n    Size|gt: 100\ncondition: s', { Size: 101 })).toBe(true);
    expect(matches('s:\n    Size|gt: 100\ncondition: s', { Size: 100 })).toBe(false);
    expect(matches('s:\n    Size|gte: 100\ncondition: s', { Size: '100' })).toBe(true);
    expect(matches('s:\n    Size|lt: 100\ncondition: s', { Size: 99.5 })).toBe(true);
    expect(matches('s:\n    Size|lte: 100\ncondition: s', { Size: 101 })).toBe(false);
    expect(matches('s:\n    Size|lt: 100\ncondition: s', { Size: 'abc' })).toBe(false);
  });

  it('base64 and base64offset find encoded text', () => {
    const plain = Buffer.from('http://evil').toString('base64');
    expect(matches("s:\n    F|base64: 'http://evil'\ncondition: s", { F: plain })).toBe(true);
    const detection = "s:\n    F|base64offset|contains: 'http://'\ncondition: s";
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const encoded = Buffer.from(`${prefix}http://x.example`).toString('base64');
      expect(matches(detection, { F: `powershell -enc ${encoded}` }), prefix).toBe(true);
    }
    expect(matches(detection, { F: Buffer.from('https:/x').toString('base64') })).toBe(false);
  });

  it('utf16le/wide, utf16be and utf16 encode before base64', () => {
    const wide = Buffer.from('IEX (', 'utf16le').toString('base64');
    expect(matches("s:\n    F|wide|base64offset|contains: 'IEX ('\ncondition: s", { F: `x ${wide}` })).toBe(
      true,
    );
    expect(matches("s:\n    F|utf16le|base64: 'cmd'\ncondition: s", { F: 'YwBtAGQA' })).toBe(true);
    expect(matches("s:\n    F|utf16be|base64: 'cmd'\ncondition: s", { F: 'AGMAbQBk' })).toBe(true);
    expect(matches("s:\n    F|utf16|base64: 'cmd'\ncondition: s", { F: '//5jAG0AZAA=' })).toBe(true);
    expect(matches("s:\n    F|utf16le|base64: 'cmd'\ncondition: s", { F: 'Y21k' })).toBe(false);
  });

  it('fieldref compares two fields of the event', () => {
    const detection = 's:\n    User|fieldref: ParentUser\ncondition: s';
    expect(matches(detection, { User: 'CC\\Bob', ParentUser: 'cc\\bob' })).toBe(true);
    expect(matches(detection, { User: 'CC\\Bob', ParentUser: 'CC\\Eve' })).toBe(false);
    expect(matches(detection, { User: 'CC\\Bob' })).toBe(false);
    const contains = 's:\n    CommandLine|fieldref|contains: Image\ncondition: s';
    expect(matches(contains, { CommandLine: '"C:\\a.exe" -x', Image: 'c:\\a.exe' })).toBe(true);
  });

  it('expand substitutes placeholders from the configuration', () => {
    const detection = "s:\n    User|expand: '%admins%'\ncondition: s";
    const options = { placeholders: { admins: ['root', 'CC\\adm*'] } };
    expect(matches(detection, { User: 'root' }, options)).toBe(true);
    expect(matches(detection, { User: 'cc\\adm-jane' }, options)).toBe(true);
    expect(matches(detection, { User: 'bob' }, options)).toBe(false);
  });
});

describe('conditions', () => {
  const fields = { A: 'a', B: 'b', C: 'c' };
  const detection = (condition: string) =>
    `sel_a:\n    A: a\nsel_b:\n    B: b\nsel_x:\n    C: x\n_hidden:\n    C: nope\ncondition: ${condition}`;

  it('and / or / not with precedence not > and > or', () => {
    expect(matches(detection('sel_a and sel_b'), fields)).toBe(true);
    expect(matches(detection('sel_a and sel_x'), fields)).toBe(false);
    expect(matches(detection('sel_x or sel_b'), fields)).toBe(true);
    expect(matches(detection('not sel_x'), fields)).toBe(true);
    // or binds loosest: sel_x or (sel_a and sel_b)
    expect(matches(detection('sel_x or sel_a and sel_b'), fields)).toBe(true);
    // not binds tightest: (not sel_a) or sel_x
    expect(matches(detection('not sel_a or sel_x'), fields)).toBe(false);
    expect(matches(detection('sel_a and not sel_x and sel_b'), fields)).toBe(true);
    // Distinguishing cases: a loose `and` would give false here, a loose `not` true in the next.
    expect(matches(detection('sel_a or sel_x and sel_x'), fields)).toBe(true);
    expect(matches(detection('not sel_a and sel_x'), fields)).toBe(false);
  });

  it('parentheses override precedence', () => {
    expect(matches(detection('(sel_x or sel_a) and sel_b'), fields)).toBe(true);
    expect(matches(detection('sel_x or sel_a and sel_x'), fields)).toBe(false);
    expect(matches(detection('not (sel_a and sel_b)'), fields)).toBe(false);
  });

  it('1 of / all of with patterns and them (ignoring _ identifiers)', () => {
    expect(matches(detection('1 of sel_*'), fields)).toBe(true);
    expect(matches(detection('all of sel_*'), fields)).toBe(false);
    expect(matches(detection('all of sel_a*'), fields)).toBe(true);
    expect(matches(detection('1 of them'), fields)).toBe(true);
    expect(matches(detection('all of them'), fields)).toBe(false);
    const onlyVisible = 'sel_a:\n    A: a\n_hidden:\n    C: nope\ncondition: all of them';
    expect(matches(onlyVisible, fields)).toBe(true);
  });

  it('a list of conditions fires when any holds', () => {
    const listed = 'sel_a:\n    A: a\nsel_x:\n    C: x\ncondition:\n    - sel_x\n    - sel_a';
    expect(matches(listed, fields)).toBe(true);
    expect(matches(listed, { A: 'z' })).toBe(false);
  });
});

describe('refusals', () => {
  const refused = (detection: string, extra = '') => refusal(ruleYaml(detection, extra));

  it('refuses an unknown modifier as unsupported, with the rule id and reason', () => {
    const error = refused('s:\n    F|frobnicate: x\ncondition: s');
    expect(error).toBeInstanceOf(SigmaUnsupportedRuleError);
    expect(error.code).toBe('sigma_unsupported');
    expect(error.ruleId).toBe(RULE_ID);
    expect(error.reason).toContain('frobnicate');
  });

  it('refuses aggregations', () => {
    const error = refused('s:\n    F: x\ncondition: s | count() by User > 5');
    expect(error.code).toBe('sigma_unsupported');
    expect(error.reason).toContain('aggregation');
  });

  it('refuses timeframe and time modifiers', () => {
    expect(refused('s:\n    F: x\ntimeframe: 5m\ncondition: s').code).toBe('sigma_unsupported');
    expect(refused('s:\n    F|hour: 3\ncondition: s').code).toBe('sigma_unsupported');
  });

  it('refuses correlation rules and multi-document collections', () => {
    const correlation = `title: c\nid: ${RULE_ID}\ncorrelation:\n    type: event_count\n    rules: [x]\n    timespan: 5m\n`;
    expect(refusal(correlation).code).toBe('sigma_unsupported');
    expect(refusal(`${ruleYaml('s:\n    F: x\ncondition: s')}---\ntitle: other\n`).code).toBe(
      'sigma_unsupported',
    );
  });

  it('refuses a condition naming a missing identifier as invalid', () => {
    const error = refused('s:\n    F: x\ncondition: s and missing');
    expect(error).toBeInstanceOf(SigmaInvalidRuleError);
    expect(error.code).toBe('sigma_invalid');
    expect(error.reason).toContain('missing');
  });

  it('refuses malformed conditions, patterns matching nothing, and broken YAML', () => {
    expect(refused('s:\n    F: x\ncondition: s and').code).toBe('sigma_invalid');
    expect(refused('s:\n    F: x\ncondition: (s').code).toBe('sigma_invalid');
    expect(refused('s:\n    F: x\ncondition: 1 of nothing_*').code).toBe('sigma_invalid');
    expect(refused('s:\n    F: x\ncondition: s*').code).toBe('sigma_invalid');
    expect(refusal('title: [unclosed\n').code).toBe('sigma_invalid');
  });

  it('refuses bad values: invalid regex, invalid CIDR, non-numeric comparison, unknown placeholder', () => {
    expect(refused("s:\n    F|re: '(unclosed'\ncondition: s").code).toBe('sigma_invalid');
    expect(refused("s:\n    F|cidr: '10.0.0.0/99'\ncondition: s").code).toBe('sigma_invalid');
    expect(refused("s:\n    F|gt: 'ten'\ncondition: s").code).toBe('sigma_invalid');
    expect(refused("s:\n    F|expand: '%nothing%'\ncondition: s").code).toBe('sigma_unsupported');
    expect(refused("s:\n    F|i: 'x'\ncondition: s").code).toBe('sigma_invalid');
  });

  it('refuses rules without id, title, detection or with an unknown level', () => {
    expect(refusal('title: t\nlogsource: {}\ndetection:\n    s: {F: x}\n    condition: s\n').code).toBe(
      'sigma_invalid',
    );
    expect(refusal(`id: ${RULE_ID}\nlogsource: {}\ndetection:\n    s: {F: x}\n    condition: s\n`).code).toBe(
      'sigma_invalid',
    );
    expect(refusal(`title: t\nid: ${RULE_ID}\nlogsource: {}\n`).code).toBe('sigma_invalid');
    const badLevel = `title: t\nid: ${RULE_ID}\nlevel: severe\nlogsource: {}\ndetection:\n    s: {F: x}\n    condition: s\n`;
    expect(refusal(badLevel).reason).toContain('severe');
  });
});

describe('RuleSet', () => {
  const make = (id: string, logsource: string) =>
    compileRule(`title: r ${id}
id: ${id}
level: low
logsource:
${logsource}
detection:
    s:
        Image|endswith: evil.exe
    condition: s
`);
  const windowsProc = make('a', '    category: process_creation\n    product: windows');
  const anyProc = make('b', '    category: process_creation');
  const linuxProc = make('c', '    category: process_creation\n    product: linux');
  const sshService = make('d', '    product: linux\n    service: sshd');
  const set = new RuleSet([windowsProc, anyProc, linuxProc, sshService]);

  it('routes by logsource: set fields must equal, unset ones are wildcards', () => {
    const fields = { Image: 'C:\\evil.exe' };
    const ids = (logsource: Record<string, string>) =>
      set.match({ logsource, fields }).map((rule) => rule.id);
    expect(ids({ category: 'process_creation', product: 'windows' })).toEqual(['a', 'b']);
    expect(ids({ category: 'process_creation', product: 'linux' })).toEqual(['b', 'c']);
    expect(ids({ category: 'PROCESS_CREATION', product: 'Linux' })).toEqual(['b', 'c']);
    expect(ids({ category: 'network_connection', product: 'linux', service: 'sshd' })).toEqual(['d']);
    expect(ids({ category: 'web_visit', product: 'windows' })).toEqual([]);
  });

  it('only returns rules that match the fields', () => {
    expect(
      set.match({
        logsource: { category: 'process_creation', product: 'windows' },
        fields: { Image: 'ok.exe' },
      }),
    ).toEqual([]);
  });
});
