// The incident manager's edit form: legal clocks, owner, severity, summary, data categories,
// contacts, time zone and hotline inputs. The form posts to the console, which turns it into one
// PATCH of the incidents API (same validation, role check and audit record as the API).
import { DateTime, IANAZone } from 'luxon';
import { levels } from '../alerts/repository.js';
import {
  contactRoles,
  dataCategories,
  type HotlineInputs,
  type IncidentRecord,
} from '../incidents/repository.js';
import type { User } from '../users/repository.js';
import { formList, formText } from './context.js';
import { CsrfField, type PageContext } from './layout.js';

export const CLOCKS = [
  ['awareAt', 'Aware', 'the organisation became aware of the breach (GDPR Art. 33 clock)'],
  ['determinedAt', 'Determined', 'a breach was determined to have occurred (several US states)'],
  ['discoveredAt', 'Discovered', 'the breach was discovered (HIPAA, most US states)'],
  ['containedAt', 'Contained', 'the leak was stopped'],
] as const;
type ClockField = (typeof CLOCKS)[number][0];

const LOCAL_FORMAT = "yyyy-LL-dd'T'HH:mm";

/** A `datetime-local` value in the incident's time zone (minute precision). */
export function localInput(value: Date | string | null, zone: string): string {
  if (!value) return '';
  return DateTime.fromJSDate(new Date(value), { zone }).toFormat(LOCAL_FORMAT);
}

const percent = (fraction: number) => String(Math.round(fraction * 1e6) / 1e4);

/** Fields the edit form sends, as the current incident gives them. */
interface EditableIncident {
  id: string;
  title: string;
  summary: string;
  severity: string;
  ownerId: string | null;
  timezone: string;
  dataCategories: string[];
  extraUsers: string[];
  contacts: IncidentRecord['contacts'];
  hotline: HotlineInputs;
  awareAt: string | null;
  determinedAt: string | null;
  discoveredAt: string | null;
  containedAt: string | null;
}

export function IncidentEditForm(props: { ctx: PageContext; incident: EditableIncident; users: User[] }) {
  const { incident } = props;
  const zone = incident.timezone;
  const pool = incident.hotline.outsourcerPool;
  return (
    <details class="card">
      <summary>Edit incident (clocks, owner, severity, data, contacts, hotline)</summary>
      <form method="post" action={`/console/incidents/${incident.id}/edit`} class="stack">
        <CsrfField ctx={props.ctx} />
        <label>
          Title <input name="title" required maxlength="300" value={incident.title} />
        </label>
        <label>
          Summary
          <textarea name="summary" maxlength="10000" rows="3" safe>
            {incident.summary}
          </textarea>
        </label>
        <label>
          Severity{' '}
          <select name="severity">
            {levels.map((l) => (
              <option value={l} selected={incident.severity === l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Owner{' '}
          <select name="ownerId">
            <option value="">unassigned</option>
            {props.users
              .filter((u) => u.disabledAt === null)
              .map((u) => (
                <option value={u.id} selected={incident.ownerId === u.id} safe>
                  {u.username}
                </option>
              ))}
          </select>
        </label>
        <label>
          Time zone (IANA, e.g. Europe/Paris: calendar days and the times below are counted in it){' '}
          <input name="timezone" required maxlength="64" value={zone} />
        </label>
        <fieldset>
          <legend>Clocks (local time in {zone})</legend>
          {CLOCKS.map(([field, label, meaning]) => (
            <label>
              <span safe>{`${label} — ${meaning}`}</span>{' '}
              <input type="datetime-local" name={field} value={localInput(incident[field], zone)} />
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Data categories exposed</legend>
          {dataCategories.map((c) => (
            <label class="inline">
              <input
                type="checkbox"
                name="dataCategories"
                value={c}
                checked={incident.dataCategories.includes(c)}
              />{' '}
              {c.replaceAll('_', ' ')}
            </label>
          ))}
        </fieldset>
        <label>
          Further affected users (one per line, besides those the alerts name)
          <textarea name="extraUsers" rows="2" safe>
            {incident.extraUsers.join('\n')}
          </textarea>
        </label>
        <fieldset>
          <legend>Contacts</legend>
          {contactRoles.map((role) => {
            const contact = incident.contacts[role] ?? {};
            return (
              <div class="inline">
                <strong>{role.toUpperCase()}</strong>{' '}
                <input
                  name={`contact.${role}.name`}
                  aria-label={`${role} name`}
                  placeholder="name"
                  maxlength="200"
                  value={contact.name ?? ''}
                />{' '}
                <input
                  name={`contact.${role}.email`}
                  aria-label={`${role} email`}
                  placeholder="email"
                  maxlength="320"
                  value={contact.email ?? ''}
                />{' '}
                <input
                  name={`contact.${role}.phone`}
                  aria-label={`${role} phone`}
                  placeholder="phone"
                  maxlength="64"
                  value={contact.phone ?? ''}
                />
              </div>
            );
          })}
        </fieldset>
        <fieldset>
          <legend>Hotline forecast inputs</legend>
          <label>
            Share of people who call, low %{' '}
            <input name="callShareLow" inputmode="decimal" value={percent(incident.hotline.callShare.low)} />
          </label>
          <label>
            high %{' '}
            <input
              name="callShareHigh"
              inputmode="decimal"
              value={percent(incident.hotline.callShare.high)}
            />
          </label>
          <label>
            Average handling time (s){' '}
            <input name="ahtSec" inputmode="decimal" value={String(incident.hotline.ahtSec)} />
          </label>
          <label>
            Service target: % answered{' '}
            <input
              name="targetServiceLevel"
              inputmode="decimal"
              value={percent(incident.hotline.targetServiceLevel)}
            />
          </label>
          <label>
            within (s){' '}
            <input
              name="targetAnswerSec"
              inputmode="decimal"
              value={String(incident.hotline.targetAnswerSec)}
            />
          </label>
          <label>
            Outsourcer pool: agents (empty = no outsourcer){' '}
            <input name="poolAgents" inputmode="numeric" value={pool ? String(pool.agents) : ''} />
          </label>
          <label>
            pool shrinkage %{' '}
            <input name="poolShrinkage" inputmode="decimal" value={pool ? percent(pool.shrinkage) : '30'} />
          </label>
        </fieldset>
        <button type="submit" class="primary">
          Save incident
        </button>
      </form>
    </details>
  );
}

export class FormInputError extends Error {}

function numberField(body: Record<string, unknown>, name: string, label: string): number | undefined {
  const raw = formText(body[name])?.trim();
  if (!raw) return undefined;
  const value = Number(raw.replace(',', '.'));
  if (!Number.isFinite(value)) throw new FormInputError(`${label}: enter a number.`);
  return value;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The PATCH body for what the form changed. Fields equal to the current incident are left out, so
 * saving the form unchanged changes nothing (and clocks keep their seconds).
 */
export function incidentPatchFromForm(
  body: Record<string, unknown>,
  current: IncidentRecord,
): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const text = (name: string) => formText(body[name]) ?? '';
  const title = text('title').trim();
  if (title && title !== current.title) patch.title = title;
  const summary = text('summary').replace(/\r\n/g, '\n');
  if (summary !== current.summary) patch.summary = summary;
  const severity = text('severity');
  if (severity && severity !== current.severity) patch.severity = severity;
  const ownerId = text('ownerId') || null;
  if (ownerId !== current.ownerId) patch.ownerId = ownerId;
  const zone = text('timezone').trim() || current.timezone;
  if (!IANAZone.isValidZone(zone)) throw new FormInputError(`Time zone "${zone}" is not an IANA time zone.`);
  if (zone !== current.timezone) patch.timezone = zone;
  for (const [field, label] of CLOCKS) {
    const raw = text(field).trim();
    const existing = current[field as ClockField];
    // Compared in the zone the form was shown in, at the minute precision it shows.
    if (raw === localInput(existing, current.timezone) && zone === current.timezone) continue;
    if (!raw) {
      if (existing !== null) patch[field] = null;
      continue;
    }
    const at = DateTime.fromFormat(raw, LOCAL_FORMAT, { zone });
    if (!at.isValid) throw new FormInputError(`${label}: enter a date and time.`);
    const iso = at.toUTC().toISO()!;
    if (existing === null || existing.getTime() !== at.toMillis()) patch[field] = iso;
  }
  const categories = formList(body.dataCategories).filter((c) =>
    (dataCategories as readonly string[]).includes(c),
  );
  if (!sameJson([...categories].sort(), [...current.dataCategories].sort()))
    patch.dataCategories = categories;
  const extraUsers = [
    ...new Set(
      text('extraUsers')
        .split(/\r?\n/)
        .map((u) => u.trim())
        .filter(Boolean),
    ),
  ];
  if (!sameJson(extraUsers, current.extraUsers)) patch.affectedUsers = extraUsers;
  const contacts: Record<string, Record<string, string>> = {};
  for (const role of contactRoles) {
    const contact: Record<string, string> = {};
    for (const part of ['name', 'email', 'phone']) {
      const value = text(`contact.${role}.${part}`).trim();
      if (value) contact[part] = value;
    }
    if (Object.keys(contact).length > 0) contacts[role] = contact;
  }
  if (!sameJson(contacts, current.contacts)) patch.contacts = contacts;

  const fraction = (name: string, label: string, fallback: number) => {
    const value = numberField(body, name, label);
    return value === undefined ? fallback : value / 100;
  };
  const hotline = current.hotline;
  const next: HotlineInputs = {
    callShare: {
      low: fraction('callShareLow', 'Share of people who call (low)', hotline.callShare.low),
      high: fraction('callShareHigh', 'Share of people who call (high)', hotline.callShare.high),
    },
    ahtSec: numberField(body, 'ahtSec', 'Average handling time') ?? hotline.ahtSec,
    targetServiceLevel: fraction('targetServiceLevel', 'Service target', hotline.targetServiceLevel),
    targetAnswerSec: numberField(body, 'targetAnswerSec', 'Answer within') ?? hotline.targetAnswerSec,
    outsourcerPool: null,
  };
  const poolAgents = numberField(body, 'poolAgents', 'Outsourcer pool agents');
  if (poolAgents !== undefined) {
    if (!Number.isInteger(poolAgents) || poolAgents < 0)
      throw new FormInputError('Outsourcer pool agents: enter a whole number.');
    next.outsourcerPool = { agents: poolAgents, shrinkage: fraction('poolShrinkage', 'Pool shrinkage', 0.3) };
  }
  // Within rounding of the percentages shown, a value is unchanged.
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  const changed: Record<string, unknown> = {};
  if (
    !close(next.callShare.low, hotline.callShare.low) ||
    !close(next.callShare.high, hotline.callShare.high)
  )
    changed.callShare = next.callShare;
  if (!close(next.ahtSec, hotline.ahtSec)) changed.ahtSec = next.ahtSec;
  if (!close(next.targetServiceLevel, hotline.targetServiceLevel))
    changed.targetServiceLevel = next.targetServiceLevel;
  if (!close(next.targetAnswerSec, hotline.targetAnswerSec)) changed.targetAnswerSec = next.targetAnswerSec;
  const pool = next.outsourcerPool;
  const oldPool = hotline.outsourcerPool;
  if (
    (pool === null) !== (oldPool === null) ||
    (pool && oldPool && (pool.agents !== oldPool.agents || !close(pool.shrinkage, oldPool.shrinkage)))
  )
    changed.outsourcerPool = pool;
  if (Object.keys(changed).length > 0) patch.hotline = changed;
  return patch;
}
