"""The personal page's one form: confirm, or decline with a reason."""
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import TextAreaField
from wtforms.validators import AnyOf
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import ValidationError

from dashboard.confirm.answers import REASON_MAX
from dashboard.confirm.states import CONFIRMED
from dashboard.confirm.states import DECLINED


class AnswerForm(FlaskForm):
    """answer=confirmed|declined; a decline needs a reason (at most REASON_MAX characters)."""
    answer = HiddenField(validators=[DataRequired(), AnyOf((CONFIRMED, DECLINED), message="Choose an answer.")])
    reason = TextAreaField("Why can't you make it?", validators=[Length(max=REASON_MAX)])

    def validate_reason(self, field):
        """A decline says why, so dispatch can act on it."""
        if self.answer.data == DECLINED and not (field.data or "").strip():
            raise ValidationError("Please say why, so the office can plan around it.")
