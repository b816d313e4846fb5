"""An unknown email costs one password check, in the sign-in form and POST /auth/token alike."""
from dashboard.auth import passwords
from dashboard.auth.passwords import check_password
from dashboard.auth.passwords import hash_password
from dashboard.auth.passwords import verify_unknown_user


class _User:
    password_hash = hash_password("a-long-password")


def _count_verifies(monkeypatch):
    calls = []
    real = passwords.verify_password

    def counting(password_hash, password):
        calls.append(password_hash)
        return real(password_hash, password)
    monkeypatch.setattr(passwords, "verify_password", counting)
    return calls


def test_an_unknown_user_is_checked_against_a_real_decoy_hash(monkeypatch):
    calls = _count_verifies(monkeypatch)
    assert verify_unknown_user("a-long-password") is False
    assert check_password(None, "not-a-real-password-at-all") is False   # not even the decoy's own password
    assert len(calls) == 2 and all(h.startswith("$argon2id$") for h in calls)


def test_check_password_of_a_known_user(monkeypatch):
    calls = _count_verifies(monkeypatch)
    assert check_password(_User(), "a-long-password") is True
    assert check_password(_User(), "wrong-password") is False
    assert calls == [_User.password_hash] * 2


def test_the_sign_in_form_and_the_token_route_share_it():
    from dashboard.auth import jwt_views
    from dashboard.auth import views
    assert jwt_views.check_password is check_password and views.check_password is check_password
