// The incident as the API shows it: deadlines counting down, tasks with an overdue flag, the
// hotline forecast, linked alerts, the timeline and every trigger delivery with its attempts.
import type { Queryable } from '../db/db.js';
import { deliveriesOfIncident } from '../notify/repository.js';
import { loadJurisdictions } from './deadlines.js';
import {
  agentHostnames,
  alertTriageEntries,
  derivedAffected,
  type IncidentRecord,
  linkedAlerts,
  listTasks,
  listTimeline,
  type TaskRecord,
} from './repository.js';
import { deadlinesOf, hotlineInputs } from './service.js';
import { hotlineForecast } from './staffing.js';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function incidentSummary(incident: IncidentRecord) {
  return {
    id: incident.id,
    title: incident.title,
    summary: incident.summary,
    severity: incident.severity,
    status: incident.status,
    resolution: incident.resolution,
    ownerId: incident.ownerId,
    openedBy: incident.openedBy,
    createdAt: incident.createdAt.toISOString(),
    updatedAt: incident.updatedAt.toISOString(),
  };
}

const isOpenTask = (task: TaskRecord) => task.state === 'todo' || task.state === 'doing';

export async function incidentDetail(db: Queryable, incident: IncidentRecord, now = new Date()) {
  const [affected, alerts, tasks, timeline, deliveries] = await Promise.all([
    derivedAffected(db, incident.id),
    linkedAlerts(db, incident.id),
    listTasks(db, incident.id),
    listTimeline(db, incident.id),
    deliveriesOfIncident(db, incident.id),
  ]);
  const triage = await alertTriageEntries(
    db,
    alerts.map((a) => a.id),
  );
  // One story ordered by time: the incident's own entries and what analysts did to its alerts.
  const merged = [...timeline, ...triage].sort(
    (a, b) => a.at.getTime() - b.at.getTime() || (a.source === b.source ? a.id - b.id : 0),
  );
  const rules = loadJurisdictions();
  const extraAgents = await agentHostnames(
    db,
    incident.extraAgentIds.filter((id) => !affected.agents.some((a) => a.id === id)),
  );
  const affectedPeople = Object.values(incident.affectedCounts).reduce((sum, n) => sum + n, 0);
  return {
    ...incidentSummary(incident),
    affectedAgents: [
      ...affected.agents.map((a) => ({ ...a, source: 'alerts' as const })),
      ...extraAgents.map((a) => ({ ...a, source: 'edited' as const })),
    ],
    affectedUsers: [...new Set([...affected.users, ...incident.extraUsers])],
    extraAgentIds: incident.extraAgentIds,
    extraUsers: incident.extraUsers,
    dataCategories: incident.dataCategories,
    affectedCounts: incident.affectedCounts,
    affectedPeople,
    awareAt: iso(incident.awareAt),
    determinedAt: iso(incident.determinedAt),
    discoveredAt: iso(incident.discoveredAt),
    containedAt: iso(incident.containedAt),
    closedAt: iso(incident.closedAt),
    timezone: incident.timezone,
    contacts: incident.contacts,
    hotline: incident.hotline,
    /** The jurisdiction table is not legal advice; shown with every deadline list. */
    disclaimer: rules.disclaimer,
    rulesReviewedAt: rules.reviewedAt,
    deadlines: deadlinesOf(incident).map((d) => ({
      ...d,
      dueAt: iso(d.dueAt),
      remainingMs: d.dueAt === null ? null : d.dueAt.getTime() - now.getTime(),
    })),
    tasks: tasks.map((task) => ({
      key: task.key,
      title: task.title,
      description: task.description,
      phase: task.phase,
      ownerId: task.ownerId,
      state: task.state,
      dueAt: iso(task.dueAt),
      overdue: isOpenTask(task) && task.dueAt !== null && task.dueAt.getTime() < now.getTime(),
      updatedAt: task.updatedAt.toISOString(),
    })),
    hotlineForecast: hotlineForecast({ ...hotlineInputs(incident.hotline), affectedPeople }),
    alerts: alerts.map((a) => ({
      id: a.id,
      ruleId: a.ruleId,
      ruleTitle: a.ruleTitle,
      level: a.level,
      tags: a.tags,
      agentId: a.agentId,
      hostname: a.hostname,
      status: a.status,
      firstSeen: a.firstSeen.toISOString(),
      lastSeen: a.lastSeen.toISOString(),
    })),
    timeline: merged.map((entry) => ({ ...entry, at: entry.at.toISOString() })),
    deliveries: deliveries.map((d) => ({
      ...d,
      nextAttemptAt: d.nextAttemptAt.toISOString(),
      createdAt: d.createdAt.toISOString(),
      finishedAt: iso(d.finishedAt),
      attemptLog: d.attemptLog.map((a) => ({
        ...a,
        startedAt: a.startedAt.toISOString(),
        finishedAt: iso(a.finishedAt),
      })),
    })),
  };
}
