// The incident an alert belongs to, for the alert queue and detail pages: one query per page
// annotates the alerts, and a small link renders it where the alert pages place it.
import type { Queryable } from '../db/db.js';
import { incidentsOfAlerts } from '../incidents/repository.js';

export interface AlertIncident {
  id: string;
  title: string;
  status: string;
}

/** An alert as the alert pages have it, plus the incident it belongs to (if any). */
export type WithIncident<T> = T & { incident?: AlertIncident };

/** Adds `incident` to each alert that belongs to one. */
export async function withIncidents<T extends { id: string }>(
  db: Queryable,
  alerts: T[],
): Promise<Array<WithIncident<T>>> {
  const byAlert = await incidentsOfAlerts(
    db,
    alerts.map((a) => a.id),
  );
  return alerts.map((alert) => {
    const incident = byAlert.get(alert.id);
    return incident ? { ...alert, incident } : alert;
  });
}

export async function withIncident<T extends { id: string }>(
  db: Queryable,
  alert: T,
): Promise<WithIncident<T>> {
  return (await withIncidents(db, [alert]))[0]!;
}

/** "incident: <title>" linking to the incident page; nothing when the alert has no incident. */
export function AlertIncidentLink(props: { alert: { id: string; incident?: AlertIncident } }) {
  const incident = props.alert.incident;
  if (!incident) return '';
  return (
    <a
      href={`/console/incidents/${incident.id}`}
      class="incident-link"
      title={`Incident (${incident.status})`}
      safe
    >
      {`incident: ${incident.title}`}
    </a>
  );
}
