import type { Audience, Deadline } from './deadlines.js';

export type TaskPhase = 'contain' | 'assess' | 'legal' | 'notify' | 'hotline' | 'scripts' | 'review';

export interface ChecklistTask {
  key: string;
  title: string;
  description: string;
  phase: TaskPhase;
  dueAt: Date | null;
  dependsOn?: string[];
}

export interface ChecklistInput {
  openedAt: Date;
  deadlines: Deadline[];
}

export class ChecklistInputError extends Error {
  readonly code = 'CHECKLIST_INVALID_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'ChecklistInputError';
  }
}

const HOUR_MS = 3_600_000;
/** The hotline must be live a day before letters can land, so early recipients reach a person. */
export const HOTLINE_LEAD_MS = 24 * HOUR_MS;
/** Agents need approved scripts a day before the line opens to train on them. */
export const SCRIPTS_LEAD_MS = 24 * HOUR_MS;

const PHASE_RANK: Record<TaskPhase, number> = {
  contain: 0,
  assess: 1,
  legal: 2,
  scripts: 3,
  hotline: 4,
  notify: 5,
  review: 6,
};

const AUDIENCE_LABEL: Record<Audience, string> = {
  authority: 'supervisory authority',
  individuals: 'affected individuals',
  media: 'media',
  attorney_general: 'attorney general / state regulators',
  hhs: 'HHS',
  credit_bureaus: 'consumer reporting agencies',
};

/** Default script texts for hotline agents and letters; placeholders in {{double braces}}. */
export const DEFAULT_SCRIPTS = {
  apology: [
    'Thank you for calling {{organization}}. I am sorry: on {{incidentDate}} some of your personal information',
    '({{dataCategories}}) may have been seen by someone who should not have had it. We take this seriously,',
    'we stopped it on {{containedDate}}, and we are here to help you protect yourself.',
  ].join(' '),
  creditRepair: [
    'Steps that protect your credit:',
    '1. Place a free fraud alert with one nationwide credit bureau (Equifax, Experian or TransUnion); it tells the other two.',
    '2. Consider a free credit freeze at each of the three bureaus; it stops new accounts in your name.',
    '3. Get your free credit reports at annualcreditreport.com and look for accounts or inquiries you do not recognise.',
    '4. Enrol in the complimentary monitoring we offer with code {{monitoringCode}} before {{enrolmentDeadline}}.',
    '5. If you find fraud, report it at IdentityTheft.gov (or to the police) and keep the report number.',
  ].join('\n'),
  replaceDocuments: [
    'Replacing documents:',
    "- Driver's licence or ID card: ask your licensing authority for a replacement with a new number.",
    '- Passport: report it through the issuing authority and apply for a new one.',
    '- Bank or payment cards: call the number on the back of the card and ask for a new card number.',
    '- Online accounts: change passwords and turn on two-step sign-in, starting with email and banking.',
    'Keep receipts: {{organization}} reimburses replacement fees up to {{reimbursementLimit}}.',
  ].join('\n'),
  escalation:
    'If the caller reports actual fraud, is distressed, or asks for a manager, transfer to the escalation queue and log the reference {{caseReference}}.',
} as const;

function offset(from: Date, ms: number): Date {
  return new Date(from.getTime() + ms);
}

function earliest(dates: Array<Date | null>): Date | null {
  const times = dates.filter((d): d is Date => d !== null).map((d) => d.getTime());
  return times.length === 0 ? null : new Date(Math.min(...times));
}

function minDate(...dates: Array<Date | null>): Date | null {
  return earliest(dates);
}

/**
 * Orders tasks so every task comes after what it depends on; among ready tasks the earliest
 * due date goes first (undated last), then the phase order.
 */
function orderTasks(tasks: ChecklistTask[]): ChecklistTask[] {
  const remaining = new Map(tasks.map((task) => [task.key, task]));
  const done = new Set<string>();
  const ordered: ChecklistTask[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining.values()].filter((task) =>
      (task.dependsOn ?? []).every((dep) => done.has(dep) || !remaining.has(dep)),
    );
    if (ready.length === 0) throw new ChecklistInputError('task dependencies form a cycle');
    ready.sort((a, b) => {
      const at = a.dueAt?.getTime() ?? Number.POSITIVE_INFINITY;
      const bt = b.dueAt?.getTime() ?? Number.POSITIVE_INFINITY;
      if (at !== bt) return at - bt;
      return PHASE_RANK[a.phase] - PHASE_RANK[b.phase];
    });
    const next = ready[0]!;
    ordered.push(next);
    done.add(next.key);
    remaining.delete(next.key);
  }
  return ordered;
}

/** The undated notify step shown until affected counts name the actual obligations. */
export const NOTIFY_PLACEHOLDER_KEY = 'notify.obligations';

export function notifyTaskKey(deadline: Pick<Deadline, 'jurisdictionId' | 'obligationId'>): string {
  return `notify.${deadline.jurisdictionId}.${deadline.obligationId}`;
}

export function buildChecklist(input: ChecklistInput): ChecklistTask[] {
  const { openedAt, deadlines } = input;
  if (!(openedAt instanceof Date) || Number.isNaN(openedAt.getTime())) {
    throw new ChecklistInputError('openedAt must be a valid Date');
  }
  if (!Array.isArray(deadlines)) throw new ChecklistInputError('deadlines must be an array');

  const individualNotices = deadlines.filter((d) => d.audience === 'individuals' || d.audience === 'media');
  const earliestIndividualDue = earliest(individualNotices.map((d) => d.dueAt));
  const earliestDeadline = earliest(deadlines.map((d) => d.dueAt));
  const hotlineDue = earliestIndividualDue ? offset(earliestIndividualDue, -HOTLINE_LEAD_MS) : null;
  const scriptsDue = hotlineDue ? offset(hotlineDue, -SCRIPTS_LEAD_MS) : null;
  // Legal must decide well before the first regulator clock runs out (GDPR: 72 h).
  const legalDue = minDate(
    offset(openedAt, 48 * HOUR_MS),
    earliestDeadline ? offset(earliestDeadline, -12 * HOUR_MS) : null,
  );

  const tasks: ChecklistTask[] = [
    {
      key: 'contain.isolate-workstation',
      title: 'Isolate the affected workstation',
      description:
        'Take the workstation off the network (switch port or EDR isolation), keep it powered on, and disable the agent account that used it.',
      phase: 'contain',
      dueAt: offset(openedAt, 1 * HOUR_MS),
    },
    {
      key: 'contain.preserve-evidence',
      title: 'Preserve evidence',
      description:
        'Capture memory and disk images, export agent events, browser history and packet captures, and record hashes and the chain of custody before anything is wiped.',
      phase: 'contain',
      dueAt: offset(openedAt, 4 * HOUR_MS),
      dependsOn: ['contain.isolate-workstation'],
    },
    {
      key: 'assess.scope-data',
      title: 'Scope the data involved',
      description:
        'Establish which records, fields and systems were exposed (identifiers, financial, health, credentials) and whether they were encrypted.',
      phase: 'assess',
      dueAt: offset(openedAt, 24 * HOUR_MS),
      dependsOn: ['contain.preserve-evidence'],
    },
    {
      key: 'assess.scope-people',
      title: 'Count affected people per jurisdiction',
      description:
        'Deduplicate the affected people and count them by residence (EU/UK, each US state) and by HIPAA status; these counts decide the thresholds.',
      phase: 'assess',
      dueAt: offset(openedAt, 36 * HOUR_MS),
      dependsOn: ['assess.scope-data'],
    },
    {
      key: 'legal.decide-obligations',
      title: 'Decide notification obligations with counsel',
      description:
        'Confirm with counsel which obligations apply (risk of harm, encryption, law-enforcement delay), fix the clock dates, and approve the deadline list. The jurisdiction table is not legal advice.',
      phase: 'legal',
      dueAt: legalDue,
      dependsOn: ['assess.scope-people'],
    },
  ];

  const notifyKeys: string[] = [];
  // Before anyone is counted per jurisdiction the obligations are unknown: the notify, hotline and
  // scripts steps are listed undated from the first minute, and dated (or dropped) once counts arrive.
  const obligationsUnknown = deadlines.length === 0;
  const hasIndividualNotice = individualNotices.length > 0;
  if (hasIndividualNotice || obligationsUnknown) {
    tasks.push(
      {
        key: 'scripts.approve',
        title: 'Approve letter and hotline scripts with legal',
        description: [
          'Legal approves the notice letter and these hotline scripts (fill the {{placeholders}}):',
          '',
          `Apology:\n${DEFAULT_SCRIPTS.apology}`,
          '',
          DEFAULT_SCRIPTS.creditRepair,
          '',
          DEFAULT_SCRIPTS.replaceDocuments,
          '',
          `Escalation: ${DEFAULT_SCRIPTS.escalation}`,
        ].join('\n'),
        phase: 'scripts',
        dueAt: scriptsDue,
        dependsOn: ['legal.decide-obligations'],
      },
      {
        key: 'hotline.live',
        title: 'Open the breach hotline',
        description:
          'Staff the hotline in-house or with an outsourcer (size it with the hotline forecast), train agents on the approved scripts, and have the toll-free number live before the first letters land; print the number in every letter.',
        phase: 'hotline',
        dueAt: hotlineDue,
        dependsOn: ['scripts.approve'],
      },
    );
  }

  for (const deadline of deadlines) {
    const key = notifyTaskKey(deadline);
    if (notifyKeys.includes(key)) continue;
    notifyKeys.push(key);
    const toPeople = deadline.audience === 'individuals' || deadline.audience === 'media';
    const details = [
      `Notify ${deadline.recipient} (${deadline.jurisdictionName}).`,
      `Deadline: ${deadline.basis}.`,
      deadline.condition ? `Applies when: ${deadline.condition}` : '',
      `Source: ${deadline.source.citation} — ${deadline.source.url}`,
      deadline.notes ?? '',
    ].filter((line) => line.length > 0);
    tasks.push({
      key,
      title: `Notify ${AUDIENCE_LABEL[deadline.audience]} — ${deadline.jurisdictionName}`,
      description: details.join('\n'),
      phase: 'notify',
      dueAt: deadline.dueAt,
      dependsOn: toPeople ? ['legal.decide-obligations', 'hotline.live'] : ['legal.decide-obligations'],
    });
  }

  if (obligationsUnknown) {
    notifyKeys.push(NOTIFY_PLACEHOLDER_KEY);
    tasks.push({
      key: NOTIFY_PLACEHOLDER_KEY,
      title: 'Notify regulators, individuals, media and credit bureaus where the law requires',
      description:
        'Enter the affected people per jurisdiction and the clock dates (aware, determined, discovered): this task is then replaced by one dated task per notification the jurisdiction rules require.',
      phase: 'notify',
      dueAt: null,
      dependsOn: ['legal.decide-obligations'],
    });
  }

  tasks.push({
    key: 'review.post-incident',
    title: 'Post-incident review',
    description:
      'Blameless review: timeline, root cause, detection gaps (Sigma rules, agent coverage), notification timeliness against each deadline, hotline service level, and follow-up actions with owners.',
    phase: 'review',
    dueAt: null,
    dependsOn: notifyKeys.length > 0 ? notifyKeys : ['legal.decide-obligations'],
  });

  return orderTasks(tasks);
}
