"""Forms of the Companies page (super admin): create, rename, set the SmartMoving key, switch company."""
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from dashboard.companies.service import NAME_LENGTH


class CompanyForm(FlaskForm):
    """A new company: its name and the time zone its "today" is in."""
    name = StringField("Name", validators=[DataRequired("Name the company."), Length(max=NAME_LENGTH)])
    timezone = StringField("Time zone", default="America/Toronto",
                           validators=[DataRequired("Give an IANA time zone."), Length(max=64)],
                           description="An IANA name, such as America/Toronto or America/Vancouver.")


class RenameForm(FlaskForm):
    """A company's new name."""
    name = StringField("New name", validators=[DataRequired("Name the company."), Length(max=NAME_LENGTH)])


class KeyForm(FlaskForm):
    """A company's SmartMoving credentials: write-only (never filled back in)."""
    api_key = PasswordField("SmartMoving API key", validators=[DataRequired("Paste the API key."), Length(max=500)],
                            description="Stored encrypted and never shown again; used from the next sync.")
    client_id = StringField("Client id", validators=[Optional(), Length(max=120)])
    plan = SelectField("Plan", choices=[SelectChoice("", "Default plan"), SelectChoice("basic", "Basic"),
                                        SelectChoice("premium", "Premium")], validators=[Optional()])
    webhook_secret = PasswordField("Webhook secret", validators=[Optional(), Length(max=500)])


class SwitchForm(FlaskForm):
    """The header's company switcher: a company id, or empty for every company."""
    company = StringField("Company", validators=[Optional(), Length(max=12)])


class EmptyForm(FlaskForm):
    """A button that only needs its CSRF token (enable, disable)."""
