"""Forms of the auth area."""
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
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


class TokenForm(FlaskForm):
    """A name for a new API token, so its owner can tell their tokens apart."""
    name = StringField("Token name", validators=[DataRequired("Name the token, e.g. the script that uses it."),
                                                 Length(max=80)])
