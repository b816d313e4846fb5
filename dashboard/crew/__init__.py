"""The crew area: the roster, time off and availability (domain), their pages and API (web)."""
