"""The Companies page's "SmartMoving key" column (QA walkthrough): "environment" only when the variable really holds
a key; the demo's default company, synced from the built-in sandbox, says "sandbox (demo)"; else "not set"."""
from dashboard.companies.service import key_note
from dashboard.db import db
from dashboard.models import Company
from tests.support import login_as


def _key_cell(html, company_id):
    row = html[html.index(f'data-company-id="{company_id}"'):]
    cell = row[row.index('data-label="Key">') + len('data-label="Key">'):]
    return cell[:cell.index("</td>")]


def test_the_demo_company_without_a_key_says_sandbox_not_environment(app, client, make_user, default_company,
                                                                     make_company, monkeypatch):
    monkeypatch.delenv("SMARTMOVING_API_KEY", raising=False)
    app.config.update(DEMO_MODE=True, SMARTMOVING_API_KEY=None)
    other = make_company("Keyless Movers")
    login_as(client, make_user("SUPER_ADMIN"))
    html = client.get("/admin/companies").get_data(as_text=True)
    assert _key_cell(html, default_company.id).startswith("sandbox (demo)")
    assert _key_cell(html, other.id).startswith("not set")
    assert "environment" not in _key_cell(html, default_company.id)


def test_environment_only_when_the_variable_is_set(app, default_company, make_company, monkeypatch):
    with app.app_context():
        default = db.session.get(Company, default_company.id)
        live_config = {"DEMO_MODE": False, "SMARTMOVING_API_KEY": "sm-live-key"}
        assert key_note(default, live_config, environ={}) == "environment"          # the default's config key
        assert key_note(default, {"DEMO_MODE": False}, environ={}) == "not set"
        assert key_note(default, {"DEMO_MODE": False}, environ={"SMARTMOVING_API_KEY": "k"}) == "environment"
        other = db.session.get(Company, make_company("Env Movers").id)
        other.api_key_env = "ENV_MOVERS_KEY"
        assert key_note(other, {"DEMO_MODE": False}, environ={}) == "not set"
        assert key_note(other, {"DEMO_MODE": False}, environ={"ENV_MOVERS_KEY": "k"}) == "environment"
        db.session.rollback()
