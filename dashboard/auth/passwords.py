"""Password hashing with Argon2id at OWASP's minimum parameters (19 MiB, 2 passes, 1 lane)."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from argon2.low_level import Type

# Parameters are stored inside each hash, so raising them later re-hashes on next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)

MIN_PASSWORD_LENGTH = 10


def hash_password(password):
    """Return an Argon2id hash string for password."""
    return _hasher.hash(password)


def verify_password(password_hash, password):
    """True when password matches password_hash; False for a mismatch or a damaged hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# The decoy hash an unknown email is checked against, made on first use (hashing costs ~50 ms).
_decoy_hash = None


def verify_unknown_user(password):
    """Spend the time of one password check for an email nobody has, and return False.

    A sign-in (or token request) for an unknown email then takes as long to refuse as
    a wrong password for a real account, so the answer time does not tell which emails exist.
    """
    global _decoy_hash
    if _decoy_hash is None:
        _decoy_hash = hash_password("not-a-real-password-at-all")
    verify_password(_decoy_hash, password)
    return False


def check_password(user, password):
    """True when user exists and password is theirs; an unknown user (None) costs the same time (False)."""
    if user is None:
        return verify_unknown_user(password)
    return verify_password(user.password_hash, password)


def needs_rehash(password_hash):
    """True when the stored hash uses weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def password_problem(password):
    """Why password is unacceptable, or None when it is fine."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > 256:
        return "Use at most 256 characters."
    return None
