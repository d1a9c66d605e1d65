-- Deleting a notification channel keeps what it delivered: the channel is switched off and marked
-- deleted (hidden from lists), and its outbox rows and attempts stay visible on their incidents.
ALTER TABLE notify_channels ADD COLUMN deleted_at timestamptz;

-- A deleted channel's name can be used again.
ALTER TABLE notify_channels DROP CONSTRAINT notify_channels_name_key;
CREATE UNIQUE INDEX notify_channels_live_name ON notify_channels (name) WHERE deleted_at IS NULL;

-- Deliveries outlive their channel: a hard delete of a channel that delivered is refused.
ALTER TABLE notify_outbox DROP CONSTRAINT notify_outbox_channel_id_fkey;
ALTER TABLE notify_outbox ADD CONSTRAINT notify_outbox_channel_id_fkey
  FOREIGN KEY (channel_id) REFERENCES notify_channels (id) ON DELETE RESTRICT;
