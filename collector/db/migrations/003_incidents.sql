-- Breach incidents (linked alerts, checklist tasks, timeline) and the notification outbox
-- (channels, one outbox row per trigger and channel, every delivery attempt).

-- Escalation queue: alerts not yet looked at by the escalation rules. Alerts that exist before this
-- migration count as evaluated, so an upgrade does not open incidents for old history.
ALTER TABLE alerts ADD COLUMN escalation_checked_at timestamptz;
UPDATE alerts SET escalation_checked_at = now();
CREATE INDEX alerts_escalation_pending ON alerts (created_at) WHERE escalation_checked_at IS NULL;

-- An alert that fires again (ingest moves last_seen) goes back on the queue: a combination rule may
-- now hold that did not when the alert was first seen.
CREATE FUNCTION alerts_requeue_escalation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.last_seen > OLD.last_seen THEN
    NEW.escalation_checked_at := NULL;
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER alerts_requeue_escalation BEFORE UPDATE OF last_seen ON alerts
  FOR EACH ROW EXECUTE FUNCTION alerts_requeue_escalation();

CREATE TABLE incidents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title text NOT NULL,
  summary text NOT NULL DEFAULT '',
  severity text NOT NULL CHECK (severity IN ('informational', 'low', 'medium', 'high', 'critical')),
  status text NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'investigating', 'contained', 'notifying', 'recovered', 'closed')),
  resolution text CHECK (resolution IN ('confirmed_breach', 'no_breach', 'duplicate')),
  owner_id uuid REFERENCES users (id),
  -- Edited additions to what the linked alerts name.
  extra_agent_ids uuid[] NOT NULL DEFAULT '{}',
  extra_users text[] NOT NULL DEFAULT '{}',
  data_categories text[] NOT NULL DEFAULT '{}' CHECK (
    data_categories <@ ARRAY['ssn', 'drivers_license', 'payment_card', 'health', 'credentials', 'contact_data']
  ),
  -- Affected people per jurisdiction id of jurisdictions.json.
  affected_counts jsonb NOT NULL DEFAULT '{}'::jsonb,
  aware_at timestamptz,
  determined_at timestamptz,
  discovered_at timestamptz,
  contained_at timestamptz,
  closed_at timestamptz,
  timezone text NOT NULL DEFAULT 'UTC',
  contacts jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Inputs of the hotline forecast (AHT, call share, service target, outsourcer pool).
  hotline jsonb NOT NULL DEFAULT '{}'::jsonb,
  opened_by text NOT NULL,
  -- rule|agent for incidents opened by an escalation rule: one open incident per key.
  escalation_key text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'closed') = (resolution IS NOT NULL)),
  CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX incidents_open_escalation ON incidents (escalation_key)
  WHERE escalation_key IS NOT NULL AND status <> 'closed';
CREATE INDEX incidents_created ON incidents (created_at DESC, id DESC);

-- An alert belongs to at most one incident.
CREATE TABLE incident_alerts (
  alert_id uuid PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
  incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  linked_by text NOT NULL,
  linked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id);

CREATE TABLE incident_tasks (
  incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  key text NOT NULL,
  position integer NOT NULL,
  title text NOT NULL,
  description text NOT NULL,
  phase text NOT NULL,
  owner_id uuid REFERENCES users (id),
  state text NOT NULL DEFAULT 'todo' CHECK (state IN ('todo', 'doing', 'done', 'skipped')),
  due_at timestamptz,
  -- Set when the overdue trigger was written; cleared when the due date moves later.
  overdue_triggered_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (incident_id, key)
);
CREATE INDEX incident_tasks_overdue ON incident_tasks (due_at)
  WHERE overdue_triggered_at IS NULL AND state IN ('todo', 'doing') AND due_at IS NOT NULL;

CREATE TABLE incident_timeline (
  id bigserial PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- user:<id>, rule:<id> or system:<worker>
  actor text NOT NULL,
  kind text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);

CREATE TABLE notify_channels (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE,
  type text NOT NULL CHECK (type IN ('webhook', 'slack', 'teams', 'pagerduty', 'email')),
  -- Full settings including secrets; the API only ever returns them masked.
  settings jsonb NOT NULL,
  events text[] NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  disabled_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: written in the transaction of the incident change; the id is the
-- Standard Webhooks webhook-id, stable across retries.
CREATE TABLE notify_outbox (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  incident_id uuid REFERENCES incidents (id) ON DELETE CASCADE,
  kind text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  -- When pending: due time, or the lease end while an attempt is in flight.
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notify_outbox_incident ON notify_outbox (incident_id);
CREATE INDEX notify_outbox_dead ON notify_outbox (finished_at DESC) WHERE status = 'dead';

CREATE TABLE notify_attempts (
  id bigserial PRIMARY KEY,
  outbox_id uuid NOT NULL REFERENCES notify_outbox (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz,
  -- in_flight stays when the process died during the attempt.
  outcome text NOT NULL CHECK (outcome IN ('in_flight', 'ok', 'failed')),
  response_status integer,
  duration_ms integer,
  error text,
  UNIQUE (outbox_id, attempt)
);
