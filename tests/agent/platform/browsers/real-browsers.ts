// Drives the real, installed browsers so tests read history files the browsers wrote themselves.
// Chromium: headless, hosts mapped to a local HTTPS server (google.com and dropbox.com are HSTS
// preloaded, so plain HTTP would be upgraded), pages opened over the DevTools protocol (headless
// Chromium takes one URL only) and closed with Browser.close so history is flushed.
// Firefox: headless, every host sent through a local HTTP proxy set in user.js.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import WebSocket from 'ws';

export function findBinary(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin').split(delimiter)) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** The binary, or null with a message when it is missing outside CI; in CI a missing browser fails. */
export function requireBrowser(name: string): string | null {
  const binary = findBinary(name);
  if (binary) return binary;
  if (process.env.CI) throw new Error(`${name} is required in CI but is not installed`);
  console.warn(`skipping ${name} tests: ${name} is not installed`);
  return null;
}

export interface PageServer {
  port: number;
  /** host + path of every page request seen (favicon requests left out). */
  requests: string[];
  close(): Promise<void>;
}

const fixtures = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'browsers');
const pageTitle = 'vigil test page';
const page = `<!doctype html><html><head><title>${pageTitle}</title></head><body>ok</body></html>`;

function listen(server: Server, requests: string[]): Promise<PageServer> {
  server.on('request', (req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (url.pathname !== '/favicon.ico') requests.push(`${url.host}${url.pathname}`);
    res.writeHead(url.pathname === '/favicon.ico' ? 404 : 200, { 'content-type': 'text/html' });
    res.end(page);
  });
  // Firefox's background services try CONNECT through the proxy; they get nothing.
  server.on('connect', (_req, socket) => socket.destroy());
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        port,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export function startHttpsServer(): Promise<PageServer> {
  const server = createHttpsServer({
    key: readFileSync(join(fixtures, 'localhost-key.pem')),
    cert: readFileSync(join(fixtures, 'localhost-cert.pem')),
  });
  return listen(server, []);
}

/** A plain HTTP server that also serves absolute-URI proxy requests. */
export function startHttpProxyServer(): Promise<PageServer> {
  return listen(createHttpServer(), []);
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface RunningBrowser {
  open(urls: string[]): Promise<void>;
  close(): Promise<void>;
}

interface DevToolsReply {
  result?: Record<string, unknown>;
  error?: { message: string };
}

class DevTools {
  private nextId = 0;
  private readonly pending = new Map<number, (message: DevToolsReply) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as DevToolsReply & { id?: number };
      if (message.id !== undefined) this.pending.get(message.id)?.(message);
    });
  }

  static async connect(url: string): Promise<DevTools> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return new DevTools(socket);
  }

  send(method: string, params: object = {}): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (message) => {
        this.pending.delete(id);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result ?? {});
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.terminate();
  }
}

/** Starts headless Chromium on `userDataDir`; `hosts` resolve to the local server. */
export async function launchChromium(
  binary: string,
  userDataDir: string,
  server: PageServer,
  hosts: string[],
): Promise<RunningBrowser> {
  await mkdir(userDataDir, { recursive: true });
  const portFile = join(userDataDir, 'DevToolsActivePort');
  // A previous run leaves its port behind; wait for this run's.
  await rm(portFile, { force: true });
  const rules = hosts.map((host) => `MAP ${host} 127.0.0.1:${server.port}`).join(', ');
  const child = spawn(
    binary,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--ignore-certificate-errors',
      `--user-data-dir=${userDataDir}`,
      `--host-resolver-rules=${rules}`,
      '--remote-debugging-port=0',
      'about:blank',
    ],
    { stdio: 'ignore' },
  );
  let devTools: DevTools;
  try {
    let endpoint = '';
    await waitFor(
      'Chromium DevTools port',
      async () => {
        const text = await readFile(portFile, 'utf8').catch(() => '');
        const [port, path] = text.split('\n');
        if (!port || !path) return false;
        endpoint = `ws://127.0.0.1:${port}${path}`;
        return true;
      },
      20_000,
    );
    devTools = await DevTools.connect(endpoint);
  } catch (error) {
    // Never leave a browser behind when setup fails.
    child.kill('SIGKILL');
    throw error;
  }
  return {
    async open(urls) {
      const targetIds: unknown[] = [];
      for (const url of urls) targetIds.push((await devTools.send('Target.createTarget', { url })).targetId);
      // The visit is recorded when the navigation commits; the page title shows it has.
      await waitFor(
        'pages to load',
        async () => {
          const { targetInfos } = (await devTools.send('Target.getTargets')) as {
            targetInfos: { targetId: string; title: string }[];
          };
          const loaded = targetInfos.filter(
            (info) => targetIds.includes(info.targetId) && info.title === pageTitle,
          );
          return loaded.length === urls.length;
        },
        20_000,
      );
    },
    async close() {
      // Browser.close is the graceful path: Chromium commits pending history before it exits.
      await devTools.send('Browser.close').catch(() => undefined);
      devTools.close();
      await exited(child, 20_000);
    },
  };
}

export function firefoxUserJs(proxyPort: number): string {
  const prefs: Record<string, string | number | boolean> = {
    'network.proxy.type': 1,
    'network.proxy.http': '127.0.0.1',
    'network.proxy.http_port': proxyPort,
    'network.proxy.ssl': '127.0.0.1',
    'network.proxy.ssl_port': proxyPort,
    'network.proxy.no_proxies_on': '',
    'network.proxy.allow_hijacking_localhost': true,
    // Keep plain HTTP: no HTTPS-first upgrade, no HSTS preload list (google.com is on it).
    'dom.security.https_first': false,
    'dom.security.https_only_mode': false,
    'network.stricttransportsecurity.preloadlist': false,
    'browser.fixup.fallback-to-https': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.enabled': false,
    'app.update.enabled': false,
    'app.update.auto': false,
    'extensions.update.enabled': false,
    'browser.shell.checkDefaultBrowser': false,
    'browser.startup.homepage_override.mstone': 'ignore',
    'browser.aboutwelcome.enabled': false,
    'startup.homepage_welcome_url': '',
    'browser.startup.page': 0,
    'browser.newtabpage.enabled': false,
    'browser.places.importBookmarksHTML': false,
    'places.history.enabled': true,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'browser.tabs.warnOnClose': false,
  };
  return Object.entries(prefs)
    .map(([name, value]) => `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});`)
    .join('\n');
}

/** Runs headless Firefox on `profileDir` through the local proxy, opening `urls` as tabs. */
export async function runFirefox(
  binary: string,
  profileDir: string,
  server: PageServer,
  urls: string[],
  untilRecorded: () => Promise<boolean>,
): Promise<void> {
  await mkdir(profileDir, { recursive: true });
  await writeFile(join(profileDir, 'user.js'), firefoxUserJs(server.port));
  const before = server.requests.length;
  const child = spawn(binary, ['--headless', '--no-remote', '--profile', profileDir, ...urls], {
    stdio: 'ignore',
    env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' },
  });
  try {
    await waitFor('Firefox pages to load', () => server.requests.length - before >= urls.length, 40_000);
    await waitFor('Firefox to record the visits', untilRecorded, 20_000);
  } finally {
    child.kill('SIGTERM');
    await exited(child, 20_000);
  }
}
