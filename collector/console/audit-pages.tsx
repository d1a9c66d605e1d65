// The audit log for administrators, newest first, filtered by action and target (type, id) in the URL.
import type { FastifyInstance } from 'fastify';
import { type AuditRecord, listAudit } from '../audit/repository.js';
import { Empty, Time } from './components.js';
import { type ConsoleDeps, pageContext, sendHtml } from './context.js';
import { Layout, type PageContext } from './layout.js';

const PAGE = 100;

function AuditPage(props: {
  ctx: PageContext;
  entries: AuditRecord[];
  filter: { action?: string; targetType?: string; targetId?: string };
  next?: string;
}) {
  const query = (extra: Record<string, string | undefined>) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...props.filter, ...extra })) if (v) params.set(k, v);
    const text = params.toString();
    return text ? `?${text}` : '';
  };
  return (
    <Layout title="Audit log" ctx={props.ctx} active="audit">
      <h1>Audit log</h1>
      <form method="get" action="/console/audit" class="filters" aria-label="Filter the audit log">
        <label>
          Action
          <input name="action" value={props.filter.action ?? ''} placeholder="alert.transition" />
        </label>
        <label>
          Target type
          <input name="targetType" value={props.filter.targetType ?? ''} placeholder="alert" />
        </label>
        <label>
          Target id
          <input name="targetId" value={props.filter.targetId ?? ''} />
        </label>
        <button type="submit">Apply</button>
      </form>
      {props.entries.length === 0 ? (
        <Empty text="No entries." />
      ) : (
        <table class="grid" aria-label="Audit entries">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Change</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {props.entries.map((e) => (
              <tr>
                <td>
                  <Time value={e.at} />
                </td>
                <td safe>{e.actorName}</td>
                <td class="mono" safe>
                  {e.action}
                </td>
                <td class="mono" safe>{`${e.targetType}${e.targetId ? ` ${e.targetId}` : ''}`}</td>
                <td class="mono small-text" safe>
                  {e.after === null ? '' : JSON.stringify(e.after).slice(0, 200)}
                </td>
                <td class="mono" safe>
                  {e.ip ?? ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.next && (
        <nav class="pager" aria-label="Pages">
          <a href={`/console/audit${query({ before: props.next })}`}>Older entries</a>
        </nav>
      )}
    </Layout>
  );
}

export function registerAuditPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get(
    '/console/audit',
    { preHandler: app.requireRole('admin'), schema: { hide: true } },
    async (request, reply) => {
      const q = request.query as { action?: string; targetType?: string; targetId?: string; before?: string };
      const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 100) : undefined);
      const filter = {
        action: text(q.action),
        targetType: text(q.targetType),
        targetId: text(q.targetId),
      };
      const before = typeof q.before === 'string' && /^\d{1,19}$/.test(q.before) ? q.before : undefined;
      const entries = await listAudit(app.db, { ...filter, beforeId: before, limit: PAGE });
      const next = entries.length === PAGE ? entries.at(-1)?.id : undefined;
      return sendHtml(
        reply,
        <AuditPage ctx={pageContext(deps, request, reply)} entries={entries} filter={filter} next={next} />,
      );
    },
  );
}
