"""Forms of the auth area."""
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length

from dashboard.auth.passwords import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    """Email and password; `next` rides along as a hidden field."""
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=256)])
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    """Current password, then the new one twice."""
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    new_password = PasswordField("New password", validators=[
        DataRequired("Choose a new password."),
        Length(min=MIN_PASSWORD_LENGTH, max=256, message=f"Use between {MIN_PASSWORD_LENGTH} and 256 characters."),
    ])
    confirm = PasswordField("New password again", validators=[
        DataRequired("Repeat the new password."), EqualTo("new_password", "The two new passwords differ."),
    ])


# Days a token made on the token page lives (0: until revoked); the first is the default.
TOKEN_LIFETIMES = (SelectChoice(90, "90 days"), SelectChoice(30, "30 days"), SelectChoice(365, "1 year"),
                   SelectChoice(0, "Until revoked"))


class TokenForm(FlaskForm):
    """A name for a new API token, its lifetime, and the owner's password again (a session alone is not enough)."""
    name = StringField("Token name", validators=[DataRequired("Name the token, e.g. the script that uses it."),
                                                 Length(max=80)])
    expires_days = SelectField("Expires after", coerce=int, choices=TOKEN_LIFETIMES, default=90)
    password = PasswordField("Your password", validators=[DataRequired("Enter your password to create a token."),
                                                          Length(max=256)])
