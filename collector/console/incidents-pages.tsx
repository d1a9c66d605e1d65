// Incidents: the list (status, severity, owner, next deadline counting down) and the detail page
// (deadlines per jurisdiction, checklist, hotline staffing chart, linked alerts, timeline, trigger
// deliveries). Reads use the incidents view; changes go through the incidents API.
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors.js';
import { loadJurisdictions } from '../incidents/deadlines.js';
import {
  getIncident,
  incidentStatuses,
  listIncidents,
  resolutions,
  taskStates,
} from '../incidents/repository.js';
import { incidentDetail } from '../incidents/view.js';
import { listUsers } from '../users/repository.js';
import { apiErrorMessage, callApi } from './api.js';
import { Empty, LevelBadge, StatusBadge, Time } from './components.js';
import { type ConsoleDeps, formText, pageContext, redirectWith, sendHtml } from './context.js';
import { formatRemaining, isoOf } from './format.js';
import { CsrfField, can, Layout, type PageContext } from './layout.js';
import { nextDueTasks } from './queries.js';
import { intervalsByDay, StaffingChart } from './staffing-chart.js';

type Detail = Awaited<ReturnType<typeof incidentDetail>>;

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

function IncidentList(props: { ctx: PageContext; rows: ListRow[]; status?: string }) {
  return (
    <Layout title="Incidents" ctx={props.ctx} active="incidents">
      <h1>Incidents</h1>
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

function IncidentPage(props: {
  ctx: PageContext;
  incident: Detail;
  owner: string;
  names: Map<string, string>;
}) {
  const { ctx, incident } = props;
  const manager = can(ctx, 'incident_manager') && incident.status !== 'closed';
  const openTasks = incident.tasks.filter((t) => (t.state === 'todo' || t.state === 'doing') && t.dueAt);
  openTasks.sort((a, b) => Date.parse(a.dueAt!) - Date.parse(b.dueAt!));
  const next = openTasks[0];
  const days = intervalsByDay(incident.hotlineForecast.intervals);
  const jurisdictions = Object.entries(incident.affectedCounts);
  return (
    <Layout title={incident.title} ctx={ctx} active="incidents">
      <p>
        <a href="/console/incidents">← Incidents</a>
      </p>
      <h1 safe>{incident.title}</h1>
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
      <div class="columns">
        <div>
          <section class="card" aria-labelledby="checklist-h">
            <h2 id="checklist-h">Checklist</h2>
            <table class="grid" aria-label="Checklist">
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Phase</th>
                  <th scope="col">Due</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {incident.tasks.map((task) => (
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
                      {manager ? (
                        <form
                          method="post"
                          action={`/console/incidents/${incident.id}/tasks/${encodeURIComponent(task.key)}`}
                          class="inline"
                        >
                          <CsrfField ctx={ctx} />
                          <select name="state" aria-label={`State of ${task.title}`}>
                            {taskStates.map((s) => (
                              <option value={s} selected={task.state === s}>
                                {s}
                              </option>
                            ))}
                          </select>
                          <button type="submit" class="small">
                            Save
                          </button>
                        </form>
                      ) : (
                        <span safe>{task.state}</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section class="card" aria-labelledby="staffing-h">
            <h2 id="staffing-h">Hotline staffing</h2>
            <p class="muted" safe>
              {`${incident.affectedPeople} affected people · ${incident.hotlineForecast.totalCallsLow}–${incident.hotlineForecast.totalCallsHigh} calls expected`}
            </p>
            {days.length === 0 ? (
              <Empty text="No calls expected yet: enter affected people per jurisdiction." />
            ) : (
              days.slice(0, 3).map((d) => <StaffingChart day={d.day} intervals={d.intervals} />)
            )}
          </section>
          <section class="card" aria-labelledby="timeline-h">
            <h2 id="timeline-h">Timeline</h2>
            <ul class="plain trail">
              {incident.timeline.map((entry) => (
                <li>
                  <Time value={entry.at} />{' '}
                  <span class="mono" safe>
                    {entry.kind}
                  </span>{' '}
                  <span class="muted" safe>
                    {actorName(entry.actor, props.names)}
                  </span>
                </li>
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
                      <td safe>
                        {incident.deadlines.find((d) => d.jurisdictionId === id)?.jurisdictionName ?? id}
                      </td>
                      <td class="num">{String(count)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {manager && <AffectedEditor ctx={ctx} incident={incident} />}
            <ul class="plain">
              {incident.deadlines.map((d) => (
                <li>
                  <strong safe>{d.jurisdictionName}</strong> <span safe>{`→ ${d.recipient}`}</span>{' '}
                  {d.dueAt ? (
                    <Countdown dueAt={d.dueAt} />
                  ) : (
                    <span class="muted" safe>
                      {d.status.replaceAll('_', ' ')}
                    </span>
                  )}
                </li>
              ))}
            </ul>
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
                    <tr>
                      <td class="mono" safe>
                        {d.kind}
                      </td>
                      <td safe>{`${d.channelName} (${d.channelType})`}</td>
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
                              {`#${a.attempt} ${a.outcome}${a.responseStatus ? ` HTTP ${a.responseStatus}` : ''}${a.durationMs !== null ? ` ${a.durationMs} ms` : ''}`}
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
      const raw = (request.query as { status?: string }).status;
      const status = incidentStatuses.find((s) => s === raw);
      const [incidents, names] = await Promise.all([
        listIncidents(app.db, { status, limit: 100 }),
        usernames(),
      ]);
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
        <IncidentList ctx={pageContext(deps, request, reply)} rows={rows} status={status} />,
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
      const [detail, names] = await Promise.all([incidentDetail(app.db, incident), usernames()]);
      const owner = incident.ownerId ? (names.get(incident.ownerId) ?? 'unknown') : 'unassigned';
      return sendHtml(
        reply,
        <IncidentPage
          ctx={pageContext(deps, request, reply)}
          incident={detail}
          owner={owner}
          names={names}
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
      const state = formText((request.body as Record<string, unknown>).state);
      const result = await callApi(app, request, {
        method: 'PATCH',
        url: `/api/v1/incidents/${encodeURIComponent(id)}/tasks/${encodeURIComponent(key)}`,
        body: { state },
      });
      const here = `/console/incidents/${encodeURIComponent(id)}`;
      if (!result.ok)
        return redirectWith(deps, reply, here, apiErrorMessage(result.body, 'Task not changed.'), 'error');
      return redirectWith(deps, reply, here, 'Task updated.');
    },
  );
}
