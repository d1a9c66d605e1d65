// The alert queue (filters and sorting in the URL, live rows, bulk actions, j/k/enter) and the
// alert detail page (evidence, actions, comments, audit trail). Changes go through the alert
// triage functions, which write their audit records in the same transaction.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeCursor, encodeCursor } from '../alerts/cursor.js';
import { type ExceptionScope, exceptionScopes } from '../alerts/exceptions.js';
import {
  type Alert,
  type AlertSort,
  type AlertStatus,
  alertSorts,
  alertStatuses,
  type Level,
  levels,
  listAlerts,
  listComments,
} from '../alerts/repository.js';
import {
  approveProcess,
  assign,
  bulk,
  comment,
  createExceptionFromAlert,
  readAlertEvidence,
  transition,
} from '../alerts/triage.js';
import { actorOf, listAudit, summarizeAuditAction } from '../audit/repository.js';
import { roleAllows } from '../auth/roles.js';
import { UNEXPECTED_PROCESS_RULE } from '../detection/baseline.js';
import { BadRequestError } from '../errors.js';
import { alertsByIds } from '../incidents/repository.js';
import { listUsers, type User } from '../users/repository.js';
import { AlertDetailPage } from './alert-detail.js';
import { AlertIncidentLink, withIncident, withIncidents } from './alert-incident.js';
import { apiErrorMessage, callApi } from './api.js';
import { LevelBadge, StatusBadge, Time } from './components.js';
import {
  type ConsoleDeps,
  formList,
  formText,
  pageContext,
  redirectWith,
  safeReturn,
  sendHtml,
} from './context.js';
import { asString } from './format.js';
import { CsrfField, can, Layout, type PageContext } from './layout.js';
import { processAncestors, processOfEvidence } from './queries.js';

const PAGE_SIZE = 50;
/** The htmx event console.js fires on #alert-rows when the live stream reports alert changes. */
const LIVE_EVENT = 'vigil-alerts';
/** Written by every view of an alert's evidence (readAlertEvidence). */
const EVIDENCE_READ = 'alert.evidence_read';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface QueueQuery {
  status?: AlertStatus;
  level?: Level;
  rule?: string;
  assignee?: string;
  q?: string;
  sort: AlertSort;
  order: 'asc' | 'desc';
  cursor?: string;
}

const pick = <T extends string>(allowed: readonly T[], value: unknown): T | undefined =>
  allowed.includes(value as T) ? (value as T) : undefined;

/** Reads the queue's URL; unknown values are ignored rather than refused. */
export function parseQueueQuery(raw: Record<string, unknown>): QueueQuery {
  const text = (v: unknown) =>
    typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, 200) : undefined;
  return {
    status: pick(alertStatuses, raw.status),
    level: pick(levels, raw.level),
    rule: text(raw.rule),
    assignee: typeof raw.assignee === 'string' && UUID.test(raw.assignee) ? raw.assignee : undefined,
    q: text(raw.q),
    sort: pick(alertSorts, raw.sort) ?? 'last_seen',
    order: raw.order === 'asc' ? 'asc' : 'desc',
    cursor: text(raw.cursor),
  };
}

export function queueSearch(query: QueueQuery, overrides: Partial<QueueQuery> = {}): string {
  const merged = { ...query, ...overrides };
  const params = new URLSearchParams();
  for (const key of ['status', 'level', 'rule', 'assignee', 'q', 'sort', 'order', 'cursor'] as const) {
    const value = merged[key];
    if (value === undefined) continue;
    if (key === 'sort' && value === 'last_seen') continue;
    if (key === 'order' && value === 'desc') continue;
    params.set(key, value);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function loadQueue(app: FastifyInstance, query: QueueQuery) {
  const page = await listAlerts(app.db, {
    status: query.status,
    level: query.level,
    ruleId: query.rule,
    assigneeId: query.assignee,
    text: query.q,
    sort: query.sort,
    order: query.order,
    limit: PAGE_SIZE,
    after: query.cursor ? decodeCursor(query.cursor, query.sort, query.order) : undefined,
  });
  return { ...page, alerts: await withIncidents(app.db, page.alerts) };
}

const evidenceUser = (alert: Alert) => asString(alert.evidence.user) ?? '';

function QueueRows(props: { alerts: Alert[]; query: QueueQuery; selectable: boolean }) {
  // The first page refreshes when the live stream reports new or bumped alerts (console.js), and
  // every 30 s in case the stream is down; later pages stay still while being read.
  return (
    <tbody
      id="alert-rows"
      hx-get={`/console/alerts/rows${queueSearch(props.query)}`}
      hx-trigger={props.query.cursor ? undefined : `${LIVE_EVENT}, every 30s`}
      data-live={props.query.cursor ? undefined : '/console/alerts/events'}
      hx-swap="outerHTML"
    >
      {props.alerts.length === 0 && (
        <tr>
          <td colspan={props.selectable ? '10' : '9'} class="muted">
            No alerts match.
          </td>
        </tr>
      )}
      {props.alerts.map((alert) => (
        <tr data-id={alert.id} class={`row-${alert.status}`}>
          {props.selectable && (
            <td>
              <input
                type="checkbox"
                name="ids"
                value={alert.id}
                form="bulk-form"
                aria-label={`Select alert ${alert.ruleTitle} on ${alert.hostname}`}
              />
            </td>
          )}
          <td>
            <LevelBadge level={alert.level} />
          </td>
          <td>
            <a href={`/console/alerts/${alert.id}`} class="row-link" safe>
              {alert.ruleTitle}
            </a>
          </td>
          {alert.agentId === null ? (
            <td class="muted" title="Raised by the collector itself, not on a workstation" safe>
              {alert.hostname}
            </td>
          ) : (
            <td safe>{alert.hostname}</td>
          )}
          <td safe>{evidenceUser(alert)}</td>
          <td>
            <Time value={alert.firstSeen} />
          </td>
          <td>
            <Time value={alert.lastSeen} />
          </td>
          <td class="num">{String(alert.count)}</td>
          <td>
            <StatusBadge status={alert.status} /> <AlertIncidentLink alert={alert} />
          </td>
          <td safe>{alert.assignee?.username ?? ''}</td>
        </tr>
      ))}
    </tbody>
  );
}

const assignableUsers = (users: User[]) =>
  users.filter((u) => u.disabledAt === null && roleAllows(u.role, 'analyst'));

function SortHeader(props: { query: QueueQuery; sort: AlertSort; label: string }) {
  const active = props.query.sort === props.sort;
  const nextOrder = active && props.query.order === 'desc' ? 'asc' : 'desc';
  const href = `/console/alerts${queueSearch(props.query, { sort: props.sort, order: nextOrder, cursor: undefined })}`;
  return (
    <th
      scope="col"
      aria-sort={active ? (props.query.order === 'desc' ? 'descending' : 'ascending') : undefined}
    >
      <a href={href} safe>
        {`${props.label}${active ? (props.query.order === 'desc' ? ' ↓' : ' ↑') : ''}`}
      </a>
    </th>
  );
}

function QueuePage(props: {
  ctx: PageContext;
  query: QueueQuery;
  alerts: Alert[];
  nextCursor: string | null;
  users: User[];
  rules: Array<{ id: string; title: string }>;
}) {
  const { ctx, query } = props;
  const analyst = can(ctx, 'analyst');
  const here = `/console/alerts${queueSearch(query)}`;
  return (
    <Layout title="Alerts" ctx={ctx} active="alerts">
      <h1>Alerts</h1>
      <form method="get" action="/console/alerts" class="filters" aria-label="Filter alerts">
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {alertStatuses.map((s) => (
              <option value={s} selected={query.status === s}>
                {s.replace('_', ' ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          Level
          <select name="level">
            <option value="">any</option>
            {levels.map((l) => (
              <option value={l} selected={query.level === l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Rule
          <select name="rule">
            <option value="">any</option>
            {props.rules.map((r) => (
              <option value={r.id} selected={query.rule === r.id} safe>
                {r.title}
              </option>
            ))}
          </select>
        </label>
        <label>
          Assignee
          <select name="assignee">
            <option value="">anyone</option>
            {props.users.map((u) => (
              <option value={u.id} selected={query.assignee === u.id} safe>
                {u.username}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input type="search" name="q" value={query.q ?? ''} placeholder="rule, workstation, entity" />
        </label>
        {query.sort !== 'last_seen' && <input type="hidden" name="sort" value={query.sort} />}
        {query.order !== 'desc' && <input type="hidden" name="order" value={query.order} />}
        <button type="submit">Apply</button>
        <a href="/console/alerts">Clear</a>
      </form>
      {analyst && (
        <form
          method="post"
          action="/console/alerts/bulk"
          id="bulk-form"
          class="bulk"
          aria-label="Act on selected alerts"
        >
          <CsrfField ctx={ctx} />
          <input type="hidden" name="return" value={here} />
          <span class="muted" id="selected-count">
            Select alerts (x), then:
          </span>
          <button type="submit" name="action" value="acknowledge">
            Acknowledge
          </button>
          <label>
            Assign to
            <select name="assignee">
              <option value="">nobody</option>
              {assignableUsers(props.users).map((u) => (
                <option value={u.id} safe>
                  {u.username}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" name="action" value="assign">
            Assign
          </button>
          <label>
            Incident title
            <input name="title" placeholder="from the first alert" maxlength="300" />
          </label>
          <button type="submit" name="action" value="incident">
            Open incident
          </button>
        </form>
      )}
      <p class="hint muted">
        Keys: j / k move, Enter opens{analyst ? ', x selects' : ''}. New alerts appear on their own.{' '}
        <span id="live-status" aria-live="polite" aria-atomic="true"></span>
      </p>
      <table class="grid queue" aria-label="Alerts">
        <thead>
          <tr>
            {analyst && (
              <th scope="col">
                <span class="sr-only">Select</span>
              </th>
            )}
            <SortHeader query={query} sort="level" label="Level" />
            <th scope="col">Rule</th>
            <SortHeader query={query} sort="workstation" label="Workstation" />
            <th scope="col">User</th>
            <SortHeader query={query} sort="first_seen" label="First seen" />
            <SortHeader query={query} sort="last_seen" label="Last seen" />
            <SortHeader query={query} sort="count" label="Count" />
            <SortHeader query={query} sort="status" label="Status" />
            <SortHeader query={query} sort="assignee" label="Assignee" />
          </tr>
        </thead>
        <QueueRows alerts={props.alerts} query={query} selectable={analyst} />
      </table>
      <nav class="pager" aria-label="Pages">
        {query.cursor && <a href={`/console/alerts${queueSearch(query, { cursor: undefined })}`}>Newest</a>}
        {props.nextCursor && (
          <a href={`/console/alerts${queueSearch(query, { cursor: props.nextCursor })}`}>Next page</a>
        )}
      </nav>
    </Layout>
  );
}

const ruleOptions = (app: FastifyInstance) =>
  app.detection.rules
    .map((r) => ({ id: r.id, title: r.title }))
    .sort((a, b) => a.title.localeCompare(b.title));

function describeOutcomes(
  verb: string,
  outcomes: Array<{ ok: boolean; error?: { message: string } }>,
): string {
  const done = outcomes.filter((o) => o.ok).length;
  const skipped = outcomes.filter((o) => !o.ok);
  const reasons = [...new Set(skipped.map((o) => o.error?.message ?? 'refused'))].join('; ');
  return `${done} alert${done === 1 ? '' : 's'} ${verb}${skipped.length ? `; ${skipped.length} skipped (${reasons})` : ''}.`;
}

const levelRank = (level: Level) => levels.indexOf(level);

export function registerAlertPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get(
    '/console/alerts',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    async (request, reply) => {
      const query = parseQueueQuery(request.query as Record<string, unknown>);
      const [{ alerts, next }, users] = await Promise.all([loadQueue(app, query), listUsers(app.db)]);
      const nextCursor = next ? encodeCursor(query.sort, query.order, next) : null;
      return sendHtml(
        reply,
        <QueuePage
          ctx={pageContext(deps, request, reply)}
          query={query}
          alerts={alerts}
          nextCursor={nextCursor}
          users={users}
          rules={ruleOptions(app)}
        />,
      );
    },
  );

  app.get(
    '/console/alerts/rows',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    async (request, reply) => {
      const query = parseQueueQuery(request.query as Record<string, unknown>);
      const { alerts } = await loadQueue(app, query);
      return sendHtml(
        reply,
        <QueueRows
          alerts={alerts}
          query={query}
          selectable={can({ principal: request.principal, csrf: '' }, 'analyst')}
        />,
      );
    },
  );

  app.post(
    '/console/alerts/bulk',
    { preHandler: [app.requireRole('analyst'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      const back = safeReturn(body.return, '/console/alerts');
      const ids = formList(body.ids).filter((id) => UUID.test(id));
      if (ids.length === 0)
        return redirectWith(deps, reply, back, 'Select at least one alert first.', 'error');
      const action = formText(body.action);
      const actor = actorOf(request);
      if (action === 'acknowledge') {
        const outcomes = await bulk(app.db, actor, ids, { action: 'acknowledge' });
        return redirectWith(
          deps,
          reply,
          back,
          describeOutcomes('acknowledged', outcomes),
          outcomes.some((o) => o.ok) ? 'ok' : 'error',
        );
      }
      if (action === 'assign') {
        const assignee = formText(body.assignee);
        const userId = assignee && UUID.test(assignee) ? assignee : null;
        const outcomes = await bulk(app.db, actor, ids, { action: 'assign', userId });
        return redirectWith(
          deps,
          reply,
          back,
          describeOutcomes(userId ? 'assigned' : 'unassigned', outcomes),
        );
      }
      if (action === 'incident') return openIncidentFrom(request, ids, formText(body.title));
      throw new BadRequestError('unknown action', undefined, 'unknown_action');

      async function openIncidentFrom(req: FastifyRequest, alertIds: string[], title: string | undefined) {
        const facts = await alertsByIds(app.db, alertIds);
        const first = facts[0];
        if (!first) return redirectWith(deps, reply, back, 'Those alerts no longer exist.', 'error');
        const severity = facts.reduce<Level>(
          (top, a) => (levelRank(a.level) > levelRank(top) ? a.level : top),
          'low',
        );
        const result = await callApi<{ id: string }>(app, req, {
          method: 'POST',
          url: '/api/v1/incidents',
          body: {
            title: title?.trim() || `${first.ruleTitle} on ${first.hostname}`.slice(0, 300),
            severity,
            alertIds,
          },
        });
        if (!result.ok)
          return redirectWith(
            deps,
            reply,
            back,
            apiErrorMessage(result.body, 'The incident was not opened.'),
            'error',
          );
        return redirectWith(deps, reply, `/console/incidents/${result.body.id}`, 'Incident opened.');
      }
    },
  );

  app.get(
    '/console/alerts/:id',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        hide: true,
        params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const detail = await readAlertEvidence(app.db, actorOf(request), id);
      const latest = detail.events[0];
      // Evidence whose events were dropped by retention still names its pid and last time.
      const evidence = latest ?? {
        type: asString(detail.evidence.eventType) ?? '',
        time: detail.lastSeen,
        data: detail.evidence,
      };
      const agentId = detail.agentId;
      // A collector alert (no agent) has no process chain and no workstation to list alerts of.
      const processChain = async () => {
        const process = agentId ? await processOfEvidence(app.db, agentId, evidence) : undefined;
        return {
          process,
          ancestors: agentId && process ? await processAncestors(app.db, agentId, process) : [],
        };
      };
      const [comments, sameAgent, trail, views, users, { process, ancestors }] = await Promise.all([
        listComments(app.db, id),
        agentId ? listAlerts(app.db, { agentId, limit: 11 }) : { alerts: [], next: null },
        // The trail shows changes; evidence reads (one per view) are summarised, not listed.
        listAudit(app.db, {
          targetType: 'alert',
          targetId: id,
          excludeActions: [EVIDENCE_READ],
          limit: 50,
        }),
        summarizeAuditAction(app.db, 'alert', id, EVIDENCE_READ),
        listUsers(app.db),
        processChain(),
      ]);
      return sendHtml(
        reply,
        <AlertDetailPage
          ctx={pageContext(deps, request, reply)}
          alert={await withIncident(app.db, detail)}
          events={detail.events}
          eventCount={detail.eventCount}
          process={process}
          ancestors={ancestors}
          comments={comments}
          others={sameAgent.alerts.filter((a) => a.id !== id).slice(0, 10)}
          trail={trail}
          views={views}
          assignees={assignableUsers(users)}
          approvable={detail.ruleId === UNEXPECTED_PROCESS_RULE.id}
        />,
      );
    },
  );

  app.post(
    '/console/alerts/:id/act',
    {
      preHandler: [app.requireRole('analyst'), app.consoleCsrf],
      schema: {
        hide: true,
        params: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = request.body as Record<string, unknown>;
      const here = `/console/alerts/${id}`;
      const actor = actorOf(request);
      const reason = formText(body.reason)?.trim() ?? '';
      const op = formText(body.op);
      try {
        switch (op) {
          case 'acknowledge':
            await transition(app.db, actor, id, 'acknowledged');
            return redirectWith(deps, reply, here, 'Alert acknowledged.');
          case 'resolve':
          case 'false_positive':
            await transition(app.db, actor, id, op === 'resolve' ? 'resolved' : 'false_positive', reason);
            return redirectWith(
              deps,
              reply,
              here,
              op === 'resolve' ? 'Alert resolved.' : 'Marked as false positive.',
            );
          case 'assign': {
            const assignee = formText(body.assignee);
            await assign(app.db, actor, id, assignee && UUID.test(assignee) ? assignee : null);
            return redirectWith(deps, reply, here, 'Assignee changed.');
          }
          case 'comment': {
            const text = formText(body.text)?.trim() ?? '';
            if (!text) return redirectWith(deps, reply, here, 'Write a comment first.', 'error');
            await comment(app.db, { ...actor, userId: request.principal!.userId }, id, text.slice(0, 10_000));
            return redirectWith(deps, reply, here, 'Comment added.');
          }
          case 'exception': {
            const scope = (exceptionScopes as string[]).includes(formText(body.scope) ?? '')
              ? (formText(body.scope) as ExceptionScope)
              : 'agent';
            if (!reason) return redirectWith(deps, reply, here, 'An exception needs a reason.', 'error');
            const alert = (await alertsByIds(app.db, [id]))[0];
            const fields: Record<string, string> = {};
            for (const key of formList(body.field)) {
              const value = asString(alert?.evidence[key]);
              if (value !== undefined) fields[key] = value;
            }
            await createExceptionFromAlert(app.db, { ...actor, userId: request.principal!.userId }, id, {
              scope,
              fields,
              reason,
              expiresAt: null,
            });
            return redirectWith(deps, reply, here, `Exception created (${scope} scope).`);
          }
          case 'approve':
            if (!reason) return redirectWith(deps, reply, here, 'Approving needs a reason.', 'error');
            await approveProcess(app.db, actor, id, reason);
            return redirectWith(deps, reply, here, 'Executable approved for the group; alert resolved.');
          default:
            throw new BadRequestError('unknown action', undefined, 'unknown_action');
        }
      } catch (err) {
        const e = err as { statusCode?: number; message: string };
        if (e.statusCode && e.statusCode < 500 && e.statusCode !== 404) {
          return redirectWith(deps, reply, here, e.message, 'error');
        }
        throw err;
      }
    },
  );
}
