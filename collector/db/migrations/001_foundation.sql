-- Foundation: agent groups and agents, the event store, alerts, users and their API tokens.

CREATE TABLE agent_groups (
  id text PRIMARY KEY,
  name text NOT NULL,
  -- sha256 of the group's enroll secret; NULL means enrollment into this group is closed.
  enroll_secret_hash text UNIQUE,
  policy jsonb NOT NULL DEFAULT '{}'::jsonb,
  policy_revision integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
  id uuid PRIMARY KEY,
  group_id text NOT NULL REFERENCES agent_groups (id),
  token_hash text NOT NULL UNIQUE,
  hostname text NOT NULL,
  platform text NOT NULL DEFAULT '',
  os jsonb NOT NULL DEFAULT '{}'::jsonb,
  system_uuid text NOT NULL DEFAULT '',
  agent_version text NOT NULL DEFAULT '',
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz,
  revoked_at timestamptz
);

CREATE TABLE events (
  id uuid PRIMARY KEY,
  agent_id uuid NOT NULL REFERENCES agents (id),
  time timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  type text NOT NULL,
  data jsonb NOT NULL
);
CREATE INDEX events_agent_time ON events (agent_id, time DESC);
CREATE INDEX events_type_time ON events (type, time DESC);

CREATE TABLE alerts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  rule_id text NOT NULL,
  rule_title text NOT NULL,
  level text NOT NULL CHECK (level IN ('informational', 'low', 'medium', 'high', 'critical')),
  tags text[] NOT NULL DEFAULT '{}',
  agent_id uuid NOT NULL REFERENCES agents (id),
  entity text NOT NULL,
  -- rule|agent|entity; at most one alert per key is open for deduplication at any time.
  dedup_key text NOT NULL,
  dedup_open boolean NOT NULL DEFAULT true,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved', 'false_positive')),
  count integer NOT NULL DEFAULT 1,
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  last_event_id uuid NOT NULL,
  -- the evidence of the latest matching event, as shown in lists (pid, exe, user, ...).
  evidence jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_dedup_open ON alerts (dedup_key) WHERE dedup_open;
CREATE INDEX alerts_last_seen ON alerts (last_seen DESC, id DESC);
CREATE INDEX alerts_agent ON alerts (agent_id, last_seen DESC);

CREATE TABLE alert_events (
  alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  event_id uuid NOT NULL,
  PRIMARY KEY (alert_id, event_id)
);

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('viewer', 'analyst', 'incident_manager', 'admin')),
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);

CREATE TABLE api_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id),
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
