ALTER TABLE log_follower RENAME TO notification_follower;
