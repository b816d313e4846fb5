"""The locations area: its views."""
