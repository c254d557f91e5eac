"""What the practice and its operator watch: the admin's stats (and, later, SLA, alerts and
the booking funnel). Each domain computes its own figures; this package gathers them."""
