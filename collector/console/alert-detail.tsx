// One alert: what happened (the evidence by event type, the process's ancestors), where else the
// workstation alerted, what can be done about it, and what has been done (comments, audit trail).
import type { Alert, AlertComment, EvidenceEvent } from '../alerts/repository.js';
import type { AuditActionSummary, AuditRecord } from '../audit/repository.js';
import { DEAD_LETTER_EVIDENCE_TYPE } from '../notify/dead-letter-alert.js';
import type { User } from '../users/repository.js';
import { type AlertIncident, AlertIncidentLink } from './alert-incident.js';
import { Empty, Facts, LevelBadge, StatusBadge, Time } from './components.js';
import { asString } from './format.js';
import { CsrfField, can, Layout, type PageContext } from './layout.js';
import type { ProcessLink } from './queries.js';

const MONO = ['Executable', 'SHA-256', 'Command line', 'Parent executable', 'Parent command line', 'URL'];

function EventFacts(props: { event: EvidenceEvent | undefined; alert: Alert; process?: ProcessLink }) {
  const data = props.event?.data ?? props.alert.evidence;
  const type = props.event?.type ?? asString(props.alert.evidence.eventType) ?? '';
  const get = (key: string) => data[key];
  // What the process's own start recorded, for evidence that only names a pid (capture).
  const started = props.process;
  if (type === 'process.start') {
    return (
      <Facts
        mono={MONO}
        rows={[
          ['Process', get('name')],
          ['PID', asString(get('pid'))],
          ['Executable', get('exe')],
          ['SHA-256', get('sha256')],
          ['Signer', get('signer') ?? 'unsigned or unknown'],
          ['Command line', get('cmdline')],
          ['User', get('user')],
          ['Working directory', get('cwd')],
          [
            'Parent',
            get('parentName') ? `${String(get('parentName'))} (pid ${String(get('ppid'))})` : undefined,
          ],
          ['Parent executable', get('parentExe')],
          ['Parent command line', get('parentCmdline')],
        ]}
      />
    );
  }
  if (type.startsWith('capture.')) {
    return (
      <Facts
        mono={MONO}
        rows={[
          ['Kind', get('kind') ?? type.replace('capture.', '')],
          ['Interface', get('interface')],
          [
            'Socket',
            get('inode') !== undefined
              ? `inode ${String(get('inode'))}${get('protocol') ? `, ${String(get('protocol'))}` : ''}`
              : get('protocol'),
          ],
          ['Promiscuous', get('promiscuous') === undefined ? undefined : String(get('promiscuous'))],
          ['Process', get('name') ?? started?.name],
          ['PID', asString(get('pid'))],
          ['Executable', get('exe') ?? started?.exe],
          ['SHA-256', get('sha256') ?? started?.sha256],
          ['Signer', started ? (started.signer ?? 'unsigned or unknown') : undefined],
          ['Command line', get('cmdline') ?? started?.cmdline],
          ['User', get('user') ?? get('owner') ?? started?.user],
          ['Parent PID', started?.ppid === undefined ? undefined : String(started.ppid)],
          ['File', get('path')],
        ]}
      />
    );
  }
  if (type === DEAD_LETTER_EVIDENCE_TYPE) {
    return (
      <Facts
        mono={['Last error', 'Outbox row']}
        rows={[
          ['Channel', get('channel')],
          ['Channel kind', get('channelKind')],
          ['Trigger', get('trigger')],
          ['Incident', get('incidentTitle')],
          ['Attempts', asString(get('attempts'))],
          ['Last error', get('lastError')],
          ['Outbox row', get('outboxId')],
        ]}
      />
    );
  }
  if (type === 'web.visit') {
    return (
      <Facts
        mono={MONO}
        rows={[
          ['Browser', get('browser')],
          ['Host', get('host')],
          ['Category', get('category')],
          ['Visited', asString(get('visitTime'))],
          ['User', get('user')],
          ['URL', get('url')],
        ]}
      />
    );
  }
  return (
    <Facts
      mono={MONO}
      rows={Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])}
    />
  );
}

function Ancestors(props: { chain: ProcessLink[] }) {
  if (props.chain.length === 0) return '';
  return (
    <>
      <h3>Parent chain</h3>
      <ol class="chain">
        {props.chain.map((p) => (
          <li>
            <span class="mono" safe>{`${p.name} (pid ${p.pid})`}</span>{' '}
            <span class="muted mono" safe>
              {p.exe}
            </span>{' '}
            <span class="muted" safe>
              {p.user}
            </span>
          </li>
        ))}
      </ol>
    </>
  );
}

/** "Evidence viewed N times, last by X at T": every view is audited, listing each would bury the changes. */
function ViewSummary(props: { alert: Alert; views: AuditActionSummary; admin: boolean }) {
  const { count, lastActorName, lastAt } = props.views;
  if (count === 0) return '';
  return (
    <p class="muted views">
      <span
        safe
      >{`Evidence viewed ${count} time${count === 1 ? '' : 's'}, last by ${lastActorName ?? 'unknown'} `}</span>
      <Time value={lastAt} />
      {props.admin && (
        <>
          {' · '}
          <a href={`/console/audit?action=alert.evidence_read&targetType=alert&targetId=${props.alert.id}`}>
            every view in the audit log
          </a>
        </>
      )}
    </p>
  );
}

function Actions(props: { ctx: PageContext; alert: Alert; assignees: User[]; approvable: boolean }) {
  const { ctx, alert } = props;
  const action = `/console/alerts/${alert.id}/act`;
  const closed = alert.status === 'resolved' || alert.status === 'false_positive';
  // Exceptions filter detections on workstations; a collector alert takes none.
  const exceptionable = alert.agentId !== null;
  const evidenceKeys = Object.entries(alert.evidence)
    .filter(([k, v]) => (typeof v === 'string' || typeof v === 'number') && k !== 'eventType' && k !== 'pid')
    .map(([k]) => k);
  return (
    <section aria-labelledby="actions-h" class="card">
      <h2 id="actions-h">Actions</h2>
      {alert.status === 'open' && (
        <form method="post" action={action} class="inline">
          <CsrfField ctx={ctx} />
          <input type="hidden" name="op" value="acknowledge" />
          <button type="submit" class="primary">
            Acknowledge
          </button>
        </form>
      )}
      {!closed && (
        <form method="post" action={action} class="stack">
          <CsrfField ctx={ctx} />
          <label for="close-reason">Reason for closing</label>
          <input id="close-reason" name="reason" required maxlength="2000" />
          <div class="buttons">
            <button type="submit" name="op" value="resolve">
              Resolve
            </button>
            <button type="submit" name="op" value="false_positive">
              False positive
            </button>
          </div>
        </form>
      )}
      <form method="post" action="/console/alerts/bulk" class="inline">
        <CsrfField ctx={ctx} />
        <input type="hidden" name="ids" value={alert.id} />
        <input type="hidden" name="return" value={`/console/alerts/${alert.id}`} />
        <input type="hidden" name="action" value="incident" />
        <button type="submit">Open incident</button>
      </form>
      <form method="post" action={action} class="inline">
        <CsrfField ctx={ctx} />
        <input type="hidden" name="op" value="assign" />
        <label>
          Assignee{' '}
          <select name="assignee">
            <option value="">nobody</option>
            {props.assignees.map((u) => (
              <option value={u.id} selected={alert.assignee?.id === u.id} safe>
                {u.username}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Assign</button>
      </form>
      {exceptionable && (
        <details>
          <summary>Create an exception</summary>
          <form method="post" action={action} class="stack">
            <CsrfField ctx={ctx} />
            <input type="hidden" name="op" value="exception" />
            <fieldset>
              <legend>Scope</legend>
              <label>
                <input type="radio" name="scope" value="agent" checked /> this workstation
              </label>
              <label>
                <input type="radio" name="scope" value="group" /> its group
              </label>
              <label>
                <input type="radio" name="scope" value="rule" /> the whole fleet
              </label>
            </fieldset>
            {evidenceKeys.length > 0 && (
              <fieldset>
                <legend>Only when these match</legend>
                {evidenceKeys.map((key) => (
                  <label>
                    <input type="checkbox" name="field" value={key} />{' '}
                    <span class="mono" safe>{`${key} = ${String(alert.evidence[key])}`}</span>
                  </label>
                ))}
              </fieldset>
            )}
            <label for="exception-reason">Reason</label>
            <input id="exception-reason" name="reason" required maxlength="2000" />
            <button type="submit">Create exception</button>
          </form>
        </details>
      )}
      {props.approvable && !closed && (
        <details>
          <summary>Approve this executable</summary>
          <form method="post" action={action} class="stack">
            <CsrfField ctx={ctx} />
            <input type="hidden" name="op" value="approve" />
            <label for="approve-reason">Why it is legitimate</label>
            <input id="approve-reason" name="reason" required maxlength="2000" />
            <button type="submit">Approve for the group</button>
          </form>
        </details>
      )}
    </section>
  );
}

export function AlertDetailPage(props: {
  ctx: PageContext;
  alert: Alert & { incident?: AlertIncident };
  events: EvidenceEvent[];
  eventCount: number;
  /** The process the evidence names, from its stored process.start. */
  process?: ProcessLink;
  ancestors: ProcessLink[];
  comments: AlertComment[];
  others: Alert[];
  trail: AuditRecord[];
  /** Evidence reads: recorded one per view, shown as a summary rather than in the trail. */
  views: AuditActionSummary;
  assignees: User[];
  approvable: boolean;
}) {
  const { ctx, alert } = props;
  const analyst = can(ctx, 'analyst');
  const latest = props.events[0];
  return (
    <Layout title={alert.ruleTitle} ctx={ctx} active="alerts">
      <p>
        <a href="/console/alerts">← Alerts</a>
      </p>
      <h1 safe>{alert.ruleTitle}</h1>
      <p class="summary">
        <LevelBadge level={alert.level} /> <StatusBadge status={alert.status} />{' '}
        <AlertIncidentLink alert={alert} />{' '}
        {alert.agentId === null ? (
          <>
            raised by the <strong>collector</strong>
          </>
        ) : (
          <>
            on <strong safe>{alert.hostname}</strong>
          </>
        )}{' '}
        · <span safe>{`${alert.count} time${alert.count === 1 ? '' : 's'}`}</span> · first{' '}
        <Time value={alert.firstSeen} /> · last <Time value={alert.lastSeen} />
        {alert.assignee && <span safe>{` · assigned to ${alert.assignee.username}`}</span>}
        {alert.statusReason && <span safe>{` · reason: ${alert.statusReason}`}</span>}
      </p>
      <div class="columns">
        <div>
          <section aria-labelledby="evidence-h" class="card">
            <h2 id="evidence-h">Evidence</h2>
            <p class="muted" safe>
              {`${latest ? latest.type : 'no stored event'} · ${props.eventCount} event${props.eventCount === 1 ? '' : 's'} · rule ${alert.ruleId}`}
            </p>
            <EventFacts event={latest} alert={alert} process={props.process} />
            <Ancestors chain={props.ancestors} />
          </section>
          <section aria-labelledby="comments-h" class="card">
            <h2 id="comments-h">Comments</h2>
            {props.comments.length === 0 && <Empty text="No comments yet." />}
            <ul class="comments">
              {props.comments.map((c) => (
                <li>
                  <strong safe>{c.author.username}</strong> <Time value={c.createdAt} />
                  <p safe>{c.text}</p>
                </li>
              ))}
            </ul>
            {analyst && (
              <form method="post" action={`/console/alerts/${alert.id}/act`} class="stack">
                <CsrfField ctx={ctx} />
                <input type="hidden" name="op" value="comment" />
                <label for="comment-text">Add a comment</label>
                <textarea id="comment-text" name="text" rows="3" required maxlength="10000"></textarea>
                <button type="submit">Comment</button>
              </form>
            )}
          </section>
        </div>
        <div>
          {analyst && (
            <Actions ctx={ctx} alert={alert} assignees={props.assignees} approvable={props.approvable} />
          )}
          {alert.agentId !== null && (
            <section aria-labelledby="others-h" class="card">
              <h2 id="others-h">Other alerts of this workstation</h2>
              {props.others.length === 0 && <Empty text="None." />}
              <ul class="plain">
                {props.others.map((a) => (
                  <li>
                    <LevelBadge level={a.level} />{' '}
                    <a href={`/console/alerts/${a.id}`} safe>
                      {a.ruleTitle}
                    </a>{' '}
                    <Time value={a.lastSeen} /> <StatusBadge status={a.status} />
                  </li>
                ))}
              </ul>
            </section>
          )}
          <section aria-labelledby="trail-h" class="card">
            <h2 id="trail-h">Audit trail</h2>
            {props.trail.length === 0 && <Empty text="No changes recorded." />}
            <ViewSummary alert={alert} views={props.views} admin={can(ctx, 'admin')} />
            <ul class="plain trail">
              {props.trail.map((entry) => (
                <li>
                  <Time value={entry.at} /> <strong safe>{entry.actorName}</strong>{' '}
                  <span class="mono" safe>
                    {entry.action}
                  </span>
                  {entry.after !== null && (
                    <span class="muted mono" safe>{` ${JSON.stringify(entry.after).slice(0, 160)}`}</span>
                  )}
                </li>
              ))}
            </ul>
          </section>
        </div>
      </div>
    </Layout>
  );
}
