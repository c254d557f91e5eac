"""Notifications: email and SMS about bookings, each message tracked and sent at most once."""
