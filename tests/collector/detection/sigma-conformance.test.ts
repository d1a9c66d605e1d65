// Every case of the SigmaHQ regression corpus: the rule must match exactly `match_count` of its events.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../../../collector/detection/sigma/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpusDir = path.resolve(repoRoot, '../shared/corpus/sigma-regression');
const corpusPresent = existsSync(corpusDir);

if (!corpusPresent && process.env.CI) {
  throw new Error(`the Sigma regression corpus is missing at ${corpusDir}`);
}

/**
 * Cases whose recorded `match_count` contradicts the specification: every listed event satisfies the
 * detection as written (checked field by field), so the engine is held to the specification's count.
 * If the corpus is corrected, the staleness check below fails and the entry must be removed.
 */
const SPEC_COUNTS: Record<string, { count: number; why: string }> = {
  'c7dcacd0-cc59-4004-b0a4-1d6cdebe6f3e': {
    count: 2,
    why: 'both events set ...\\LanmanServer\\Parameters\\AutoShareServer|AutoShareWks to DWORD (0x00000000)',
  },
  '45e112d0-7759-4c2a-aa36-9f8fb79d3393': {
    count: 3,
    why: 'all three events write DWORD (0x00000002) under ...\\ZoneMap\\Domains\\; the filter excludes only 0, 1 and (Empty)',
  },
  '5bac7a56-da88-4c27-922e-c81e113b20cb': {
    count: 2,
    why: 'one event is Runner.Listener.exe ... configure, the other Runner.Worker.exe ... spawnclient; the condition is an OR',
  },
};

const cases = corpusPresent
  ? readdirSync(corpusDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
  : [];

describe.skipIf(!corpusPresent)('Sigma regression corpus', () => {
  it('holds cases', () => {
    expect(cases.length).toBeGreaterThan(50);
  });

  for (const name of cases) {
    it(name, () => {
      const caseDir = path.join(corpusDir, name);
      const rule = compileRule(readFileSync(path.join(caseDir, 'rule.yml'), 'utf8'));
      const expected = JSON.parse(readFileSync(path.join(caseDir, 'expected.json'), 'utf8')) as {
        match_count: number;
      };
      const events = readFileSync(path.join(caseDir, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const matched = events.filter((event) => rule.match(event)).length;
      const override = SPEC_COUNTS[name];
      if (override === undefined) {
        expect(matched, `${rule.title} (${rule.id})`).toBe(expected.match_count);
      } else {
        expect(expected.match_count, `stale override, the corpus now agrees: ${name}`).not.toBe(
          override.count,
        );
        expect(matched, `${rule.title} (${rule.id}): ${override.why}`).toBe(override.count);
      }
    });
  }
});
