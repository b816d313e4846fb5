"""Forms of the jobs area."""
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import HiddenField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import SelectMultipleField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms import widgets
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.validators import ValidationError

from dashboard.formatting import label
from dashboard.guards import coerce_id
from dashboard.models import DispatchStatus
from dashboard.timeutil import FIRST_DAY
from dashboard.timeutil import LAST_DAY
from dashboard.timeutil import in_day_range


class CheckboxListField(SelectMultipleField):
    """A multi-select drawn as a list of checkboxes (easier on a phone than a <select multiple>)."""
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class CrewPickField(CheckboxListField):
    """The crew boxes: each posts a person's id ("member:12") or, for someone not on the roster, a name.

    The plain name of anyone offered is accepted too (scripts and pages drawn before ids post
    names): it is saved as a typed name and resolves the way the free-text field does.
    """
    offered_names = frozenset()

    def pre_validate(self, form):
        """Refuse values that are neither an offered box nor the name of someone offered."""
        if self.choices is None:
            raise TypeError("Choices cannot be None.")
        offered = {choice.value for choice in self.choices} | self.offered_names
        unknown = sorted({str(value) for value in self.data or () if value not in offered})
        if unknown:
            raise ValidationError(f"'{', '.join(unknown)}' is not a valid choice for this field.")


class JobEditForm(FlaskForm):
    """Truck, crew, dispatch status and notes of one job."""
    truck_id = SelectField("Truck", coerce=coerce_id)  # 0: no truck
    crew = CrewPickField("Crew")
    crew_other = StringField("Others (comma-separated)", validators=[Length(max=400)])
    dispatch_status = SelectField("Dispatch status",
                                  choices=[SelectChoice(s.value, label(s.value)) for s in DispatchStatus])
    notes = TextAreaField("Notes for the crew",
                          validators=[Length(max=2000, message="Keep notes under 2000 characters.")])
    # The job's dispatch version when the form was drawn: a save on top of someone
    # else's newer save is caught instead of silently overwriting it.
    version = HiddenField()
    # The assign panel's conflicts as shown (clash keys, space-separated): a save that would
    # create any other conflict asks first. Absent (the full edit page): no question.
    shown_conflicts = HiddenField()

    def set_choices(self, trucks, crew_options):
        """Fill the truck and crew options (call before validate); crew_options: dispatch.CrewOption."""
        self.truck_id.choices = [SelectChoice(0, "No truck")] + [
            SelectChoice(t.id, t.name + ("" if t.is_active else " (out of service)")) for t in trucks]
        self.crew.choices = [SelectChoice(option.value, option.label) for option in crew_options]
        self.crew.offered_names = frozenset(option.name for option in crew_options)

    def validate_crew_other(self, field):
        for name in (field.data or "").replace(";", ",").split(","):
            if len(name.strip()) > 80:
                raise ValidationError("A crew name is longer than 80 characters.")


class ManualJobForm(FlaskForm):
    """A job that is not in SmartMoving (a walk-in, a warranty visit): ours alone, never synced."""
    location_id = SelectField("Location", coerce=coerce_id)
    scheduled_date = DateField("Date", validators=[DataRequired(message="Pick the day of the job.")])
    customer_name = StringField("Customer", validators=[DataRequired(message="Who is the job for?"), Length(max=200)])
    customer_phone = StringField("Phone", validators=[Optional(), Length(max=64)])
    customer_email = StringField("Email", validators=[
        Optional(), Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Not an email address."), Length(max=254)])
    origin_address = StringField("From", validators=[Optional(), Length(max=400)])
    destination_address = StringField("To", validators=[Optional(), Length(max=400)])
    arrival_window = StringField("Arrival window", description="e.g. 8:00 AM – 10:00 AM",
                                 validators=[Optional(), Length(max=80)])
    notes = TextAreaField("Notes for the crew",
                          validators=[Length(max=2000, message="Keep notes under 2000 characters.")])

    def validate_scheduled_date(self, field):
        if field.data is not None and not in_day_range(field.data):
            raise ValidationError(f"Pick a day between {FIRST_DAY.year} and {LAST_DAY.year}.")

    def set_locations(self, locations):
        """Offer only the locations the signed-in user may see (call before validate)."""
        self.location_id.choices = [SelectChoice(loc.id, loc.name) for loc in locations]


# The ManualJobEditForm fields that jobs.manual.update_manual_job takes, by column name.
MANUAL_EDITED_FIELDS = ("location_id", "scheduled_date", "customer_name", "customer_phone", "origin_address",
                        "destination_address", "arrival_window")


class ManualJobEditForm(ManualJobForm):
    """A manual job's customer, phone, date, window, addresses and location (email and notes are edited elsewhere)."""
    customer_email = None
    notes = None

    def values(self):
        """{column: value} for jobs.manual.update_manual_job."""
        return {name: getattr(self, name).data for name in MANUAL_EDITED_FIELDS}


class ConfirmDeleteForm(FlaskForm):
    """The delete confirmation: nothing but the CSRF token (the POST itself is the confirmation)."""
