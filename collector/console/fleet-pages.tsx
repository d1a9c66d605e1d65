// Fleet: every agent with group, OS, version, presence, last seen, sensor health and spool depth;
// each group's policy with an editor (admins) that goes through the fleet API, which validates
// the policy and pushes it to the group's connected agents.
import type { FastifyInstance } from 'fastify';
import type { Policy } from '../../shared/protocol.js';
import { shippedWebCategories } from '../../shared/web-categories.js';
import { type GroupSummary, listGroups } from '../agents/repository.js';
import { apiErrorMessage, callApi } from './api.js';
import { Time } from './components.js';
import { type ConsoleDeps, formList, formText, pageContext, redirectWith, sendHtml } from './context.js';
import { CsrfField, can, Layout, type PageContext } from './layout.js';
import { type FleetAgent, type FleetFilter, fleetAgents, type Presence, presences } from './queries.js';

const SENSORS = ['process', 'capture', 'captureFiles', 'web'] as const;
const PRIVACY = ['minimal', 'standard', 'full'] as const;
const FLEET_PAGE = 100;
/** The shipped web categories, in the list's order. */
const SHIPPED_CATEGORIES = [...new Set(shippedWebCategories().values())];

/** Every category a policy can monitor: the shipped ones, then any its extra domains define. */
const categoriesFor = (p: Policy) => [
  ...new Set([...SHIPPED_CATEGORIES, ...Object.values(p.web.extraDomains ?? {}), ...p.web.categories]),
];

function osText(agent: FleetAgent): string {
  const os = agent.os as { distro?: unknown; release?: unknown; platform?: unknown };
  const name = [os.distro, os.release].filter((v) => typeof v === 'string' && v).join(' ');
  return name || agent.platform;
}

function Health(props: { agent: FleetAgent }) {
  const sensors = Object.entries(props.agent.health?.sensors ?? {});
  if (sensors.length === 0) return <span class="muted">not reported</span>;
  return (
    <ul class="plain sensors">
      {sensors.map(([name, s]) => (
        <li class={`sensor-${s.state}`} title={s.reason ?? ''} safe>
          {`${name}: ${s.state}`}
        </li>
      ))}
    </ul>
  );
}

function PolicyEditor(props: { ctx: PageContext; group: GroupSummary }) {
  const { group, ctx } = props;
  const p = group.policy;
  const id = (field: string) => `policy-${group.id}-${field}`;
  return (
    <form
      method="post"
      action={`/console/fleet/groups/${encodeURIComponent(group.id)}/policy`}
      class="stack policy"
    >
      <CsrfField ctx={ctx} />
      <label for={id('scan')}>Scan interval (ms)</label>
      <input
        id={id('scan')}
        name="scanIntervalMs"
        type="number"
        min="200"
        max="3600000"
        value={String(p.scanIntervalMs)}
      />
      <label for={id('heartbeat')}>Heartbeat interval (ms)</label>
      <input
        id={id('heartbeat')}
        name="heartbeatIntervalMs"
        type="number"
        min="1000"
        max="600000"
        value={String(p.heartbeatIntervalMs)}
      />
      <fieldset>
        <legend>Sensors</legend>
        {SENSORS.map((s) => (
          <label>
            <input type="checkbox" name="sensors" value={s} checked={p.sensors[s]} /> {s}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Web categories reported</legend>
        {categoriesFor(p).map((c) => (
          <label>
            <input type="checkbox" name="webCategories" value={c} checked={p.web.categories.includes(c)} />{' '}
            <span safe>{c.replace('_', ' ')}</span>
          </label>
        ))}
      </fieldset>
      <label for={id('privacy')}>Privacy level</label>
      <select id={id('privacy')} name="privacyLevel">
        {PRIVACY.map((level) => (
          <option value={level} selected={p.privacyLevel === level}>
            {level}
          </option>
        ))}
      </select>
      <label for={id('domains')}>Allowed web domains (one per line)</label>
      <textarea id={id('domains')} name="allowedDomains" rows="3" safe>
        {p.web.allowedDomains.join('\n')}
      </textarea>
      <label for={id('folders')}>Extra capture file folders (one per line)</label>
      <textarea id={id('folders')} name="captureFileFolders" rows="2" safe>
        {p.captureFileFolders.join('\n')}
      </textarea>
      <button type="submit">Save and push policy</button>
    </form>
  );
}

export interface FleetQuery {
  group?: string;
  presence?: Presence;
  q?: string;
  offset: number;
}

/** Reads the fleet page's URL; unknown values are ignored. */
export function parseFleetQuery(raw: Record<string, unknown>): FleetQuery {
  const text = (v: unknown) =>
    typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, 200) : undefined;
  const offset = Number(raw.offset);
  return {
    group: text(raw.group),
    presence: presences.find((p) => p === raw.presence),
    q: text(raw.q),
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  };
}

function fleetSearch(query: FleetQuery, offset: number): string {
  const params = new URLSearchParams();
  if (query.group) params.set('group', query.group);
  if (query.presence) params.set('presence', query.presence);
  if (query.q) params.set('q', query.q);
  if (offset > 0) params.set('offset', String(offset));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function FleetPage(props: {
  ctx: PageContext;
  agents: FleetAgent[];
  total: number;
  query: FleetQuery;
  groups: GroupSummary[];
}) {
  const admin = can(props.ctx, 'admin');
  const { query, total } = props;
  const from = props.agents.length ? query.offset + 1 : 0;
  const to = query.offset + props.agents.length;
  const filtered = query.group !== undefined || query.presence !== undefined || query.q !== undefined;
  return (
    <Layout title="Fleet" ctx={props.ctx} active="fleet">
      <h1>Fleet</h1>
      <form method="get" action="/console/fleet" class="filters" aria-label="Filter agents">
        <label>
          Group
          <select name="group">
            <option value="">any</option>
            {props.groups.map((g) => (
              <option value={g.id} selected={query.group === g.id} safe>
                {g.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Presence
          <select name="presence">
            <option value="">any</option>
            {presences.map((p) => (
              <option value={p} selected={query.presence === p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input type="search" name="q" value={query.q ?? ''} placeholder="workstation, OS, version, id" />
        </label>
        <button type="submit">Apply</button>
        <a href="/console/fleet">Clear</a>
      </form>
      <p class="muted" id="fleet-count" safe>
        {total === 0
          ? filtered
            ? 'No agents match.'
            : 'No agents enrolled yet.'
          : `Showing ${from}–${to} of ${total} agent${total === 1 ? '' : 's'}${filtered ? ' matching' : ''}.`}
      </p>
      {props.agents.length > 0 && (
        <table class="grid" aria-label="Agents" aria-describedby="fleet-count">
          <thead>
            <tr>
              <th scope="col">Workstation</th>
              <th scope="col">Group</th>
              <th scope="col">OS</th>
              <th scope="col">Version</th>
              <th scope="col">Presence</th>
              <th scope="col">Last seen</th>
              <th scope="col">Sensors</th>
              <th scope="col">Spool</th>
            </tr>
          </thead>
          <tbody>
            {props.agents.map((agent) => (
              <tr>
                <td safe>{agent.hostname}</td>
                <td safe>{agent.groupId}</td>
                <td safe>{osText(agent)}</td>
                <td safe>{agent.agentVersion}</td>
                <td>
                  <span class={`badge presence-${agent.presence}`} safe>
                    {agent.presence}
                  </span>
                </td>
                <td>
                  <Time value={agent.lastSeen} />
                </td>
                <td>
                  <Health agent={agent} />
                </td>
                <td class="num">{agent.spoolDepth === null ? '—' : String(agent.spoolDepth)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(query.offset > 0 || to < total) && (
        <nav class="pager" aria-label="Agent pages">
          {query.offset > 0 && (
            <a href={`/console/fleet${fleetSearch(query, Math.max(0, query.offset - FLEET_PAGE))}`}>
              Previous agents
            </a>
          )}
          {to < total && <a href={`/console/fleet${fleetSearch(query, to)}`}>Next agents</a>}
        </nav>
      )}
      <h2>Groups</h2>
      {props.groups.map((group) => (
        <section class="card" aria-labelledby={`group-${group.id}`}>
          <h3
            id={`group-${group.id}`}
            safe
          >{`${group.name} (${group.id}) · ${group.agents} agents · policy revision ${group.policy.revision}`}</h3>
          {admin ? (
            <PolicyEditor ctx={props.ctx} group={group} />
          ) : (
            <pre class="mono" safe>
              {JSON.stringify(group.policy, null, 2)}
            </pre>
          )}
        </section>
      ))}
    </Layout>
  );
}

const lines = (value: unknown) =>
  (formText(value) ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

/** The full policy (minus its revision) from the editor form, over the group's current one. */
function policyFromForm(current: Policy, body: Record<string, unknown>): Omit<Policy, 'revision'> {
  const { revision: _revision, ...rest } = current;
  const sensors = new Set(formList(body.sensors));
  const privacy = formText(body.privacyLevel);
  return {
    ...rest,
    scanIntervalMs: Number(formText(body.scanIntervalMs) ?? current.scanIntervalMs),
    heartbeatIntervalMs: Number(formText(body.heartbeatIntervalMs) ?? current.heartbeatIntervalMs),
    sensors: {
      process: sensors.has('process'),
      capture: sensors.has('capture'),
      captureFiles: sensors.has('captureFiles'),
      web: sensors.has('web'),
    },
    privacyLevel: PRIVACY.find((p) => p === privacy) ?? current.privacyLevel,
    web: {
      ...current.web,
      categories: formList(body.webCategories).filter((c) => categoriesFor(current).includes(c)),
      allowedDomains: lines(body.allowedDomains),
    },
    captureFileFolders: lines(body.captureFileFolders),
  };
}

export function registerFleetPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get(
    '/console/fleet',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    async (request, reply) => {
      const query = parseFleetQuery(request.query as Record<string, unknown>);
      const filter: FleetFilter = {
        groupId: query.group,
        presence: query.presence,
        text: query.q,
        offset: query.offset,
        limit: FLEET_PAGE,
      };
      const [{ agents, total }, groups] = await Promise.all([
        fleetAgents(app.db, filter),
        listGroups(app.db),
      ]);
      return sendHtml(
        reply,
        <FleetPage
          ctx={pageContext(deps, request, reply)}
          agents={agents}
          total={total}
          query={query}
          groups={groups}
        />,
      );
    },
  );

  app.post(
    '/console/fleet/groups/:id/policy',
    { preHandler: [app.requireRole('admin'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const group = (await listGroups(app.db)).find((g) => g.id === id);
      if (!group) return redirectWith(deps, reply, '/console/fleet', `No group ${id}.`, 'error');
      const result = await callApi<{ policy: Policy; pushedTo: number }>(app, request, {
        method: 'PUT',
        url: `/api/v1/groups/${encodeURIComponent(id)}/policy`,
        body: policyFromForm(group.policy, request.body as Record<string, unknown>),
      });
      if (!result.ok)
        return redirectWith(
          deps,
          reply,
          '/console/fleet',
          apiErrorMessage(result.body, 'Policy refused.'),
          'error',
        );
      return redirectWith(
        deps,
        reply,
        '/console/fleet',
        `Policy of ${id} saved (revision ${result.body.policy.revision}), pushed to ${result.body.pushedTo} connected agent(s).`,
      );
    },
  );
}
