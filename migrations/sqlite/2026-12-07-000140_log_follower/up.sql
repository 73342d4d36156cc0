-- The notifications' position in the event log becomes the position of every durable follower
-- of the committed log (notifications, acknowledgements, surveys), which read each batch together.
ALTER TABLE notification_follower RENAME TO log_follower;
