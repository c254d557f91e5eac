"""The webhook inbox: verified deliveries from outside, stored raw once, worked by jobs."""
