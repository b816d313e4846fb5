"""Published plans: freeze a day's plan as a version, tell each person their jobs, deliver it.

models.py holds the plan tables and the outbox; snapshot.py says what a person was told
and what changed since; links.py signs personal links; publish.py freezes a version and
queues its messages in the same transaction; delivery.py (with smtp.py and twilio.py)
sends them at least once and never twice; views.py/api_views.py are the web side.
"""
