"""Online payment of prepaid bookings (Stripe Checkout): the core owns the payment's state."""
