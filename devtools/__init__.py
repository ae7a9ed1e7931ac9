"""Development and demo helpers (not installed with Paydesk)."""
