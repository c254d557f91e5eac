"""Durable jobs: the MongoDB backlog every scheduled piece of work is written to first."""
