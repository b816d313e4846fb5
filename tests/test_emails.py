"""Email addresses are checked by email-validator (syntax only) in the admin form and the CLI."""
import pytest
import sqlalchemy as sa

from dashboard.db import db
from dashboard.models import User
from tests.support import csrf_token_from
from tests.support import login_as

BAD = ["no-at-sign", "a@b", "a@@example.com", "two words@example.com", "a@example..com", "a@localhost",
       "a@b.local", "x" * 250 + "@example.com", "a@-example.com"]


@pytest.mark.parametrize("email", BAD)
def test_admin_form_refuses_bad_addresses(app, client, make_user, email):
    login_as(client, make_user("ADMIN"))
    csrf = csrf_token_from(client.get("/admin/users/new").get_data(as_text=True))
    answer = client.post("/admin/users/new", data={"csrf_token": csrf, "email": email, "role": "DISPATCHER",
                                                   "company_id": str(make_user("AUDITOR").company_id),
                                                   "password": "long-enough-password"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Not an email address" in html or "longer than 254 characters" in html


@pytest.mark.parametrize("email", BAD[:4])
def test_cli_refuses_bad_addresses(runner, email):
    result = runner.invoke(args=["create-user", email, "--role", "DISPATCHER"],
                           input="long-enough-pw\nlong-enough-pw\n")
    assert result.exit_code == 2 and "Not an email address" in result.output


def test_good_addresses_are_stored_in_canonical_form(app, runner):
    result = runner.invoke(args=["create-user", "  Ann.Lee@Example.COM ", "--role", "MOVER"],
                           input="long-enough-pw\nlong-enough-pw\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User.email)) == "ann.lee@example.com"
