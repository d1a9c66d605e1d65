import { readFileSync } from 'node:fs';

/** The agent's version is the package's; read once at start. */
export const AGENT_VERSION: string = (() => {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { version: string })
        .version;
    } catch {}
  }
  return '0.0.0';
})();
