// Detection rules: the list with 24-hour hit counts and on/off switches, uploading a Sigma rule
// (validation errors shown next to the text) and trying a rule against recent events. Every
// action goes through the rules API, so validation, roles and audit are the API's own.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiErrorMessage, callApi } from './api.js';
import { Empty, LevelBadge, Time } from './components.js';
import { type ConsoleDeps, formText, pageContext, redirectWith, sendHtml } from './context.js';
import { CsrfField, can, Layout, type PageContext } from './layout.js';

interface RuleView {
  id: string;
  title: string;
  level: string;
  status: string | null;
  description: string | null;
  source: 'builtin' | 'uploaded';
  enabled: boolean;
  alerts24h: number;
}

interface TestMatch {
  eventId: string;
  hostname: string;
  time: string;
  type: string;
  entity: string;
}

interface WorkbenchState {
  yaml?: string;
  error?: string;
  test?: { ruleId: string; scanned: number; matches: TestMatch[] };
}

function RulesPage(props: { ctx: PageContext; rules: RuleView[]; bench: WorkbenchState }) {
  const { ctx, bench } = props;
  const manager = can(ctx, 'incident_manager');
  const analyst = can(ctx, 'analyst');
  const admin = can(ctx, 'admin');
  return (
    <Layout title="Rules" ctx={ctx} active="rules">
      <h1>Detection rules</h1>
      <table class="grid" aria-label="Rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Level</th>
            <th scope="col">Source</th>
            <th scope="col">Alerts (24 h)</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {props.rules.map((rule) => (
            <tr>
              <td>
                <a href={`/console/alerts?rule=${encodeURIComponent(rule.id)}`} safe>
                  {rule.title}
                </a>
                <div class="muted mono" safe>
                  {rule.id}
                </div>
              </td>
              <td>
                <LevelBadge level={rule.level} />
              </td>
              <td safe>{rule.source}</td>
              <td class="num">{String(rule.alerts24h)}</td>
              <td>
                {manager ? (
                  <form
                    method="post"
                    action={`/console/rules/${encodeURIComponent(rule.id)}/${rule.enabled ? 'disable' : 'enable'}`}
                    class="inline"
                  >
                    <CsrfField ctx={ctx} />
                    <span>{rule.enabled ? 'enabled' : 'disabled'}</span>{' '}
                    <button
                      type="submit"
                      class="small"
                      aria-label={`${rule.enabled ? 'Disable' : 'Enable'} ${rule.title}`}
                    >
                      {rule.enabled ? 'Disable' : 'Enable'}
                    </button>
                  </form>
                ) : (
                  <span>{rule.enabled ? 'enabled' : 'disabled'}</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {analyst && (
        <section class="card" aria-labelledby="bench-h" id="bench">
          <h2 id="bench-h">{admin ? 'Upload or try a Sigma rule' : 'Try a Sigma rule'}</h2>
          {bench.error && (
            <p class="flash error" role="alert" safe>
              {`Refused: ${bench.error}`}
            </p>
          )}
          <form method="post" action="/console/rules/workbench#bench" class="stack">
            <CsrfField ctx={ctx} />
            <label for="rule-file">Sigma file</label>
            <input id="rule-file" type="file" accept=".yml,.yaml,text/yaml" data-load-into="rule-yaml" />
            <label for="rule-yaml">Rule (YAML)</label>
            <textarea id="rule-yaml" name="yaml" rows="12" class="mono" required safe>
              {bench.yaml ?? ''}
            </textarea>
            <div class="buttons">
              <button type="submit" name="op" value="test">
                Try against recent events
              </button>
              {admin && (
                <button type="submit" name="op" value="upload" class="primary">
                  Upload rule
                </button>
              )}
            </div>
          </form>
          {bench.test && (
            <div aria-live="polite">
              <h3
                safe
              >{`${bench.test.matches.length} match${bench.test.matches.length === 1 ? '' : 'es'} in ${bench.test.scanned} recent events (rule ${bench.test.ruleId})`}</h3>
              {bench.test.matches.length === 0 ? (
                <Empty text="Nothing recent matches." />
              ) : (
                <table class="grid" aria-label="Matching events">
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Workstation</th>
                      <th scope="col">Event</th>
                      <th scope="col">Entity</th>
                    </tr>
                  </thead>
                  <tbody>
                    {bench.test.matches.map((m) => (
                      <tr>
                        <td>
                          <Time value={m.time} />
                        </td>
                        <td safe>{m.hostname}</td>
                        <td class="mono" safe>
                          {m.type}
                        </td>
                        <td class="mono" safe>
                          {m.entity}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          )}
        </section>
      )}
    </Layout>
  );
}

export function registerRulePages(app: FastifyInstance, deps: ConsoleDeps): void {
  async function render(request: FastifyRequest, reply: FastifyReply, bench: WorkbenchState, status = 200) {
    const list = await callApi<{ rules: RuleView[] }>(app, request, { method: 'GET', url: '/api/v1/rules' });
    if (!list.ok) throw new Error(`rules API answered ${list.status}`);
    return sendHtml(
      reply,
      <RulesPage ctx={pageContext(deps, request, reply)} rules={list.body.rules} bench={bench} />,
      status,
    );
  }

  app.get(
    '/console/rules',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    (request, reply) => render(request, reply, {}),
  );

  for (const action of ['enable', 'disable'] as const) {
    app.post(
      `/console/rules/:id/${action}`,
      { preHandler: [app.requireRole('incident_manager'), app.consoleCsrf], schema: { hide: true } },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const result = await callApi(app, request, {
          method: 'POST',
          url: `/api/v1/rules/${encodeURIComponent(id)}/${action}`,
        });
        if (!result.ok)
          return redirectWith(
            deps,
            reply,
            '/console/rules',
            apiErrorMessage(result.body, 'Not changed.'),
            'error',
          );
        return redirectWith(deps, reply, '/console/rules', `Rule ${id} ${action}d.`);
      },
    );
  }

  app.post(
    '/console/rules/workbench',
    { preHandler: [app.requireRole('analyst'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      const yaml = formText(body.yaml) ?? '';
      const op = formText(body.op);
      // Refusals re-render the form with the reason (200): the page itself loaded fine.
      if (!yaml.trim()) return render(request, reply, { yaml, error: 'paste or choose a Sigma rule first' });
      if (op === 'upload') {
        // The API refuses non-admins (403); the console checks first so the page says why.
        if (!can({ principal: request.principal, csrf: '' }, 'admin')) {
          return render(request, reply, { yaml, error: 'uploading rules needs the admin role' });
        }
        const result = await callApi<{ id: string; title: string }>(app, request, {
          method: 'POST',
          url: '/api/v1/rules',
          body: { yaml },
        });
        if (!result.ok)
          return render(request, reply, { yaml, error: apiErrorMessage(result.body, 'invalid rule') });
        return redirectWith(
          deps,
          reply,
          '/console/rules',
          `Rule ${result.body.id} (${result.body.title}) uploaded and running.`,
        );
      }
      const result = await callApi<{ ruleId: string; scanned: number; matches: TestMatch[] }>(app, request, {
        method: 'POST',
        url: '/api/v1/rules/test',
        body: { yaml, limit: 50 },
      });
      if (!result.ok)
        return render(request, reply, { yaml, error: apiErrorMessage(result.body, 'invalid rule') });
      return render(request, reply, { yaml, test: result.body });
    },
  );
}
