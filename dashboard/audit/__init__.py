"""The audit area: who changed what, when, from what to what."""
