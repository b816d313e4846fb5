"""The command line of CONTRACT.md."""
import sqlalchemy as sa

from dashboard.auth.passwords import verify_password
from dashboard.db import db
from dashboard.models import ApiToken
from dashboard.models import User


def test_create_user_reads_password_twice_from_stdin(app, runner, make_location):
    make_location("North")
    result = runner.invoke(args=["create-user", "New@Example.test", "--role", "dispatcher", "--location", "north"],
                           input="a-long-password\na-long-password\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "new@example.test"))
        assert user.role == "DISPATCHER"
        assert [loc.name for loc in user.locations] == ["North"]
        assert verify_password(user.password_hash, "a-long-password")
        assert "a-long-password" not in user.password_hash


def test_create_user_unknown_role_exits_2(runner):
    result = runner.invoke(args=["create-user", "x@example.test", "--role", "PILOT"], input="a-long-password\n" * 2)
    assert result.exit_code == 2
    assert "unknown role" in result.output


def test_create_user_unknown_location_exits_2(runner):
    result = runner.invoke(args=["create-user", "x@example.test", "--role", "MANAGER", "--location", "Mars"],
                           input="a-long-password\n" * 2)
    assert result.exit_code == 2
    assert "Unknown location" in result.output


def test_create_user_mismatched_or_short_password_exits_2(app, runner):
    assert runner.invoke(args=["create-user", "x@example.test", "--role", "ADMIN"],
                         input="a-long-password\nother-password\n").exit_code == 2
    short = runner.invoke(args=["create-user", "x@example.test", "--role", "ADMIN"], input="short\nshort\n")
    assert short.exit_code == 2 and "at least" in short.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_create_user_does_not_say_another_company_holds_the_email(runner, make_user, make_company):
    rival = make_company("Rival Movers")
    make_user("ADMIN", email="theirs@rival.test", company=rival)
    result = runner.invoke(args=["create-user", "theirs@rival.test", "--role", "ADMIN"], input="a-long-password\n" * 2)
    assert result.exit_code == 2
    assert "cannot be used for a new user" in result.output
    assert "exists" not in result.output and "Rival" not in result.output


def test_create_user_duplicate_and_unknown_company_exit_2(runner, make_user):
    make_user("ADMIN", email="taken@example.test")
    assert runner.invoke(args=["create-user", "taken@example.test", "--role", "ADMIN"],
                         input="a-long-password\n" * 2).exit_code == 2
    result = runner.invoke(args=["create-user", "y@example.test", "--role", "ADMIN", "--company", "Nope Inc"],
                           input="a-long-password\n" * 2)
    assert result.exit_code == 2 and "Unknown company" in result.output


def test_create_token_prints_token_last_and_stores_hash(app, runner, make_user):
    make_user("AUDITOR", email="audit@example.test")
    result = runner.invoke(args=["create-token", "audit@example.test"])
    assert result.exit_code == 0
    token = result.output.split()[-1]
    assert token.startswith("smd_") and len(token) > 30
    with app.app_context():
        stored = db.session.scalar(sa.select(ApiToken.token_hash))
    assert token not in stored
    client = app.test_client()
    assert client.get("/api/smartmoving/jobs/today", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_create_token_unknown_user_exits_2(runner):
    assert runner.invoke(args=["create-token", "ghost@example.test"]).exit_code == 2


def test_sync_bad_date_exits_2(runner):
    result = runner.invoke(args=["sync", "--date", "26/11/2026"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_sync_while_running_exits_1(app, runner, default_company):
    from dashboard.sync.lease import acquire_lease
    from dashboard.sync.lease import lease_name_for
    with app.app_context():
        acquire_lease(lease_name_for(default_company.id), "other-runner", 60)
    result = runner.invoke(args=["sync"])
    assert result.exit_code == 1
    assert "already running" in result.output
