"""Command line: thin click commands over the services (`flask --app dashboard COMMAND`)."""
import os
import sys
import time

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from dashboard.auth.tokens import issue_token
from dashboard.auth.tokens import revoke_tokens
from dashboard.auth.users import CrewMemberChoiceError
from dashboard.auth.users import UserError
from dashboard.auth.users import create_user
from dashboard.auth.users import crew_member_label
from dashboard.auth.users import find_company
from dashboard.auth.users import find_crew_member
from dashboard.auth.users import resolve_locations
from dashboard.companies import service as companies
from dashboard.companies.service import CompanyError
from dashboard.db import db
from dashboard.demo import disable_demo_users
from dashboard.demo import seed_demo
from dashboard.models import User
from dashboard.permissions import Perm
from dashboard.permissions import can
from dashboard.permissions import parse_role
from dashboard.plans import delivery as plan_delivery
from dashboard.plans import publish as plan_publish
from dashboard.sandbox.server import serve_forever
from dashboard.schema import ensure_default_company
from dashboard.schema import upgrade_schema
from dashboard.sync.backfill import MAX_BACKFILL_DAYS
from dashboard.sync.backfill import backfill
from dashboard.sync.backfill import estimate_calls
from dashboard.sync.history import summarize
from dashboard.sync.service import CompanyDisabled
from dashboard.sync.service import SyncAlreadyRunning
from dashboard.sync.service import refuse_if_disabled
from dashboard.sync.service import run_sync
from dashboard.timeutil import parse_iso_date


def _fail(message, code=2):
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(code)


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the schema (idempotent); in demo mode also seed demo data."""
    upgrade_schema()
    company = ensure_default_company(current_app)
    click.echo(f"Schema is up to date. Default company: {company.name} ({company.timezone}).")
    if current_app.config["DEMO_MODE"]:
        for line in seed_demo(current_app):
            click.echo(line)
    else:
        with db.write_transaction():
            line = disable_demo_users()
        if line:
            click.echo(line)


def _read_password():
    """Password twice: prompted on a terminal, else two lines of standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    first = sys.stdin.readline().rstrip("\r\n")
    second = sys.stdin.readline().rstrip("\r\n")
    if first != second:
        _fail("the two passwords differ")
    return first


@click.command("create-user")
@click.argument("email")
@click.option("--role", required=True, help="SUPER_ADMIN, ADMIN, DISPATCHER, MANAGER, AUDITOR, DRIVER or MOVER")
@click.option("--company", "company_name", default=None, help="Company name (default: the default company)")
@click.option("--location", "locations", multiple=True, help="Assigned location name (repeatable)")
@click.option("--name", "full_name", default="", help="Display name")
@click.option("--crew-member", "crew_member", default=None, metavar="NAME_OR_ID",
              help="Link to this crew member (drivers, movers): their My jobs follow the link")
@click.option("--crew-name", default=None, metavar="NAME_OR_ID", help="Alias of --crew-member")
@with_appcontext
def create_user_command(email, role, company_name, locations, full_name, crew_member, crew_name):
    """Create a user; the password is read twice from standard input."""
    if parse_role(role) is None:
        _fail(f"unknown role {role!r}; use one of SUPER_ADMIN, ADMIN, DISPATCHER, MANAGER, AUDITOR, DRIVER, MOVER")
    if crew_member and crew_name and crew_member != crew_name:
        _fail("--crew-name is an alias of --crew-member: give one of them")
    wanted = crew_member or crew_name
    try:
        db.begin_write()
        company = find_company(company_name)
        location_rows = resolve_locations(company, locations)
        member = _crew_member_or_fail(company, wanted) if wanted else None
        password = _read_password()
        user = create_user(email, password, role, company, location_rows, full_name=full_name,
                           crew_member=member)
        db.session.commit()
    except UserError as error:
        db.session.rollback()
        _fail(str(error))
    linked = f", linked to crew member #{member.id} {member.name}" if member else ""
    click.echo(f"Created {user.email} ({user.role}) in {company.name}{linked}.")


def _crew_member_or_fail(company, name_or_id):
    """The crew member named by name_or_id, or exit 2 listing the candidates."""
    try:
        return find_crew_member(company, name_or_id)
    except CrewMemberChoiceError as error:
        db.session.rollback()
        lines = [str(error)]
        if error.candidates:
            lines.append("Candidates:")
            lines += [f"  {crew_member_label(member)}" for member in error.candidates]
        _fail("\n".join(lines))


def _user_by_email(email):
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"no user with email {email}")
    return user


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for (shown on the token page)")
@click.option("--expires-days", type=click.IntRange(min=1, max=3650), default=None,
              help="The token stops working after this many days (default: until revoked)")
@with_appcontext
def create_token_command(email, name, expires_days):
    """Print a new API token for EMAIL (its last word); only a hash is stored."""
    db.begin_write()
    user = _user_by_email(email)
    if not user.is_active or not can(user, Perm.USE_API):
        _fail(f"{user.email} is disabled or may not use the API")
    row, token = issue_token(user, name, expires_days=expires_days)
    db.session.commit()
    until = f", expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else ""
    click.echo(f"API token for {user.email} (id {row.prefix}…{until}), shown once: {token}")


@click.command("revoke-token")
@click.argument("email")
@click.option("--prefix", default=None, help="Revoke only the token starting with this (default: all)")
@with_appcontext
def revoke_token_command(email, prefix):
    """Revoke EMAIL's API tokens (or the one matching --prefix)."""
    db.begin_write()
    user = _user_by_email(email)
    count = revoke_tokens(user, prefix)
    db.session.commit()
    click.echo(f"Revoked {count} token(s) of {user.email}.")


@click.command("sync")
@click.option("--date", "day_text", default=None, help="YYYY-MM-DD: sync this day and the next (default: today)")
@click.option("--from", "from_text", default=None, help="YYYY-MM-DD: back-fill from this day (with --to)")
@click.option("--to", "to_text", default=None, help="YYYY-MM-DD: back-fill up to this day (with --from)")
@click.option("--yes", is_flag=True, help="Spend the back-fill's API calls without asking")
@click.option("--company", "company_name", default=None, help="Company name (default: the default company)")
@with_appcontext
def sync_command(day_text, from_text, to_text, yes, company_name):
    """Run one sync now (or back-fill --from/--to) and print a summary; exit 1 when it fails."""
    day = _date_option("--date", day_text)
    start, end = _date_option("--from", from_text), _date_option("--to", to_text)
    if (start is None) != (end is None):
        _fail("--from and --to go together")
    if start is not None and day is not None:
        _fail("use either --date or --from/--to")
    try:
        company = find_company(company_name)
        # Disabled on the Companies page: the scheduler skips it, and so does a sync on request.
        refuse_if_disabled(company.id)
    except (UserError, CompanyDisabled) as error:
        _fail(str(error))
    db.session.commit()
    if start is not None:
        _backfill(company, start, end, yes)
        return
    try:
        run = run_sync(company.id, day=day, trigger="cli")
    except SyncAlreadyRunning as error:
        click.echo(f"Sync not started: {error}", err=True)
        raise SystemExit(1) from None
    click.echo(summarize(run))
    if run.status == "FAILED":
        raise SystemExit(1)


def _date_option(name, text):
    if text is None:
        return None
    day = parse_iso_date(text)
    if day is None:
        _fail(f"{name} must be YYYY-MM-DD, got {text!r}")
    return day


def _backfill(company, start, end, yes):
    """Estimate, confirm, then sync [start, end] window by window."""
    if end < start:
        _fail("--to must not be before --from")
    if (end - start).days + 1 > MAX_BACKFILL_DAYS:
        _fail(f"at most {MAX_BACKFILL_DAYS} days per back-fill")
    estimate = estimate_calls(company.id, start, end)
    db.session.commit()
    click.echo(f"Back-fill {start}..{end} for {company.name}: {estimate.windows} syncs of two days, about "
               f"{estimate.total:,} SmartMoving API calls ({estimate.sweep_calls:,} sweep pages, up to "
               f"{estimate.detail_calls:,} opportunity details, {estimate.reference_calls} reference; "
               f"{estimate.basis}).")
    if not yes and not click.confirm("Spend these calls?", default=False):
        click.echo("Nothing synced.")
        raise SystemExit(1)
    failed = 0
    try:
        for run in backfill(company.id, start, end):
            click.echo(summarize(run))
            failed += run.status == "FAILED"
    except SyncAlreadyRunning as error:
        click.echo(f"Back-fill stopped: {error}", err=True)
        raise SystemExit(1) from None
    if failed:
        click.echo(f"{failed} window(s) failed; run the same command again to retry them.", err=True)
        raise SystemExit(1)


@click.command("sandbox")
@click.option("--port", default=5001, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--webhook-url", default=None,
              help="Announce world changes by webhook to this URL "
                   "(e.g. http://127.0.0.1:5000/api/smartmoving/webhooks), "
                   "with SMARTMOVING_WEBHOOK_SECRET from the environment.")
@with_appcontext
def sandbox_command(port, host, webhook_url):
    """Serve the SmartMoving sandbox alone (the API key it accepts is printed)."""
    config = current_app.config
    if webhook_url and not os.environ.get("SMARTMOVING_WEBHOOK_SECRET"):
        raise click.UsageError("--webhook-url needs SMARTMOVING_WEBHOOK_SECRET in the environment "
                               "(the same secret the app checks).")
    serve_forever(host=host, port=port, timezone=config["DASHBOARD_TIMEZONE"], webhook_url=webhook_url,
                  webhook_secret=os.environ.get("SMARTMOVING_WEBHOOK_SECRET"),
                  webhook_header=config["SMARTMOVING_WEBHOOK_HEADER"])


@click.command("publish")
@click.option("--date", "day_text", required=True, help="YYYY-MM-DD: the day whose plan to send")
@click.option("--location", "location", default=None, help="Location id or name (default: every location)")
@click.option("--changes", is_flag=True, help="Only people whose jobs changed since their last version")
@click.option("--company", "company_name", default=None, help="Company name (default: the default company)")
@with_appcontext
def publish_command(day_text, location, changes, company_name):
    """Send a day's plan to its crews: plan version N, one message per person, queued in the outbox."""
    day = _date_option("--date", day_text)
    try:
        company = find_company(company_name)
        location_id = None
        if location:
            location_id = int(location) if location.isdigit() else resolve_locations(company, [location])[0].id
        result = plan_publish.publish_day(company, day, location_id=location_id, changes_only=changes)
    except UserError as error:
        _fail(str(error))
    except plan_publish.OutOfScope:
        _fail(f"Unknown location for {company.name}: {location}")
    click.echo(plan_publish.describe(result))
    if result.unreachable:
        click.echo("Not reachable: " + ", ".join(result.unreachable))


@click.command("deliver")
@click.option("--watch", is_flag=True, help="Keep delivering every 15 s until interrupted")
@click.option("--limit", default=plan_delivery.DEFAULT_BATCH, show_default=True, type=click.IntRange(1, 5000))
@with_appcontext
def deliver_command(watch, limit):
    """Send the outbox's due messages (e-mail, SMS) once, or keep at it with --watch; prints what happened."""
    while True:
        for company_id in plan_delivery.companies_with_due_messages():
            report = plan_delivery.deliver_with_lease(company_id, limit=limit)
            click.echo(f"company {company_id}: " + (report.summary() if report else "another worker holds it"))
        if not watch:
            return
        time.sleep(plan_delivery.TICK_SECONDS)


@click.command("create-company")
@click.argument("name")
@click.option("--timezone", "timezone", required=True, help="IANA time zone, e.g. America/Toronto")
@with_appcontext
def create_company_command(name, timezone):
    """Create a company (issue 21): an unknown time zone or a name already used exits 2."""
    try:
        with db.write_transaction():
            company = companies.create_company(name, timezone)
    except CompanyError as error:
        _fail(str(error))
    click.echo(f"Created company #{company.id} {company.name} ({company.timezone}). "
               f"Set its key with: flask --app dashboard set-smartmoving-key {company.id}")


@click.command("set-smartmoving-key")
@click.argument("company_name", metavar="COMPANY")
@click.option("--client-id", default=None, help="SmartMoving client id (sent as x-client-id)")
@click.option("--plan", "plan_name", default=None, help="basic or premium (default: SMARTMOVING_PLAN)")
@with_appcontext
def set_smartmoving_key_command(company_name, client_id, plan_name):
    """Store COMPANY's SmartMoving API key, encrypted; the key is read from standard input (never echoed)."""
    if sys.stdin.isatty():
        api_key = click.prompt("SmartMoving API key", hide_input=True)
    else:
        api_key = sys.stdin.readline().rstrip("\r\n")
    try:
        with db.write_transaction():
            company = companies.find(company_name)
            companies.set_smartmoving_key(company, api_key, current_app.config.get("CREDENTIALS_KEY"),
                                          client_id=client_id, plan_name=plan_name)
    except CompanyError as error:
        _fail(str(error))
    click.echo(f"SmartMoving key of {company.name} {companies.key_note(company)}; used from its next sync.")


def init_app(app):
    """Register every command on app."""
    for command in (init_db_command, create_user_command, create_token_command, revoke_token_command,
                    sync_command, sandbox_command, publish_command, deliver_command,
                    create_company_command, set_smartmoving_key_command):
        app.cli.add_command(command)
