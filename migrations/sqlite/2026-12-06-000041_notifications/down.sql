DROP TABLE notification_follower;
DROP TABLE notifications;
