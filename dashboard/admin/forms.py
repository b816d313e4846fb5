"""Forms of the admin area: users and trucks."""
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from dashboard.auth.passwords import MIN_PASSWORD_LENGTH
from dashboard.guards import coerce_id
from dashboard.jobs.forms import CheckboxListField


class UserForm(FlaskForm):
    """Create or edit a user; the password only when creating."""
    email = EmailField("Email", validators=[DataRequired("Enter an email address."), Length(max=254)])
    full_name = StringField("Full name", validators=[Length(max=120)])
    # Choices are checked by the view (the member must be of the user's company), not by WTForms:
    # a post without the field keeps the current link.
    crew_member_id = SelectField("Crew member", coerce=coerce_id, validate_choice=False,
                                 description="Who this user is on the roster: drivers and movers see "
                                             "the jobs this crew member is on.")
    company_id = SelectField("Company", coerce=coerce_id)  # ids in ASCII digits only
    role = SelectField("Role")
    locations = CheckboxListField("Locations", coerce=coerce_id,
                                  description="Dispatchers and managers see only these locations.")
    password = PasswordField("Initial password", validators=[
        Optional(), Length(min=MIN_PASSWORD_LENGTH, max=256,
                           message=f"Use between {MIN_PASSWORD_LENGTH} and 256 characters.")])


class TruckForm(FlaskForm):
    """A new truck."""
    name = StringField("Truck name", validators=[DataRequired("Name the truck."), Length(max=80)])
    location_id = SelectField("Location", coerce=coerce_id)


class EmptyForm(FlaskForm):
    """Just the CSRF token, for one-button POST forms."""


__all__ = ["UserForm", "TruckForm", "EmptyForm"]
