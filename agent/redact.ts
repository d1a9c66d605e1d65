// Removes secrets from a command line before it leaves the machine. Two passes:
//  1. patterns that are secrets wherever they appear (key formats, URL credentials, headers,
//     `password=` style arguments, `--password value`);
//  2. per-tool short options (`mysql -pSECRET`, `sqlcmd -P secret`, `net use \\h\s secret`),
//     applied only to arguments of that tool, so `ps -p 123` or `ssh -p 2222` stay intact.
// Over-redaction is preferred to a leak: an odd `--password dbname` loses `dbname`.

export const redacted = '[REDACTED]';

type Replacement = [pattern: RegExp, replace: string | ((match: string, ...groups: string[]) => string)];

// Characters that can precede an argument or a `name=value` pair.
const boundary = String.raw`(^|[\s?&;"',{(])`;
// A value: a quoted string, or everything up to whitespace or a separator.
const value = String.raw`("[^"]*"?|'[^']*'?|[^\s&;"']+)`;

// Names whose value is a secret even with a prefix (`db_password`, `--client-secret`, `x-amz-security-token`).
const secretWord =
  '(?:pass(?:word|wd|phrase)|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|account[-_]?key|shared[-_]?access[-_]?key|credentials?)';
// Names that are secrets only on their own (`key=`, `sig=` in Azure SAS, ODBC `PWD=`).
const exactName = '(?:key|sig|pass|pwd|auth|apikey)';
// Bounded prefixes keep every pattern linear on long command lines.
const secretName = `(?:[A-Za-z0-9_.-]{0,64}${secretWord}|${exactName})`;

const patterns: Replacement[] = [
  // PEM private key blocks, also when the END line was cut off.
  [/-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g, redacted],
  // scheme://user:password@host → scheme://user:[REDACTED]@host
  [/\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s:/@"']{0,256}):([^\s@/"']{1,1024})@/gi, `$1$2:${redacted}@`],
  // Secret-bearing HTTP headers, keeping the auth scheme: `Authorization: Bearer [REDACTED]`.
  [
    /\b((?:proxy-)?authorization|x-api-key|x-auth-token|api-key|private-token|x-amz-security-token)(\s*:\s*)(?:(basic|bearer|digest|negotiate|ntlm|token|apikey|aws4-hmac-sha256)\s+)?("[^"]*"|'[^']*'|[^\s"',;]+)/gi,
    (_m, name: string, colon: string, scheme: string | undefined) =>
      `${name}${colon}${scheme ? `${scheme} ` : ''}${redacted}`,
  ],
  // Cookies hold sessions; take the whole header value (to a quote or the end).
  [/\b(cookie\s*:\s*)[^"'\r\n]+/gi, `$1${redacted}`],
  [/\b(Bearer\s+)(?!\[REDACTED\])[A-Za-z0-9\-._~+/]+=*/g, `$1${redacted}`],
  // JSON: "password": "..."
  [new RegExp(String.raw`("${secretName}"\s*:\s*)"[^"]*"`, 'gi'), `$1"${redacted}"`],
  // name=value in arguments, query strings and connection strings; /name:value for Windows tools.
  [
    new RegExp(`${boundary}(?:(--?)?(${secretName})=|/(${secretName}):)${value}`, 'gi'),
    (
      _m,
      before: string,
      dashes: string | undefined,
      name: string | undefined,
      slashName: string | undefined,
    ) =>
      name !== undefined
        ? `${before}${dashes ?? ''}${name}=${redacted}`
        : `${before}/${slashName}:${redacted}`,
  ],
  // --password value (a long option naming a secret, followed by a value that is not an option).
  [
    new RegExp(
      String.raw`(^|\s)(--(?!no-|skip-|ask)[A-Za-z0-9-]{0,64}${secretWord})(\s+)(?!-)("[^"]*"?|'[^']*'?|\S+)`,
      'gi',
    ),
    `$1$2$3${redacted}`,
  ],
  // openssl and friends: pass:secret (env:VAR and file:path are references, not secrets).
  [/(^|[\s"'])(pass:)("[^"]*"?|\S+)/g, `$1$2${redacted}`],
  // Key formats recognisable on their own.
  [/\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/g, redacted],
  [/\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g, redacted],
  [/\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g, redacted],
  [/\bxox[bpars]-[A-Za-z0-9-]{10,}/g, redacted],
  [/\bAIza[0-9A-Za-z_-]{35}/g, redacted],
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, redacted],
  [/\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}/g, redacted],
];

interface ToolRule {
  tools: string[];
  /** Options whose attached value is a secret: `-p` → `-pSECRET`. Bare `-p` (prompt) is left alone. */
  attached?: string[];
  /** Options whose next argument is a secret: `-P secret`. */
  separate?: string[];
  /** Options whose value is `user<sep>password`: only the part after the separator goes. */
  userPassword?: { options: string[]; separator: string; attached?: boolean };
  /** Windows tools take options in any case. */
  ignoreCase?: boolean;
  /** Apply only once one of these subcommands was seen (`docker login -p`, not `docker run -p 80:80`). */
  after?: string[];
}

const toolRules: ToolRule[] = [
  {
    tools: [
      'mysql',
      'mysqldump',
      'mysqladmin',
      'mysqlimport',
      'mysqlshow',
      'mysqlcheck',
      'mysqlsh',
      'mariadb',
    ],
    attached: ['-p'],
  },
  { tools: ['mariadb-dump', 'mariadb-admin'], attached: ['-p'] },
  { tools: ['sshpass'], attached: ['-p'], separate: ['-p'] },
  {
    tools: ['mongo', 'mongosh', 'mongodump', 'mongorestore', 'mongoexport', 'mongoimport'],
    attached: ['-p'],
    separate: ['-p'],
  },
  { tools: ['redis-cli', 'keydb-cli'], separate: ['-a', '--pass'], attached: ['-a'] },
  {
    tools: ['curl'],
    separate: ['--oauth2-bearer'],
    userPassword: { options: ['-u', '--user', '-U', '--proxy-user'], separator: ':', attached: true },
  },
  { tools: ['sqlcmd', 'bcp', 'osql', 'isql'], attached: ['-P'], separate: ['-P'] },
  { tools: ['openssl'], separate: ['-k', '-K'] },
  { tools: ['7z', '7za', '7zr', '7zz', '7zg', 'rar', 'unrar', 'winrar'], attached: ['-p'] },
  { tools: ['zip', 'unzip', 'zipcloak'], separate: ['-P'], attached: ['-P'] },
  { tools: ['psexec', 'psexec64', 'paexec'], separate: ['-p'], ignoreCase: true },
  { tools: ['plink', 'pscp', 'psftp', 'putty', 'kitty'], separate: ['-pw'] },
  { tools: ['docker', 'podman', 'buildah', 'skopeo', 'helm', 'nerdctl'], separate: ['-p'], after: ['login'] },
  { tools: ['az'], separate: ['-p'], after: ['login'] },
  {
    tools: ['ldapsearch', 'ldapmodify', 'ldapadd', 'ldapdelete', 'ldapwhoami', 'ldapcompare'],
    separate: ['-w'],
  },
  // ldappasswd: -a old password, -s new password (in ldapsearch -s is the scope).
  { tools: ['ldappasswd'], separate: ['-w', '-a', '-s'] },
  { tools: ['smbclient', 'rpcclient', 'smbmap'], userPassword: { options: ['-U'], separator: '%' } },
  { tools: ['xfreerdp', 'wlfreerdp', 'sdl-freerdp'], attached: ['/p:', '/pth:'], ignoreCase: true },
  { tools: ['schtasks'], separate: ['/rp', '/p'], ignoreCase: true },
  { tools: ['cmdkey'], attached: ['/pass:'], ignoreCase: true },
];

const ruleByTool = new Map(toolRules.flatMap((rule) => rule.tools.map((tool) => [tool, rule] as const)));
// Cheap pre-check: most command lines name none of the tools, and then need no tokenizing.
const toolMention = new RegExp(
  `(?:^|[\\s"'\\\\/])(?:${[...ruleByTool.keys(), 'net', 'net1'].join('|')})(?:\\.exe)?(?=["'\\s]|$)`,
  'i',
);
const shellSeparators = new Set([';', '&&', '||', '|', '&']);

interface Token {
  text: string;
  start: number;
  end: number;
}

// Shell-like words: runs of unquoted characters and quoted strings (an unclosed quote runs to the end).
function tokenize(cmdline: string): Token[] {
  const tokens: Token[] = [];
  for (const match of cmdline.matchAll(/(?:[^\s"']+|"[^"]*"?|'[^']*'?)+/g)) {
    tokens.push({ text: match[0], start: match.index, end: match.index + match[0].length });
  }
  return tokens;
}

const unquote = (text: string): string => text.replace(/^["']|["']$/g, '');

function toolName(text: string): string {
  const base = unquote(text).split(/[\\/]/).pop() ?? '';
  return base.toLowerCase().replace(/\.exe$/, '');
}

const same = (a: string, b: string, ignoreCase: boolean | undefined): boolean =>
  ignoreCase ? a.toLowerCase() === b.toLowerCase() : a === b;

const startsWith = (text: string, prefix: string, ignoreCase: boolean | undefined): boolean =>
  ignoreCase ? text.toLowerCase().startsWith(prefix.toLowerCase()) : text.startsWith(prefix);

const isRedacted = (text: string): boolean => unquote(text).endsWith(redacted);

/** Replacement text for `tokens[i]` and maybe `tokens[i + 1]`, or null when the rule does not apply. */
function applyRule(rule: ToolRule, tokens: Token[], i: number, edits: Map<number, string>): void {
  const token = tokens[i]!.text;
  const next = tokens[i + 1];
  const takesNext = next && !next.text.startsWith('-') && !isRedacted(next.text);
  for (const option of rule.separate ?? []) {
    if (same(token, option, rule.ignoreCase) && takesNext) edits.set(i + 1, redacted);
  }
  for (const option of rule.attached ?? []) {
    if (startsWith(token, option, rule.ignoreCase) && token.length > option.length && !isRedacted(token)) {
      edits.set(i, `${token.slice(0, option.length)}${redacted}`);
    }
  }
  const userPassword = rule.userPassword;
  if (!userPassword) return;
  const hidePassword = (text: string): string | null => {
    const at = text.indexOf(userPassword.separator);
    if (at < 0 || isRedacted(text)) return null;
    const quote = /^["']/.test(text) ? text[0] : '';
    return `${text.slice(0, at + 1)}${redacted}${quote}`;
  };
  for (const option of userPassword.options) {
    if (token === option && next) {
      const hidden = hidePassword(next.text);
      if (hidden !== null) edits.set(i + 1, hidden);
    } else if (userPassword.attached && option.length === 2 && token.startsWith(option) && token.length > 2) {
      const hidden = hidePassword(token.slice(2));
      if (hidden !== null) edits.set(i, `${option}${hidden}`);
    }
  }
}

// net use [device] \\host\share password /user:... and net user name password: positional passwords.
function applyNet(tokens: Token[], from: number, end: number, edits: Map<number, string>): void {
  const positional: number[] = [];
  for (let i = from; i < end; i++) {
    if (!tokens[i]!.text.startsWith('/')) positional.push(i);
  }
  const verb = tokens[positional[0] ?? -1]?.text.toLowerCase();
  let passwordAt: number | undefined;
  if (verb === 'use') {
    const share = positional.findIndex((p) => unquote(tokens[p]!.text).startsWith('\\\\'));
    if (share >= 0) passwordAt = positional[share + 1];
  } else if (verb === 'user') {
    passwordAt = positional[2];
  }
  if (passwordAt !== undefined && tokens[passwordAt]!.text !== '*') edits.set(passwordAt, redacted);
}

function redactToolArguments(cmdline: string): string {
  if (!toolMention.test(cmdline)) return cmdline;
  const tokens = tokenize(cmdline);
  const edits = new Map<number, string>();
  let rule: ToolRule | undefined;
  let active = false;
  for (let i = 0; i < tokens.length; i++) {
    const text = tokens[i]!.text;
    // A quoted word with spaces may be a whole command (`sh -c "mysql -pX"`): redact inside it.
    const quoted = /^(["'])([\s\S]*\s[\s\S]*?)\1?$/.exec(text);
    if (quoted) {
      const inner = redactToolArguments(quoted[2]!);
      if (inner !== quoted[2])
        edits.set(
          i,
          text.replace(quoted[2]!, () => inner),
        );
    }
    if (shellSeparators.has(text)) {
      rule = undefined;
      continue;
    }
    const name = toolName(text);
    if (name === 'net' || name === 'net1') {
      let end = i + 1;
      while (end < tokens.length && !shellSeparators.has(tokens[end]!.text)) end++;
      applyNet(tokens, i + 1, end, edits);
      rule = undefined;
      i = end - 1;
      continue;
    }
    const started = ruleByTool.get(name);
    if (started) {
      rule = started;
      active = !started.after;
      continue;
    }
    if (!rule) continue;
    if (!active && rule.after?.includes(text.toLowerCase())) active = true;
    if (active) applyRule(rule, tokens, i, edits);
  }
  if (edits.size === 0) return cmdline;
  let out = '';
  let last = 0;
  for (const [index, replacement] of [...edits].sort(([a], [b]) => a - b)) {
    const token = tokens[index]!;
    out += cmdline.slice(last, token.start) + replacement;
    last = token.end;
  }
  return out + cmdline.slice(last);
}

/** The command line with passwords, tokens and keys replaced by `[REDACTED]`. */
export function redactCommandLine(cmdline: string): string {
  let out = cmdline;
  for (const [pattern, replace] of patterns) {
    out = typeof replace === 'string' ? out.replace(pattern, replace) : out.replace(pattern, replace);
  }
  return redactToolArguments(out);
}
