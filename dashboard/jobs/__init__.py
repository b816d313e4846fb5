"""The jobs area: the day's jobs, dispatch and conflicts (domain), the board and its views (web)."""
