// The page shell: header with navigation by role, the one-shot notice, and the two scripts
// (htmx and the keyboard/countdown helper). No inline script or style: the CSP forbids both.
import type { Children } from '@kitajs/html';
import type { Principal } from '../auth/plugin.js';
import { roleAllows } from '../auth/roles.js';
import type { Flash } from './session.js';

export interface PageContext {
  principal?: Principal;
  csrf: string;
  flash?: Flash;
}

const htmxConfig = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  historyCacheSize: 0,
});

const sections = [
  { href: '/console/alerts', label: 'Alerts', key: 'alerts', role: 'viewer' },
  { href: '/console/incidents', label: 'Incidents', key: 'incidents', role: 'viewer' },
  { href: '/console/fleet', label: 'Fleet', key: 'fleet', role: 'viewer' },
  { href: '/console/rules', label: 'Rules', key: 'rules', role: 'viewer' },
  { href: '/console/audit', label: 'Audit log', key: 'audit', role: 'admin' },
] as const;

export function Layout(props: { title: string; ctx: PageContext; active?: string; children?: Children }) {
  const { principal, csrf, flash } = props.ctx;
  return (
    <>
      {'<!doctype html>'}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="htmx-config" content={htmxConfig} />
          <title safe>{`${props.title} · Vigil`}</title>
          <link rel="icon" href="data:," />
          <link rel="stylesheet" href="/console/static/console.css" />
          <script src="/console/static/htmx.min.js" defer></script>
          <script src="/console/static/console.js" defer></script>
        </head>
        <body>
          <a class="skip" href="#main">
            Skip to content
          </a>
          <header class="top">
            <span class="brand">Vigil</span>
            {principal && (
              <nav aria-label="Sections">
                <ul>
                  {sections
                    .filter((s) => roleAllows(principal.role, s.role))
                    .map((s) => (
                      <li>
                        <a href={s.href} aria-current={props.active === s.key ? 'page' : undefined}>
                          {s.label}
                        </a>
                      </li>
                    ))}
                </ul>
              </nav>
            )}
            {principal && (
              <form method="post" action="/console/logout" class="who">
                <span safe>{`${principal.username} (${principal.role.replace('_', ' ')})`}</span>
                <input type="hidden" name="_csrf" value={csrf} />
                <button type="submit" class="link">
                  Log out
                </button>
              </form>
            )}
          </header>
          <main id="main">
            {flash && (
              <p class={`flash ${flash.kind}`} role={flash.kind === 'error' ? 'alert' : 'status'} safe>
                {flash.text}
              </p>
            )}
            {props.children}
          </main>
        </body>
      </html>
    </>
  );
}

/** The hidden CSRF field every console form carries. */
export const CsrfField = (props: { ctx: PageContext }) => (
  <input type="hidden" name="_csrf" value={props.ctx.csrf} />
);

export const can = (ctx: PageContext, role: Principal['role']): boolean =>
  ctx.principal !== undefined && roleAllows(ctx.principal.role, role);
