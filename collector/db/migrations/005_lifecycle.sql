-- Lifecycle: events partitioned by day (RANGE on time, UTC days) so retention drops whole
-- partitions instead of deleting rows, with a DEFAULT partition for stragglers (clock-skewed agents,
-- days the maintenance job has not created yet). Alerts, incidents and the audit log are not touched.
-- A partitioned table's unique key must include the partition key: the primary key becomes
-- (id, time); a resent event has the same id and time, so ON CONFLICT (id, time) keeps ingest
-- exactly-once.

-- Creates the partition of one UTC day if it is missing. Rows of that day already in the DEFAULT
-- partition are moved into it first (ATTACH refuses while the default holds rows of its range).
CREATE FUNCTION vigil_ensure_event_partition(day date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  part text := 'events_p' || to_char(day, 'YYYYMMDD');
  lower_bound timestamptz := (day::timestamp AT TIME ZONE 'UTC');
  upper_bound timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
  EXECUTE format(
    'WITH moved AS (DELETE FROM events_default WHERE time >= %L AND time < %L RETURNING *)
     INSERT INTO %I SELECT * FROM moved',
    lower_bound, upper_bound, part);
  EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
    part, lower_bound, upper_bound);
  RETURN true;
END
$$;

-- Drops the day partitions that end at or before `cutoff` and deletes older stragglers from the
-- DEFAULT partition; returns the partitions dropped.
CREATE FUNCTION vigil_drop_event_partitions_before(cutoff timestamptz) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  FOR part IN
    SELECT c.relname::text FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_p[0-9]{8}$'
       AND ((to_date(substr(c.relname, 9), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff
     ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    RETURN NEXT part;
  END LOOP;
  DELETE FROM events_default WHERE time < cutoff;
  RETURN;
END
$$;

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER INDEX events_pkey RENAME TO events_unpartitioned_pkey;
ALTER INDEX events_agent_time RENAME TO events_unpartitioned_agent_time;
ALTER INDEX events_type_time RENAME TO events_unpartitioned_type_time;

CREATE TABLE events (
  id uuid NOT NULL,
  agent_id uuid NOT NULL REFERENCES agents (id),
  time timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  type text NOT NULL,
  data jsonb NOT NULL,
  PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);
CREATE INDEX events_agent_time ON events (agent_id, time DESC);
CREATE INDEX events_type_time ON events (type, time DESC);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- A partition for every day that has events, and for today and the next week; then the rows.
SELECT vigil_ensure_event_partition(day)
  FROM (SELECT DISTINCT (time AT TIME ZONE 'UTC')::date AS day FROM events_unpartitioned
        UNION SELECT (now() AT TIME ZONE 'UTC')::date + n FROM generate_series(0, 7) AS n) AS days;
INSERT INTO events (id, agent_id, time, received_at, type, data)
  SELECT id, agent_id, time, received_at, type, data FROM events_unpartitioned;
DROP TABLE events_unpartitioned;
