"""The admin area: its forms and views."""
