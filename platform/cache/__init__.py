"""Declarative response cache on a separate Redis: rules in cache_rules.yaml, invalidation by
domain events through generation counters, and a bypass whenever that Redis misbehaves."""
