import { describe, expect, it } from 'vitest';
import {
  buildChecklist,
  ChecklistInputError,
  type ChecklistTask,
  DEFAULT_SCRIPTS,
  HOTLINE_LEAD_MS,
} from '../../../collector/incidents/checklist.js';
import { computeDeadlines } from '../../../collector/incidents/deadlines.js';

const openedAt = new Date('2026-05-01T08:00:00Z');
const HOUR = 3_600_000;

function task(tasks: ChecklistTask[], key: string): ChecklistTask {
  const found = tasks.find((t) => t.key === key);
  if (!found) throw new Error(`no task ${key}`);
  return found;
}

function mixedDeadlines() {
  return computeDeadlines({
    clocks: { aware: openedAt, discovered: openedAt, determined: openedAt },
    affected: { 'eu-gdpr': 40, 'us-ca': 800, 'us-tx': 300 },
    timeZone: 'America/Los_Angeles',
  });
}

describe('buildChecklist', () => {
  it('covers every phase and one notify task per applicable obligation', () => {
    const deadlines = mixedDeadlines();
    const tasks = buildChecklist({ openedAt, deadlines });
    const phases = new Set(tasks.map((t) => t.phase));
    expect([...phases].sort()).toEqual([
      'assess',
      'contain',
      'hotline',
      'legal',
      'notify',
      'review',
      'scripts',
    ]);
    const notifyKeys = tasks.filter((t) => t.phase === 'notify').map((t) => t.key);
    expect(notifyKeys.sort()).toEqual(
      deadlines.map((d) => `notify.${d.jurisdictionId}.${d.obligationId}`).sort(),
    );
    expect(task(tasks, 'notify.us-ca.attorney-general').title).toMatch(/attorney general/);
    expect(task(tasks, 'notify.us-ca.attorney-general').description).toContain('1798.82');
  });

  it('orders tasks so that dependencies always come first', () => {
    const tasks = buildChecklist({ openedAt, deadlines: mixedDeadlines() });
    const position = new Map(tasks.map((t, i) => [t.key, i]));
    for (const t of tasks) {
      for (const dep of t.dependsOn ?? []) expect(position.get(dep)!).toBeLessThan(position.get(t.key)!);
    }
    expect(tasks[0]!.key).toBe('contain.isolate-workstation');
    expect(tasks.at(-1)!.key).toBe('review.post-incident');
  });

  it('has the hotline live a day before the earliest individual-notice deadline, scripts before that', () => {
    const deadlines = mixedDeadlines();
    const tasks = buildChecklist({ openedAt, deadlines });
    const earliestIndividual = Math.min(
      ...deadlines.filter((d) => d.audience === 'individuals' && d.dueAt).map((d) => d.dueAt!.getTime()),
    );
    const hotline = task(tasks, 'hotline.live');
    expect(hotline.dueAt!.getTime()).toBe(earliestIndividual - HOTLINE_LEAD_MS);
    expect(task(tasks, 'scripts.approve').dueAt!.getTime()).toBeLessThan(hotline.dueAt!.getTime());
    expect(task(tasks, 'notify.us-ca.individuals').dependsOn).toContain('hotline.live');
    // Regulators do not wait for the hotline.
    expect(task(tasks, 'notify.eu-gdpr.supervisory-authority').dependsOn).toEqual([
      'legal.decide-obligations',
    ]);
  });

  it('asks legal to decide before the GDPR 72-hour clock runs out', () => {
    const tasks = buildChecklist({ openedAt, deadlines: mixedDeadlines() });
    const legal = task(tasks, 'legal.decide-obligations');
    const art33 = task(tasks, 'notify.eu-gdpr.supervisory-authority');
    expect(legal.dueAt!.getTime()).toBeLessThan(art33.dueAt!.getTime());
    expect(legal.dueAt!.getTime()).toBe(openedAt.getTime() + 48 * HOUR);
    expect(task(tasks, 'contain.isolate-workstation').dueAt!.getTime()).toBe(openedAt.getTime() + HOUR);
  });

  it('puts the default script templates into the scripts task', () => {
    const scripts = task(buildChecklist({ openedAt, deadlines: mixedDeadlines() }), 'scripts.approve');
    expect(scripts.description).toContain(DEFAULT_SCRIPTS.apology);
    expect(scripts.description).toMatch(/credit freeze/);
    expect(scripts.description).toMatch(/Passport/);
    expect(scripts.description).toContain('{{organization}}');
  });

  it('skips hotline and scripts when nobody is notified individually', () => {
    const deadlines = computeDeadlines({
      clocks: { discovered: openedAt },
      affected: { 'us-hipaa': 100 },
      timeZone: 'UTC',
    }).filter((d) => d.audience !== 'individuals');
    const tasks = buildChecklist({ openedAt, deadlines });
    expect(tasks.some((t) => t.phase === 'hotline' || t.phase === 'scripts')).toBe(false);
    expect(task(tasks, 'review.post-incident').dependsOn).toEqual(['notify.us-hipaa.hhs-annual-log']);
  });

  it('leaves the hotline undated while no individual deadline is known', () => {
    const deadlines = computeDeadlines({ clocks: {}, affected: { 'us-ca': 10 }, timeZone: 'UTC' });
    const tasks = buildChecklist({ openedAt, deadlines });
    expect(task(tasks, 'hotline.live').dueAt).toBeNull();
    expect(task(tasks, 'notify.us-ca.individuals').dueAt).toBeNull();
  });

  it('rejects an invalid openedAt', () => {
    expect(() => buildChecklist({ openedAt: new Date('x'), deadlines: [] })).toThrow(ChecklistInputError);
  });
});

describe('buildChecklist before anyone is counted', () => {
  it('lists notify, hotline and scripts undated from the start', () => {
    const tasks = buildChecklist({ openedAt, deadlines: [] });
    for (const key of ['notify.obligations', 'hotline.live', 'scripts.approve']) {
      expect(task(tasks, key).dueAt).toBeNull();
    }
    expect(new Set(tasks.map((t) => t.phase))).toEqual(
      new Set(['contain', 'assess', 'legal', 'scripts', 'hotline', 'notify', 'review']),
    );
    expect(task(tasks, 'review.post-incident').dependsOn).toEqual(['notify.obligations']);
  });

  it('replaces the notify placeholder and dates hotline and scripts, keeping their keys', () => {
    const before = buildChecklist({ openedAt, deadlines: [] });
    const after = buildChecklist({ openedAt, deadlines: mixedDeadlines() });
    expect(after.some((t) => t.key === 'notify.obligations')).toBe(false);
    expect(after.filter((t) => t.key === 'hotline.live')).toHaveLength(1);
    expect(task(after, 'hotline.live').dueAt).not.toBeNull();
    expect(task(after, 'scripts.approve').dueAt).not.toBeNull();
    const keys = (list: ChecklistTask[]) => list.map((t) => t.key);
    expect(keys(after)).toEqual(
      expect.arrayContaining(keys(before).filter((k) => k !== 'notify.obligations')),
    );
  });
});
