"""Accounts: users, roles, passwords and login tokens."""
