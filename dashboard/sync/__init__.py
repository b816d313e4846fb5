"""The sync area: runs, the Syncer's pipeline, the quota plan and removals (domain), the sync page (web)."""
