import { describe, expect, it } from 'vitest';
import { redactCommandLine } from '../../agent/redact.js';

const R = '[REDACTED]';

// [description, input, expected]
const redactedCases: Array<[string, string, string]> = [
  ['--password=value', 'app --password=hunter2 --user bob', `app --password=${R} --user bob`],
  ['--password value', 'app --password hunter2 --user bob', `app --password ${R} --user bob`],
  ['--db-password=value', 'svc --db-password=s3cr3t', `svc --db-password=${R}`],
  ['--client-secret value', 'az ad sp --client-secret abc123', `az ad sp --client-secret ${R}`],
  ['--api-key value', 'tool --api-key 0123456789abcdef', `tool --api-key ${R}`],
  ['quoted --password', 'app --password "two words" -v', `app --password ${R} -v`],
  ['mysql -pSECRET', 'mysql -u root -phunter2 shop', `mysql -u root -p${R} shop`],
  [
    'mysqldump -pSECRET',
    '/usr/bin/mysqldump -uroot -ps3cr3t --all-databases',
    `/usr/bin/mysqldump -uroot -p${R} --all-databases`,
  ],
  [
    'mysql.exe quoted path',
    '"C:\\Program Files\\MySQL\\bin\\mysql.exe" -u root -phunter2',
    `"C:\\Program Files\\MySQL\\bin\\mysql.exe" -u root -p${R}`,
  ],
  ['sshpass -p secret', 'sshpass -p hunter2 ssh bob@10.0.0.1', `sshpass -p ${R} ssh bob@10.0.0.1`],
  ['sshpass -pSECRET', 'sshpass -phunter2 ssh host', `sshpass -p${R} ssh host`],
  [
    'mongosh -p secret',
    'mongosh -u admin -p hunter2 --authenticationDatabase admin',
    `mongosh -u admin -p ${R} --authenticationDatabase admin`,
  ],
  ['redis-cli -a secret', 'redis-cli -h 127.0.0.1 -a hunter2 ping', `redis-cli -h 127.0.0.1 -a ${R} ping`],
  ['redis-cli --pass secret', 'redis-cli --pass hunter2 ping', `redis-cli --pass ${R} ping`],
  [
    'curl -u user:pass',
    'curl -u bob:hunter2 https://example.test/',
    `curl -u bob:${R} https://example.test/`,
  ],
  ['curl -uuser:pass', 'curl -ubob:hunter2 https://example.test/', `curl -ubob:${R} https://example.test/`],
  [
    'curl --user "user:pass"',
    'curl --user "bob:two words" https://x.test',
    `curl --user "bob:${R}" https://x.test`,
  ],
  [
    'curl --proxy-user',
    'curl --proxy-user bob:pw https://x.test',
    `curl --proxy-user bob:${R} https://x.test`,
  ],
  [
    'wget --password',
    'wget --user=bob --password=hunter2 https://x.test/f',
    `wget --user=bob --password=${R} https://x.test/f`,
  ],
  [
    'wget --http-password value',
    'wget --http-password hunter2 https://x.test/f',
    `wget --http-password ${R} https://x.test/f`,
  ],
  [
    'wget --ftp-password=',
    'wget --ftp-password=pw ftp://x.test/f',
    `wget --ftp-password=${R} ftp://x.test/f`,
  ],
  [
    'net use',
    'net use Z: \\\\fs01\\share hunter2 /user:CORP\\bob',
    `net use Z: \\\\fs01\\share ${R} /user:CORP\\bob`,
  ],
  [
    'net use without device',
    'C:\\Windows\\system32\\net.exe use \\\\fs01\\ipc$ hunter2 /user:bob',
    `C:\\Windows\\system32\\net.exe use \\\\fs01\\ipc$ ${R} /user:bob`,
  ],
  ['net user add', 'net user mallory P@ssw0rd /add', `net user mallory ${R} /add`],
  ['net1 user', 'net1 user mallory P@ssw0rd /add', `net1 user mallory ${R} /add`],
  [
    'sqlcmd -P secret',
    'sqlcmd -S db01 -U sa -P hunter2 -Q "select 1"',
    `sqlcmd -S db01 -U sa -P ${R} -Q "select 1"`,
  ],
  [
    'bcp -P secret',
    'bcp dbo.t out t.dat -S db -U sa -P hunter2 -c',
    `bcp dbo.t out t.dat -S db -U sa -P ${R} -c`,
  ],
  [
    'openssl -passin pass:',
    'openssl rsa -in k.pem -passin pass:hunter2 -out k2.pem',
    `openssl rsa -in k.pem -passin pass:${R} -out k2.pem`,
  ],
  [
    'openssl -passout pass:',
    'openssl pkcs12 -export -passout pass:pw -out a.p12',
    `openssl pkcs12 -export -passout pass:${R} -out a.p12`,
  ],
  [
    'openssl enc -k',
    'openssl enc -aes-256-cbc -k hunter2 -in a -out b',
    `openssl enc -aes-256-cbc -k ${R} -in a -out b`,
  ],
  ['7z -pSECRET', '7z a -phunter2 -mhe=on out.7z docs', `7z a -p${R} -mhe=on out.7z docs`],
  [
    '7z.exe -pSECRET',
    '"C:\\Program Files\\7-Zip\\7z.exe" x -phunter2 in.7z',
    `"C:\\Program Files\\7-Zip\\7z.exe" x -p${R} in.7z`,
  ],
  ['zip -P secret', 'zip -P hunter2 -r out.zip docs', `zip -P ${R} -r out.zip docs`],
  [
    'psexec -p',
    'PsExec64.exe \\\\host -u admin -p hunter2 cmd',
    `PsExec64.exe \\\\host -u admin -p ${R} cmd`,
  ],
  ['plink -pw', 'plink.exe -ssh bob@host -pw hunter2', `plink.exe -ssh bob@host -pw ${R}`],
  [
    'docker login -p',
    'docker login -u bob -p hunter2 registry.test',
    `docker login -u bob -p ${R} registry.test`,
  ],
  [
    'ldapsearch -w',
    'ldapsearch -x -D cn=admin -w hunter2 -b dc=x',
    `ldapsearch -x -D cn=admin -w ${R} -b dc=x`,
  ],
  ['smbclient -U user%pass', 'smbclient //fs/share -U bob%hunter2', `smbclient //fs/share -U bob%${R}`],
  ['xfreerdp /p:', 'xfreerdp /v:host /u:bob /p:hunter2', `xfreerdp /v:host /u:bob /p:${R}`],
  [
    'schtasks /RP',
    'schtasks /Create /TN t /TR x.exe /RU bob /RP hunter2',
    `schtasks /Create /TN t /TR x.exe /RU bob /RP ${R}`,
  ],
  ['cmdkey /pass:', 'cmdkey /add:host /user:bob /pass:hunter2', `cmdkey /add:host /user:bob /pass:${R}`],
  ['/password: style', 'tool.exe /password:hunter2 /quiet', `tool.exe /password:${R} /quiet`],
  ['after sudo', 'sudo mysql -phunter2', `sudo mysql -p${R}`],
  ['inside sh -c', 'sh -c "mysqldump -phunter2 db > /tmp/x"', `sh -c "mysqldump -p${R} db > /tmp/x"`],
  [
    'Authorization Bearer header',
    'curl -H "Authorization: Bearer abc.def" https://x.test',
    `curl -H "Authorization: Bearer ${R}" https://x.test`,
  ],
  [
    'Authorization Basic unquoted',
    'curl -H Authorization: Basic dXNlcjpwYXNz https://x.test',
    `curl -H Authorization: Basic ${R} https://x.test`,
  ],
  [
    'Authorization token without scheme',
    'http GET x.test Authorization:abcdef',
    `http GET x.test Authorization:${R}`,
  ],
  [
    'X-Api-Key header',
    "curl -H 'X-Api-Key: 12345' https://x.test",
    `curl -H 'X-Api-Key: ${R}' https://x.test`,
  ],
  [
    'Cookie header',
    'curl -H "Cookie: sid=abc; theme=dark" https://x.test',
    `curl -H "Cookie: ${R}" https://x.test`,
  ],
  ['bare Bearer token', 'client --header Bearer tok_123.456', `client --header Bearer ${R}`],
  [
    'URL credentials',
    'git clone https://bob:hunter2@git.test/repo.git',
    `git clone https://bob:${R}@git.test/repo.git`,
  ],
  ['postgres URL', 'psql postgresql://app:s3cr3t@db:5432/shop', `psql postgresql://app:${R}@db:5432/shop`],
  [
    'token= query',
    'curl "https://x.test/api?user=1&token=abc123&x=2"',
    `curl "https://x.test/api?user=1&token=${R}&x=2"`,
  ],
  ['apikey= query', 'curl https://x.test/?apikey=abc', `curl https://x.test/?apikey=${R}`],
  ['api_key= arg', 'run api_key=abc', `run api_key=${R}`],
  ['secret= arg', 'deploy secret=xyz', `deploy secret=${R}`],
  ['key= query', 'curl https://maps.test/?q=a&key=abc', `curl https://maps.test/?q=a&key=${R}`],
  ['access_token= query', 'curl https://x.test/?access_token=abc', `curl https://x.test/?access_token=${R}`],
  ['ODBC PWD=', 'isql "Server=db;UID=sa;PWD=hunter2;"', `isql "Server=db;UID=sa;PWD=${R};"`],
  [
    'Azure storage connection string',
    'app "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc+/def==;EndpointSuffix=core.windows.net"',
    `app "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${R};EndpointSuffix=core.windows.net"`,
  ],
  [
    'Azure Service Bus SharedAccessKey',
    'sb "Endpoint=sb://x/;SharedAccessKeyName=root;SharedAccessKey=abc="',
    `sb "Endpoint=sb://x/;SharedAccessKeyName=root;SharedAccessKey=${R}"`,
  ],
  [
    'Azure SAS sig=',
    'azcopy copy f "https://a.blob.core.windows.net/c?sv=2022&sig=abc%2Bdef&se=x"',
    `azcopy copy f "https://a.blob.core.windows.net/c?sv=2022&sig=${R}&se=x"`,
  ],
  ['JSON password', `app '{"user":"bob","password":"hunter2"}'`, `app '{"user":"bob","password":"${R}"}'`],
  [
    'AWS access key id',
    'aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE',
    `aws configure set aws_access_key_id ${R}`,
  ],
  [
    'AWS secret in env-style arg',
    'env AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG app',
    `env AWS_SECRET_ACCESS_KEY=${R} app`,
  ],
  [
    'GitHub classic token',
    `gh auth login --with-token ghp_${'a'.repeat(36)}`,
    `gh auth login --with-token ${R}`,
  ],
  ['GitHub fine-grained token', `x github_pat_${'A1_'.repeat(20)}`, `x ${R}`],
  ['Slack token', 'notify xoxb-123456789012-abcdefghij', `notify ${R}`],
  ['Google API key', `maps AIza${'B'.repeat(35)}`, `maps ${R}`],
  [
    'JWT',
    'client eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    `client ${R}`,
  ],
  ['Stripe live key', 'charge sk_live_4eC39HqLyjWDarjtT1zdp7dc', `charge ${R}`],
  [
    'PEM private key block',
    'echo -----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA -----END RSA PRIVATE KEY----- | openssl rsa',
    `echo ${R} | openssl rsa`,
  ],
  ['PEM block cut off', 'echo -----BEGIN PRIVATE KEY----- MIIEv', `echo ${R}`],
];

const keptCases: Array<[string, string]> = [
  ['ps -p is a pid', 'ps -p 123 -o comm='],
  ['ssh -p is a port', 'ssh -p 2222 bob@host'],
  ['unlisted tool -p 8080', 'python3 -m http.server -p 8080'],
  ['docker run -p is a port mapping', 'docker run -p 8080:80 nginx'],
  ['mysql bare -p prompts, next word is the database', 'mysql -u root -p shop'],
  ['7z bare -p prompts', '7z x -p archive.7z'],
  ['curl -u without password prompts', 'curl -u bob https://x.test'],
  ['net use with * prompts', 'net use Z: \\\\fs01\\share * /user:bob'],
  ['net view', 'net view \\\\fs01'],
  ['sqlcmd lower-case -p is statistics', 'sqlcmd -S db -p 1 -Q "select 1"'],
  ['ldapsearch -s is the scope', 'ldapsearch -x -s sub -b dc=x'],
  ['openssl env: reference', 'openssl rsa -in k.pem -passin env:KEY_PASS'],
  ['--password-file names a file', 'app --password-file /run/secrets/db'],
  ['--token-file names a file', 'kubectl --token-file=/var/run/token get pods'],
  ['--no-password flag', 'app --no-password --user bob'],
  ['--primary-key is not a secret', 'migrate --primary-key=id'],
  ['URL without credentials', 'curl https://user@example.test/path?q=1'],
  ['plain Linux process', '/usr/lib/systemd/systemd --user'],
  ['Windows service host', 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule'],
  ['tcpdump capture', 'tcpdump -i eth0 -w /tmp/x.pcap port 443'],
  ['empty', ''],
];

describe('redactCommandLine', () => {
  it.each(redactedCases)('redacts %s', (_name, input, expected) => {
    expect(redactCommandLine(input)).toBe(expected);
  });

  it.each(keptCases)('keeps %s', (_name, input) => {
    expect(redactCommandLine(input)).toBe(input);
  });

  it('is idempotent', () => {
    for (const [, input] of redactedCases) {
      const once = redactCommandLine(input);
      expect(redactCommandLine(once)).toBe(once);
    }
  });

  it('redacts several secrets on one line', () => {
    const out = redactCommandLine(
      'curl -u bob:pw1 -H "Authorization: Bearer t0k" "https://x.test/?token=abc"',
    );
    expect(out).toBe(`curl -u bob:${R} -H "Authorization: Bearer ${R}" "https://x.test/?token=${R}"`);
  });

  // Linear time: at 4x the 32 KiB protocol limit a quadratic pattern takes tens of seconds, a
  // linear one well under the bound even on a busy machine.
  it('stays linear on long pathological command lines', () => {
    const n = 4;
    const inputs = [
      'a'.repeat(32768 * n),
      'password'.repeat(4096 * n),
      `--${'x-'.repeat(16000 * n)}password`,
      'mysql '.repeat(5000 * n),
      `"${'a '.repeat(16000 * n)}`,
      'key=a&'.repeat(5000 * n),
      `-----BEGIN PRIVATE KEY-----${' x'.repeat(16000 * n)}`,
      'a.'.repeat(16000 * n),
      'http://'.repeat(4000 * n),
      'Bearer '.repeat(4000 * n),
      'eyJa.'.repeat(6000 * n),
      'a:b@'.repeat(8000 * n),
    ];
    for (const input of inputs) {
      const started = performance.now();
      redactCommandLine(input);
      expect(performance.now() - started, input.slice(0, 20)).toBeLessThan(2000);
    }
  });

  it('resets the tool at a shell separator', () => {
    expect(redactCommandLine('mysql -phunter2 ; ps -p 12')).toBe(`mysql -p${R} ; ps -p 12`);
  });
});
