// Copies the non-TypeScript assets (SQL migrations, Sigma rules, signature data, PowerShell
// scripts, console static files) next to the compiled JavaScript, so `dist/` runs on its own.
import { cpSync, existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';

const assetExtensions = new Set(['.sql', '.yml', '.yaml', '.json', '.ps1', '.css', '.js', '.svg']);
const isAsset = (src) => statSync(src).isDirectory() || assetExtensions.has(extname(src));

for (const dir of ['agent', 'collector', 'shared']) {
  if (existsSync(dir)) cpSync(dir, `dist/${dir}`, { recursive: true, filter: isAsset });
}
