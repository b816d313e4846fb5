"""The crew member page's form: our own fields (role, phone, e-mail, notes). The rules are roster.clean_contact's."""
from flask_wtf import FlaskForm
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Length

from dashboard.crew.roster import NOTES_LIMIT
from dashboard.crew.roster import ROLE_CHOICES


class CrewMemberForm(FlaskForm):
    """Role, phone, e-mail and notes of one crew member (SmartMoving's fields are not editable here)."""
    role = SelectField("Role", choices=[SelectChoice("", "— not set —")]
                       + [SelectChoice(value, value.title()) for value in ROLE_CHOICES])
    phone = StringField("Phone", validators=[Length(max=64)],
                        description="For the crew's messages: digits, spaces and a leading +.")
    email = StringField("E-mail", validators=[Length(max=254)])
    notes = TextAreaField("Notes", validators=[Length(max=NOTES_LIMIT, message=f"At most {NOTES_LIMIT} characters.")])


__all__ = ["CrewMemberForm"]
