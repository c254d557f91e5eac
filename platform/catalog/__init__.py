"""Catalog: providers (with their timezone and weekly hours) and the services they offer."""
