"""The waitlist: people waiting for a service, and the offers that fill freed slots.

A freed slot (a cancellation, a reschedule's old time, a lapsed unpaid hold, a cancellation
webhook) opens an `Opening`; `flows.offer_next` offers it to the next eligible people. The offer
is the lock: while one is active the opening holds the slot's claim units (see
`holdfast.bookings.guard.hold`), so nobody else can book it.
"""
