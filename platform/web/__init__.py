"""The web process: app factory, auth, error mapping, health, pages."""
