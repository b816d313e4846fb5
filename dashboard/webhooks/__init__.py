"""SmartMoving webhooks (Premium): receive, store, de-duplicate and act on change events.

views.py answers SmartMoving (shared-secret header, 202 once stored); events.py stores
and counts events; processor.py acts on them under the company's sync lease; worker.py
decides who drains them and when. What SmartMoving sends is in docs/smartmoving-api.md §7.
"""
