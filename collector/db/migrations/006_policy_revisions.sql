-- Policy revisions come from one sequence shared by all groups, so a revision names one policy:
-- an agent re-enrolled into another group never holds a revision number that group also uses
-- (the collector skips the push when the agent's revision matches).
CREATE SEQUENCE policy_revision_seq;
SELECT setval('policy_revision_seq', (SELECT coalesce(max(policy_revision), 0) + 1 FROM agent_groups));
UPDATE agent_groups SET policy_revision = nextval('policy_revision_seq');
ALTER TABLE agent_groups ALTER COLUMN policy_revision SET DEFAULT nextval('policy_revision_seq');
