-- Review: alert triage (status reasons, assignee, comments), exceptions, the process baseline and
-- allowlist, sessions and passwords, the append-only audit log, rule settings and uploaded rules.

-- Alerts -------------------------------------------------------------------------------------------

ALTER TABLE alerts
  ADD COLUMN assignee_id uuid REFERENCES users (id),
  ADD COLUMN status_reason text,
  ADD COLUMN status_changed_at timestamptz,
  ADD COLUMN status_changed_by uuid REFERENCES users (id),
  -- the agent's hostname when the alert opened: searched with the rule title and entity.
  ADD COLUMN hostname text NOT NULL DEFAULT '';
UPDATE alerts SET hostname = agents.hostname FROM agents WHERE agents.id = alerts.agent_id;

-- Sorting by severity needs an order, not the alphabet.
ALTER TABLE alerts ADD COLUMN level_rank smallint GENERATED ALWAYS AS (
  CASE level WHEN 'informational' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 4 END
) STORED;
ALTER TABLE alerts ADD COLUMN search_text text GENERATED ALWAYS AS (
  lower(rule_title || ' ' || entity || ' ' || hostname)
) STORED;

-- The list API's queries: default view, status+level, agent, rule, and the other sort orders.
DROP INDEX alerts_agent;
CREATE INDEX alerts_agent_last_seen ON alerts (agent_id, last_seen DESC, id DESC);
CREATE INDEX alerts_status_level_last_seen ON alerts (status, level, last_seen DESC, id DESC);
CREATE INDEX alerts_status_last_seen ON alerts (status, last_seen DESC, id DESC);
CREATE INDEX alerts_rule_last_seen ON alerts (rule_id, last_seen DESC, id DESC);
CREATE INDEX alerts_first_seen ON alerts (first_seen DESC, id DESC);
CREATE INDEX alerts_level_rank ON alerts (level_rank DESC, id DESC);
CREATE INDEX alerts_count ON alerts (count DESC, id DESC);
CREATE INDEX alerts_assignee ON alerts (assignee_id, last_seen DESC) WHERE assignee_id IS NOT NULL;
CREATE INDEX alert_events_event ON alert_events (event_id);
CREATE INDEX agents_group_enrolled ON agents (group_id, enrolled_at);

-- Text search: trigram index where the server has pg_trgm (PostgreSQL); embedded PGlite scans.
DO $$
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable: alert text search scans';
  END;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    EXECUTE 'CREATE INDEX alerts_search_trgm ON alerts USING gin (search_text gin_trgm_ops)';
  END IF;
END
$$;

CREATE TABLE alert_comments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  alert_id uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  author_id uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000)
);
CREATE INDEX alert_comments_alert ON alert_comments (alert_id, created_at);

-- Exceptions ---------------------------------------------------------------------------------------

CREATE TABLE alert_exceptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  rule_id text NOT NULL,
  scope text NOT NULL CHECK (scope IN ('rule', 'group', 'agent')),
  group_id text REFERENCES agent_groups (id),
  agent_id uuid REFERENCES agents (id),
  -- field name → value; every one must equal the match's value for the exception to apply.
  fields jsonb NOT NULL DEFAULT '{}'::jsonb,
  reason text NOT NULL,
  source_alert_id uuid REFERENCES alerts (id) ON DELETE SET NULL,
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  hits bigint NOT NULL DEFAULT 0,
  last_hit timestamptz,
  CHECK ((scope = 'group') = (group_id IS NOT NULL)),
  CHECK ((scope = 'agent') = (agent_id IS NOT NULL))
);
CREATE INDEX alert_exceptions_rule ON alert_exceptions (rule_id) WHERE revoked_at IS NULL;

-- Bumped whenever exceptions change, so every collector process reloads its cache.
CREATE TABLE alert_exceptions_version (
  id integer PRIMARY KEY CHECK (id = 1),
  version bigint NOT NULL
);
INSERT INTO alert_exceptions_version (id, version) VALUES (1, 0);

-- Unexpected processes -----------------------------------------------------------------------------

ALTER TABLE agent_groups ADD COLUMN baseline_learning_days integer NOT NULL DEFAULT 7
  CHECK (baseline_learning_days BETWEEN 0 AND 365);

-- Every executable (path + sha256, '' when unknown) each agent ran: fleet prevalence.
CREATE TABLE executable_sightings (
  exe_path text NOT NULL,
  sha256 text NOT NULL,
  agent_id uuid NOT NULL REFERENCES agents (id),
  group_id text NOT NULL REFERENCES agent_groups (id),
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  PRIMARY KEY (exe_path, sha256, agent_id)
);

-- What a group ran during its learning period: the known-good set.
CREATE TABLE process_baseline (
  group_id text NOT NULL REFERENCES agent_groups (id),
  exe_path text NOT NULL,
  sha256 text NOT NULL,
  first_seen timestamptz NOT NULL,
  PRIMARY KEY (group_id, exe_path, sha256)
);

CREATE TABLE process_allowlist (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  group_id text NOT NULL REFERENCES agent_groups (id),
  path_glob text,
  name text,
  sha256 text,
  signer text,
  reason text NOT NULL,
  source_alert_id uuid REFERENCES alerts (id) ON DELETE SET NULL,
  created_by uuid REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (num_nonnulls(path_glob, name, sha256, signer) > 0)
);
CREATE INDEX process_allowlist_group ON process_allowlist (group_id);

-- Users and sessions -------------------------------------------------------------------------------

CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id),
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  ip text
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Audit log (append-only) --------------------------------------------------------------------------

CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor_id uuid,
  actor_name text NOT NULL,
  action text NOT NULL,
  target_type text NOT NULL,
  target_id text,
  before jsonb,
  after jsonb,
  request_id text,
  ip text
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Rules --------------------------------------------------------------------------------------------

CREATE TABLE rule_settings (
  rule_id text PRIMARY KEY,
  enabled boolean NOT NULL,
  updated_by uuid REFERENCES users (id),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE uploaded_rules (
  id text PRIMARY KEY,
  title text NOT NULL,
  yaml text NOT NULL,
  uploaded_by uuid REFERENCES users (id),
  uploaded_at timestamptz NOT NULL DEFAULT now()
);
