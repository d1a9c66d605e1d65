// Incidents: the list (status, severity, owner, next deadline counting down) and the detail page
// (deadlines per jurisdiction, checklist, hotline staffing chart, linked alerts, timeline, trigger
// deliveries). Reads use the incidents view; changes go through the incidents API.
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { BadRequestError, NotFoundError } from '../errors.js';
import { loadJurisdictions } from '../incidents/deadlines.js';
import {
  getIncident,
  incidentStatuses,
  listIncidents,
  resolutions,
  taskStates,
} from '../incidents/repository.js';
import { incidentDetail } from '../incidents/view.js';
import { recentDeadLetterCount } from '../notify/repository.js';
import { listUsers, type User } from '../users/repository.js';
import { apiErrorMessage, callApi } from './api.js';
import { Empty, Facts, LevelBadge, StatusBadge, Time } from './components.js';
import { type ConsoleDeps, formList, formText, pageContext, redirectWith, sendHtml } from './context.js';
import { formatRemaining, formatTime, isoOf } from './format.js';
import {
  CLOCKS,
  FormInputError,
  IncidentEditForm,
  incidentPatchFromForm,
  localInput,
} from './incident-edit.js';
import { CsrfField, can, Layout, type PageContext } from './layout.js';
import { nextDueTasks } from './queries.js';
import { intervalsByDay, StaffingChart } from './staffing-chart.js';

type Detail = Awaited<ReturnType<typeof incidentDetail>>;

const PAGE_SIZE = 50;
const encodeListCursor = (createdAt: Date, id: string) =>
  Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
function decodeListCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !UUID.test(id))
    throw new BadRequestError('invalid cursor', undefined, 'bad_cursor');
  return { createdAt, id };
}

/** Triggers nobody received: no alert can carry them (alerts belong to an agent), so the console says so. */
function DeadLetterBanner(props: { count: number; where: string }) {
  if (props.count === 0) return '';
  return (
    <p class="flash error" role="alert" safe>
      {`${props.count} notification${props.count === 1 ? '' : 's'} could not be delivered after the last attempt ${props.where}: incident managers may not know. See the trigger deliveries${props.where === 'in the last 7 days' ? ' of each incident (or GET /api/v1/notify/dead-letters)' : ' below'}.`}
    </p>
  );
}

/** A deadline that counts down in the browser (console.js), with the server's text as fallback. */
export const Countdown = (props: { dueAt: string | Date | null; now?: Date }) => {
  if (!props.dueAt) return <span class="muted">—</span>;
  const due = new Date(props.dueAt);
  const remaining = due.getTime() - (props.now ?? new Date()).getTime();
  return (
    <time datetime={isoOf(due)} data-countdown="" class={remaining < 0 ? 'overdue' : undefined} safe>
      {formatRemaining(remaining)}
    </time>
  );
};

interface ListRow {
  id: string;
  title: string;
  severity: string;
  status: string;
  owner: string;
  createdAt: Date;
  next?: { title: string; dueAt: Date };
}

function IncidentList(props: {
  ctx: PageContext;
  rows: ListRow[];
  status?: string;
  nextCursor: string | null;
  paged: boolean;
  deadLetters: number;
}) {
  const params = (cursor: string) =>
    new URLSearchParams({ ...(props.status && { status: props.status }), cursor }).toString();
  return (
    <Layout title="Incidents" ctx={props.ctx} active="incidents">
      <h1>Incidents</h1>
      <DeadLetterBanner count={props.deadLetters} where="in the last 7 days" />
      <form method="get" action="/console/incidents" class="filters" aria-label="Filter incidents">
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {incidentStatuses.map((s) => (
              <option value={s} selected={props.status === s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      {props.rows.length === 0 ? (
        <Empty text="No incidents. Open one from selected alerts in the queue." />
      ) : (
        <table class="grid" aria-label="Incidents">
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Severity</th>
              <th scope="col">Status</th>
              <th scope="col">Owner</th>
              <th scope="col">Next deadline</th>
              <th scope="col">Due in</th>
              <th scope="col">Opened</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((row) => (
              <tr>
                <td>
                  <a href={`/console/incidents/${row.id}`} safe>
                    {row.title}
                  </a>
                </td>
                <td>
                  <LevelBadge level={row.severity} />
                </td>
                <td>
                  <StatusBadge status={row.status} />
                </td>
                <td safe>{row.owner}</td>
                <td safe>{row.next?.title ?? ''}</td>
                <td>
                  <Countdown dueAt={row.next?.dueAt ?? null} />
                </td>
                <td>
                  <Time value={row.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages">
        {props.paged && (
          <a href={`/console/incidents${props.status ? `?status=${props.status}` : ''}`}>← Newest</a>
        )}{' '}
        {props.nextCursor && <a href={`/console/incidents?${params(props.nextCursor)}`}>Older incidents →</a>}
      </nav>
    </Layout>
  );
}

/** "user:<id>" as the user's name; rule and system actors as they are. */
const actorName = (actor: string, names: Map<string, string>) =>
  actor.startsWith('user:') ? (names.get(actor.slice(5)) ?? actor) : actor;

const jurisdictionNames = (): Array<{ id: string; name: string }> =>
  loadJurisdictions().jurisdictions.map((j) => ({ id: j.id, name: j.name }));

/** Affected people per jurisdiction: they start the legal clocks and size the hotline. */
function AffectedEditor(props: { ctx: PageContext; incident: Detail }) {
  return (
    <details>
      <summary>Edit affected people per jurisdiction</summary>
      <form method="post" action={`/console/incidents/${props.incident.id}/affected`} class="affected">
        <CsrfField ctx={props.ctx} />
        {jurisdictionNames().map((j) => (
          <label>
            <span safe>{j.name}</span>
            <input
              type="number"
              min="0"
              step="1"
              name={`affected.${j.id}`}
              value={String(props.incident.affectedCounts[j.id] ?? '')}
            />
          </label>
        ))}
        <button type="submit">Save affected people</button>
      </form>
    </details>
  );
}

const when = (value: string | null, zone: string) =>
  value ? `${formatTime(value)} (${localInput(value, zone).replace('T', ' ')} ${zone})` : 'not recorded';

/** Who, what and when: the facts the legal clocks and notices are built from. */
function IncidentFacts(props: { incident: Detail; names: Map<string, string> }) {
  const { incident } = props;
  const zone = incident.timezone;
  const contacts = Object.entries(incident.contacts).map(
    ([role, c]) =>
      [role.toUpperCase(), [c?.name, c?.email, c?.phone].filter(Boolean).join(' · ')] as [string, string],
  );
  return (
    <section class="card" aria-labelledby="facts-h">
      <h2 id="facts-h">Facts</h2>
      <Facts
        rows={[
          [
            'Affected workstations',
            incident.affectedAgents
              .map((a) => `${a.hostname}${a.source === 'edited' ? ' (added)' : ''}`)
              .join(', ') || 'none yet',
          ],
          ['Affected users', incident.affectedUsers.join(', ') || 'none yet'],
          [
            'Data categories',
            incident.dataCategories.map((c) => c.replaceAll('_', ' ')).join(', ') || 'not scoped yet',
          ],
          ['Affected people', String(incident.affectedPeople)],
          ['Time zone', zone],
          ...CLOCKS.map(([field, label]) => [label, when(incident[field], zone)] as [string, string]),
          ['Closed', when(incident.closedAt, zone)],
          ['Resolution', incident.resolution ? incident.resolution.replaceAll('_', ' ') : '—'],
          ...contacts,
        ]}
      />
    </section>
  );
}

function TaskRow(props: {
  ctx: PageContext;
  incident: Detail;
  task: Detail['tasks'][number];
  manager: boolean;
  users: User[];
  names: Map<string, string>;
}) {
  const { task, incident } = props;
  const owner = task.ownerId ? (props.names.get(task.ownerId) ?? 'unknown') : '';
  return (
    <tr class={task.overdue ? 'overdue-row' : undefined}>
      <td>
        <span safe>{task.title}</span>
        {task.overdue && <strong class="overdue"> overdue</strong>}
      </td>
      <td safe>{task.phase}</td>
      <td>
        {task.dueAt ? (
          <>
            <Time value={task.dueAt} /> <Countdown dueAt={task.dueAt} />
          </>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
      <td>
        {props.manager ? (
          <form
            method="post"
            action={`/console/incidents/${incident.id}/tasks/${encodeURIComponent(task.key)}`}
            class="inline"
          >
            <CsrfField ctx={props.ctx} />
            <select name="state" aria-label={`State of ${task.title}`}>
              {taskStates.map((s) => (
                <option value={s} selected={task.state === s}>
                  {s}
                </option>
              ))}
            </select>{' '}
            <select name="ownerId" aria-label={`Owner of ${task.title}`}>
              <option value="">no owner</option>
              {props.users
                .filter((u) => u.disabledAt === null)
                .map((u) => (
                  <option value={u.id} selected={task.ownerId === u.id} safe>
                    {u.username}
                  </option>
                ))}
            </select>{' '}
            <input
              type="datetime-local"
              name="dueAt"
              aria-label={`Due (${incident.timezone}) of ${task.title}`}
              value={localInput(task.dueAt, incident.timezone)}
            />{' '}
            <button type="submit" class="small">
              Save
            </button>
          </form>
        ) : (
          <span safe>{`${task.state}${owner ? ` · ${owner}` : ''}`}</span>
        )}
      </td>
    </tr>
  );
}

function TimelineItem(props: { entry: Detail['timeline'][number]; names: Map<string, string> }) {
  const { entry } = props;
  const alertId = entry.source === 'alert_audit' ? String(entry.details.alertId ?? '') : '';
  return (
    <li>
      <Time value={entry.at} />{' '}
      <span class="mono" safe>
        {entry.kind}
      </span>{' '}
      {alertId && (
        <a href={`/console/alerts/${alertId}`} safe>
          {`alert ${alertId.slice(0, 8)}`}
        </a>
      )}{' '}
      <span class="muted" safe>
        {actorName(entry.actor, props.names)}
      </span>
    </li>
  );
}

function IncidentPage(props: {
  ctx: PageContext;
  incident: Detail;
  owner: string;
  names: Map<string, string>;
  users: User[];
}) {
  const { ctx, incident } = props;
  const manager = can(ctx, 'incident_manager') && incident.status !== 'closed';
  const analyst = can(ctx, 'analyst') && incident.status !== 'closed';
  const openTasks = incident.tasks.filter((t) => (t.state === 'todo' || t.state === 'doing') && t.dueAt);
  openTasks.sort((a, b) => Date.parse(a.dueAt!) - Date.parse(b.dueAt!));
  const next = openTasks[0];
  const days = intervalsByDay(incident.hotlineForecast.intervals);
  const jurisdictions = Object.entries(incident.affectedCounts);
  const dead = incident.deliveries.filter((d) => d.status === 'dead');
  return (
    <Layout title={incident.title} ctx={ctx} active="incidents">
      <p>
        <a href="/console/incidents">← Incidents</a>
      </p>
      <h1 safe>{incident.title}</h1>
      <DeadLetterBanner count={dead.length} where="for this incident" />
      <p class="summary">
        <LevelBadge level={incident.severity} /> <StatusBadge status={incident.status} /> · owner{' '}
        <strong safe>{props.owner}</strong> · opened <Time value={incident.createdAt} />
        {next && (
          <>
            {' '}
            · next deadline <strong safe>{next.title}</strong> in <Countdown dueAt={next.dueAt} />
          </>
        )}
      </p>
      {incident.summary && <p safe>{incident.summary}</p>}
      {manager && (
        <form method="post" action={`/console/incidents/${incident.id}/status`} class="inline card">
          <CsrfField ctx={ctx} />
          <label>
            Status{' '}
            <select name="status">
              {incidentStatuses.map((s) => (
                <option value={s} selected={incident.status === s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Resolution (when closing){' '}
            <select name="resolution">
              <option value="">—</option>
              {resolutions.map((r) => (
                <option value={r}>{r.replace('_', ' ')}</option>
              ))}
            </select>
          </label>
          <button type="submit">Update status</button>
        </form>
      )}
      {manager && <IncidentEditForm ctx={ctx} incident={incident} users={props.users} />}
      <div class="columns">
        <div>
          <IncidentFacts incident={incident} names={props.names} />
          <section class="card" aria-labelledby="checklist-h">
            <h2 id="checklist-h">Checklist</h2>
            <table class="grid" aria-label="Checklist">
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Phase</th>
                  <th scope="col">Due</th>
                  <th scope="col">{manager ? `State, owner, due (${incident.timezone})` : 'State'}</th>
                </tr>
              </thead>
              <tbody>
                {incident.tasks.map((task) => (
                  <TaskRow
                    ctx={ctx}
                    incident={incident}
                    task={task}
                    manager={manager}
                    users={props.users}
                    names={props.names}
                  />
                ))}
              </tbody>
            </table>
          </section>
          <section class="card" aria-labelledby="staffing-h">
            <h2 id="staffing-h">Hotline staffing</h2>
            <p class="muted" safe>
              {`${incident.affectedPeople} affected people · ${Math.round(incident.hotlineForecast.totalCallsLow)}–${Math.round(incident.hotlineForecast.totalCallsHigh)} calls expected · ${incident.hotline.outsourcerPool ? `outsourcer pool ${incident.hotline.outsourcerPool.agents} agents (${Math.round(incident.hotline.outsourcerPool.shrinkage * 100)} % shrinkage)` : 'no outsourcer pool set'}`}
            </p>
            {days.length === 0 ? (
              <Empty text="No calls expected yet: enter affected people per jurisdiction." />
            ) : (
              days.slice(0, 3).map((d) => <StaffingChart day={d.day} intervals={d.intervals} />)
            )}
          </section>
          <section class="card" aria-labelledby="timeline-h">
            <h2 id="timeline-h">Timeline</h2>
            <p class="muted">The incident's own history and the triage of its linked alerts, by time.</p>
            <ul class="plain trail">
              {incident.timeline.map((entry) => (
                <TimelineItem entry={entry} names={props.names} />
              ))}
            </ul>
          </section>
        </div>
        <div>
          <section class="card" aria-labelledby="deadlines-h">
            <h2 id="deadlines-h">Deadlines per jurisdiction</h2>
            {jurisdictions.length === 0 && <Empty text="No affected people recorded per jurisdiction yet." />}
            {jurisdictions.length > 0 && (
              <table class="grid" aria-label="Affected people per jurisdiction">
                <thead>
                  <tr>
                    <th scope="col">Jurisdiction</th>
                    <th scope="col">Affected</th>
                  </tr>
                </thead>
                <tbody>
                  {jurisdictions.map(([id, count]) => (
                    <tr>
                      <td safe>{jurisdictionNames().find((j) => j.id === id)?.name ?? id}</td>
                      <td class="num">{String(count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {manager && <AffectedEditor ctx={ctx} incident={incident} />}
            <ul class="plain deadlines">
              {incident.deadlines.map((d) => (
                <li>
                  <strong safe>{d.jurisdictionName}</strong> <span safe>{`→ ${d.recipient}`}</span>{' '}
                  {d.dueAt ? (
                    <>
                      <Time value={d.dueAt} /> <Countdown dueAt={d.dueAt} />
                    </>
                  ) : (
                    <span class="muted" safe>
                      {d.status.replaceAll('_', ' ')}
                    </span>
                  )}
                  <div class="muted" safe>
                    {`Clock: ${d.clock} — ${d.basis}`}
                  </div>
                  {d.condition && (
                    <div class="muted" safe>
                      {`Applies when: ${d.condition}`}
                    </div>
                  )}
                  <div>
                    Source:{' '}
                    <a href={d.source.url} rel="noopener noreferrer" target="_blank" safe>
                      {d.source.citation}
                    </a>
                  </div>
                </li>
              ))}
            </ul>
            <p class="disclaimer" role="note" safe>
              {`${incident.disclaimer} Rules reviewed ${incident.rulesReviewedAt}.`}
            </p>
          </section>
          <section class="card" aria-labelledby="alerts-h">
            <h2 id="alerts-h">Linked alerts</h2>
            {incident.alerts.length === 0 && <Empty text="No linked alerts." />}
            <ul class="plain">
              {incident.alerts.map((a) => (
                <li>
                  <LevelBadge level={a.level} />{' '}
                  <a href={`/console/alerts/${a.id}`} safe>
                    {`${a.ruleTitle} on ${a.hostname}`}
                  </a>{' '}
                  <StatusBadge status={a.status} />
                </li>
              ))}
            </ul>
            {analyst && (
              <form method="post" action={`/console/incidents/${incident.id}/alerts`} class="stack">
                <CsrfField ctx={ctx} />
                <label for="link-alerts">
                  Add alerts to this incident (alert ids, one per line or comma-separated)
                </label>
                <textarea id="link-alerts" name="alertIds" rows="2" required></textarea>
                <button type="submit">Link alerts</button>
              </form>
            )}
          </section>
          <section class="card" aria-labelledby="deliveries-h">
            <h2 id="deliveries-h">Trigger deliveries</h2>
            {incident.deliveries.length === 0 && (
              <Empty text="No notification channel received a trigger yet." />
            )}
            {incident.deliveries.length > 0 && (
              <table class="grid" aria-label="Trigger deliveries">
                <thead>
                  <tr>
                    <th scope="col">Trigger</th>
                    <th scope="col">Channel</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts</th>
                  </tr>
                </thead>
                <tbody>
                  {incident.deliveries.map((d) => (
                    <tr class={d.status === 'dead' ? 'overdue-row' : undefined}>
                      <td class="mono" safe>
                        {d.kind}
                      </td>
                      <td
                        safe
                      >{`${d.channelName} (${d.channelType})${d.channelDeleted ? ' — deleted' : ''}`}</td>
                      <td>
                        <StatusBadge status={d.status} />
                        {d.lastError && (
                          <div class="muted" safe>
                            {d.lastError}
                          </div>
                        )}
                      </td>
                      <td>
                        <span safe>{String(d.attempts)}</span>
                        <ul class="plain attempts">
                          {d.attemptLog.map((a) => (
                            <li safe>
                              {`#${a.attempt} ${a.outcome}${a.responseStatus ? ` HTTP ${a.responseStatus}` : ''}${a.durationMs !== null ? ` ${a.durationMs} ms` : ''}${a.error && a.outcome !== 'ok' ? ` — ${a.error}` : ''}`}
                            </li>
                          ))}
                        </ul>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </div>
      </div>
    </Layout>
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerIncidentPages(app: FastifyInstance, deps: ConsoleDeps): void {
  const usernames = async () => new Map((await listUsers(app.db)).map((u) => [u.id, u.username]));

  app.get(
    '/console/incidents',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    async (request, reply) => {
      const query = request.query as { status?: string; cursor?: string };
      const status = incidentStatuses.find((s) => s === query.status);
      const after = query.cursor ? decodeListCursor(query.cursor) : undefined;
      const [incidents, names, deadLetters] = await Promise.all([
        listIncidents(app.db, { status, limit: PAGE_SIZE, after }),
        usernames(),
        recentDeadLetterCount(app.db),
      ]);
      const last = incidents.at(-1);
      const nextCursor =
        incidents.length === PAGE_SIZE && last ? encodeListCursor(last.createdAt, last.id) : null;
      const next = await nextDueTasks(
        app.db,
        incidents.map((i) => i.id),
      );
      const rows: ListRow[] = incidents.map((incident) => ({
        id: incident.id,
        title: incident.title,
        severity: incident.severity,
        status: incident.status,
        owner: incident.ownerId ? (names.get(incident.ownerId) ?? '') : 'unassigned',
        createdAt: incident.createdAt,
        next: next.get(incident.id),
      }));
      return sendHtml(
        reply,
        <IncidentList
          ctx={pageContext(deps, request, reply)}
          rows={rows}
          status={status}
          nextCursor={nextCursor}
          paged={after !== undefined}
          deadLetters={deadLetters}
        />,
      );
    },
  );

  app.get(
    '/console/incidents/:id',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const incident = UUID.test(id) ? await getIncident(app.db, id) : undefined;
      if (!incident) throw new NotFoundError('incident');
      const [detail, users] = await Promise.all([incidentDetail(app.db, incident), listUsers(app.db)]);
      const names = new Map(users.map((u) => [u.id, u.username]));
      const owner = incident.ownerId ? (names.get(incident.ownerId) ?? 'unknown') : 'unassigned';
      return sendHtml(
        reply,
        <IncidentPage
          ctx={pageContext(deps, request, reply)}
          incident={detail}
          owner={owner}
          names={names}
          users={users}
        />,
      );
    },
  );

  app.post(
    '/console/incidents/:id/status',
    { preHandler: [app.requireRole('incident_manager'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = request.body as Record<string, unknown>;
      const status = formText(body.status);
      const resolution = formText(body.resolution) || undefined;
      const result = await callApi(app, request, {
        method: 'PATCH',
        url: `/api/v1/incidents/${encodeURIComponent(id)}`,
        body: { status, ...(resolution && status === 'closed' && { resolution }) },
      });
      const here = `/console/incidents/${encodeURIComponent(id)}`;
      if (!result.ok)
        return redirectWith(deps, reply, here, apiErrorMessage(result.body, 'Status not changed.'), 'error');
      return redirectWith(deps, reply, here, `Status is now ${status}.`);
    },
  );

  app.post(
    '/console/incidents/:id/affected',
    { preHandler: [app.requireRole('incident_manager'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = request.body as Record<string, unknown>;
      const affectedCounts: Record<string, number> = {};
      for (const j of jurisdictionNames()) {
        const raw = formText(body[`affected.${j.id}`])?.trim();
        if (!raw) continue;
        const count = Number(raw);
        if (!Number.isInteger(count) || count < 0) {
          return redirectWith(
            deps,
            reply,
            `/console/incidents/${encodeURIComponent(id)}`,
            `${j.name}: enter a whole number.`,
            'error',
          );
        }
        if (count > 0) affectedCounts[j.id] = count;
      }
      const result = await callApi(app, request, {
        method: 'PATCH',
        url: `/api/v1/incidents/${encodeURIComponent(id)}`,
        body: { affectedCounts },
      });
      const here = `/console/incidents/${encodeURIComponent(id)}`;
      if (!result.ok)
        return redirectWith(deps, reply, here, apiErrorMessage(result.body, 'Not saved.'), 'error');
      return redirectWith(deps, reply, here, 'Affected people saved; deadlines and checklist recomputed.');
    },
  );

  app.post(
    '/console/incidents/:id/tasks/:key',
    { preHandler: [app.requireRole('incident_manager'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const { id, key } = request.params as { id: string; key: string };
      const body = request.body as Record<string, unknown>;
      const here = `/console/incidents/${encodeURIComponent(id)}`;
      const incident = UUID.test(id) ? await getIncident(app.db, id) : undefined;
      if (!incident) throw new NotFoundError('incident');
      const patch: Record<string, unknown> = { state: formText(body.state) };
      if ('ownerId' in body) patch.ownerId = formText(body.ownerId) || null;
      if ('dueAt' in body) {
        const raw = formText(body.dueAt)?.trim() ?? '';
        const task = (await incidentDetail(app.db, incident)).tasks.find((t) => t.key === key);
        // Unchanged at the minute precision the form shows: keep the stored due time.
        if (task && raw !== localInput(task.dueAt, incident.timezone)) {
          const due = raw
            ? DateTime.fromFormat(raw, "yyyy-LL-dd'T'HH:mm", { zone: incident.timezone })
            : null;
          if (due && !due.isValid)
            return redirectWith(deps, reply, here, 'Due: enter a date and time.', 'error');
          patch.dueAt = due ? due.toUTC().toISO() : null;
        }
      }
      const result = await callApi(app, request, {
        method: 'PATCH',
        url: `/api/v1/incidents/${encodeURIComponent(id)}/tasks/${encodeURIComponent(key)}`,
        body: patch,
      });
      if (!result.ok)
        return redirectWith(deps, reply, here, apiErrorMessage(result.body, 'Task not changed.'), 'error');
      return redirectWith(deps, reply, here, 'Task updated.');
    },
  );

  app.post(
    '/console/incidents/:id/edit',
    { preHandler: [app.requireRole('incident_manager'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const here = `/console/incidents/${encodeURIComponent(id)}`;
      const incident = UUID.test(id) ? await getIncident(app.db, id) : undefined;
      if (!incident) throw new NotFoundError('incident');
      let patch: Record<string, unknown>;
      try {
        patch = incidentPatchFromForm(request.body as Record<string, unknown>, incident);
      } catch (err) {
        if (err instanceof FormInputError) return redirectWith(deps, reply, here, err.message, 'error');
        throw err;
      }
      if (Object.keys(patch).length === 0) return redirectWith(deps, reply, here, 'Nothing changed.');
      const result = await callApi(app, request, {
        method: 'PATCH',
        url: `/api/v1/incidents/${encodeURIComponent(id)}`,
        body: patch,
      });
      if (!result.ok)
        return redirectWith(deps, reply, here, apiErrorMessage(result.body, 'Not saved.'), 'error');
      return redirectWith(deps, reply, here, `Saved: ${Object.keys(patch).join(', ')}.`);
    },
  );

  app.post(
    '/console/incidents/:id/alerts',
    { preHandler: [app.requireRole('analyst'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const here = `/console/incidents/${encodeURIComponent(id)}`;
      const raw = formList((request.body as Record<string, unknown>).alertIds).join('\n');
      const alertIds = [...new Set(raw.split(/[\s,]+/).filter(Boolean))];
      const bad = alertIds.filter((a) => !UUID.test(a));
      if (alertIds.length === 0 || bad.length > 0)
        return redirectWith(
          deps,
          reply,
          here,
          `Not an alert id: ${bad.join(', ') || '(none given)'}`,
          'error',
        );
      const result = await callApi<{ linked: string[] }>(app, request, {
        method: 'POST',
        url: `/api/v1/incidents/${encodeURIComponent(id)}/alerts`,
        body: { alertIds },
      });
      if (!result.ok)
        return redirectWith(deps, reply, here, apiErrorMessage(result.body, 'Alerts not linked.'), 'error');
      return redirectWith(deps, reply, here, `${result.body.linked.length} alert(s) linked.`);
    },
  );
}
