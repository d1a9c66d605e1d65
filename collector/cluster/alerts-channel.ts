// The vigil_alerts channel: one notification per ingested batch naming the alerts it created or
// bumped, so live consoles on every collector can refresh. A batch touching very many alerts names
// the first ones and says `truncated` (consoles then reload their list) to stay under the cap.
import type { Queryable } from '../db/db.js';
import { type Cluster, channels } from './plugin.js';

const MAX_IDS = 80;

export interface AlertsNotification {
  created: string[];
  updated: string[];
  truncated?: true;
}

export function alertsPayload(created: string[], updated: string[]): string {
  const unique = (ids: string[]) => [...new Set(ids)];
  const c = unique(created);
  const u = unique(updated).filter((id) => !c.includes(id));
  const truncated = c.length + u.length > MAX_IDS;
  const keptCreated = c.slice(0, MAX_IDS);
  const body: AlertsNotification = {
    created: keptCreated,
    updated: u.slice(0, MAX_IDS - keptCreated.length),
    ...(truncated && { truncated: true as const }),
  };
  return JSON.stringify(body);
}

/** Sends the notification in `tx`, when the batch touched any alert. */
export async function notifyAlerts(
  cluster: Cluster,
  tx: Queryable,
  created: string[],
  updated: string[],
): Promise<void> {
  if (created.length === 0 && updated.length === 0) return;
  await cluster.notify(channels.alerts, alertsPayload(created, updated), tx);
}
