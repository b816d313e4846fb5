"""Forms of the manual-job edit and delete pages (jobs.manual)."""
from flask_wtf import FlaskForm

from dashboard.jobs.forms import ManualJobForm

# The form's fields that jobs.manual.update_manual_job takes, by column name.
EDITED_FIELDS = ("location_id", "scheduled_date", "customer_name", "customer_phone", "origin_address",
                 "destination_address", "arrival_window")


class ManualJobEditForm(ManualJobForm):
    """A manual job's customer, phone, date, window, addresses and location (email and notes are edited elsewhere)."""
    customer_email = None
    notes = None

    def values(self):
        """{column: value} for update_manual_job."""
        return {name: getattr(self, name).data for name in EDITED_FIELDS}


class ConfirmDeleteForm(FlaskForm):
    """The delete confirmation: nothing but the CSRF token (the POST itself is the confirmation)."""
