-- Fleet: presence of each agent (online / silent / stopped / offline), its last reported health
-- and spool depth, and when its silence was last raised as an alert.
ALTER TABLE agents
  ADD COLUMN presence text NOT NULL DEFAULT 'offline'
    CHECK (presence IN ('online', 'silent', 'stopped', 'offline', 'revoked')),
  ADD COLUMN presence_changed_at timestamptz,
  ADD COLUMN health jsonb,
  ADD COLUMN spool_depth integer;

CREATE INDEX agents_presence_last_seen ON agents (presence, last_seen);
CREATE INDEX agents_group ON agents (group_id);
