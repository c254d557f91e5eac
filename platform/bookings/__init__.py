"""Bookings: the guarded booking path, cancellation, the audit trail and replay-safe intake."""
