"""Calendly: "Book now" scheduling tokens, signed webhooks, and bookings bound to real users."""
