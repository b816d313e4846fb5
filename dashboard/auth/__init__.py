"""The auth area: users, passwords, sessions and tokens (domain), sign-in and token views (web)."""
