-- Collector alerts: some alerts are raised by the collector itself and concern no workstation (a
-- notification that could not be delivered). They have no agent, and no event behind them: their
-- evidence is on the alert. Reads join agents with LEFT JOIN and show such alerts as "collector".
ALTER TABLE alerts ALTER COLUMN agent_id DROP NOT NULL;
ALTER TABLE alerts ALTER COLUMN last_event_id DROP NOT NULL;
