"""The JSON API: its views and the seed specification's paths."""
