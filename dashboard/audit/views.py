"""Pages of the audit area."""
