"""The company's crew members as dispatch reads them: names to ids, ids to roles, in one query.

A crew name typed or picked for a job resolves to a CrewMember when exactly one active
person has that name (case- and spacing-insensitive); an ambiguous or unknown name stays a
typed name (id None). Ids sent by the UI or the API win over names.
"""
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.db import db
from dashboard.jobs.render_cache import OnceCache
from dashboard.models import CrewMember
from dashboard.models import CrewRole

_ROLES = frozenset(role.value for role in CrewRole)


def name_key(name):
    """A name as compared: spacing tidied, case folded."""
    return " ".join(str(name).split()).casefold()


def role_of(role, role_name):
    """Our role, else SmartMoving's role_name when it is one of ours ("Driver" -> driver), else None."""
    if role:
        return role
    folded = (role_name or "").strip().casefold()
    return folded if folded in _ROLES else None


@dataclass(frozen=True)
class Person:
    """One crew member: what pickers, conflicts and readiness need of them."""
    id: int
    name: str
    role: str | None
    active: bool
    location_id: int | None


class Roster:
    """A company's crew members by id and by name."""

    def __init__(self, people):
        self.by_id = {person.id: person for person in people}
        self.by_name = {}
        # A company that gives nobody the driver role does not use roles: "no driver" says nothing there.
        self.has_drivers = any(person.role == "driver" for person in people)
        for person in people:
            self.by_name.setdefault(name_key(person.name), []).append(person)
        # name_key -> the one active person of that name (the conflict engine asks per person per job).
        self.by_key = {}
        for key, named in self.by_name.items():
            active = [person for person in named if person.active]
            if len(active) == 1:
                self.by_key[key] = active[0]

    def unique(self, name):
        """The one active person called name, else None (nobody, or several: ambiguous)."""
        return self.by_key.get(name_key(name))

    def person_of(self, key, member_id):
        """person_for with the name already as name_key (key)."""
        return self.by_id.get(member_id) if member_id is not None else self.by_key.get(key)

    def person_for(self, name, member_id=None):
        """The Person behind one crew entry: by id when it has one, else by a unique active name."""
        if member_id is not None:
            return self.by_id.get(member_id)
        return self.unique(name)

    def role(self, name, member_id=None):
        """The role of one crew entry's person, or None."""
        person = self.person_for(name, member_id)
        return person.role if person else None


# Rosters by (company, fingerprint): every board read of a day needs its company's roster, and a
# company of thousands of people took longer to read than the day's jobs.
rosters = OnceCache(8, share=0.30, rank=50, sizer=lambda key, roster: 200 + len(roster.by_id) * _PERSON_BYTES)

# A Person in a Roster's three maps (its dataclass, name, name key), as measured: sizing thousands of
# people one by one on every read would cost more than the read.
_PERSON_BYTES = 480


def fingerprint_parts(company_id):
    """The selects of a company's crew fingerprint (every company's: None), (newest id,) and (newest change,): it
    moves with every change a Roster shows (people are added, never deleted; every write stamps changed_at).
    Each aggregate is alone in its select, so SQLite and PostgreSQL answer it with one seek into an index;
    board_version reads them on every poll (so a role edit reaches open boards)."""
    parts = [sa.select(sa.func.max(CrewMember.id)), sa.select(sa.func.max(CrewMember.changed_at))]
    return parts if company_id is None else [part.where(CrewMember.company_id == company_id) for part in parts]


def fingerprint(company_id):
    """fingerprint_parts of company_id, read in one statement."""
    return tuple(db.session.execute(sa.select(*(part.scalar_subquery() for part in fingerprint_parts(company_id))))
                 .one())


def forget():
    """Drop every kept roster (a new app or database)."""
    rosters.clear()


def load(company_id, known=None):
    """The Roster of company_id: kept while its fingerprint holds (one aggregate query, none when the caller read
    it already (known): board_version's crew part), else read (one more)."""
    key = (company_id, tuple(known) if known is not None else fingerprint(company_id))
    return rosters.get_or_build(key, lambda: _read(company_id))


def _read(company_id):
    """The Roster of company_id, read (one query)."""
    rows = db.session.execute(
        sa.select(CrewMember.id, CrewMember.name, CrewMember.role, CrewMember.role_name, CrewMember.status,
                  CrewMember.location_id).where(CrewMember.company_id == company_id)
    ).all()
    return Roster([Person(member_id, name, role_of(role, role_name), (status or "active").casefold() == "active",
                          location_id)
                   for member_id, name, role, role_name, status, location_id in rows])


def aligned_ids(names, ids):
    """ids as a list aligned with names (None where unknown); a list of another length counts as unknown."""
    names = list(names or ())
    ids = list(ids or ())
    return ids if len(ids) == len(names) else [None] * len(names)


def effective_ids(job):
    """The CrewMember ids aligned with job.effective_crew (ours when we assigned a crew, else SmartMoving's)."""
    crew = getattr(job, "crew", None)
    if crew:
        return aligned_ids(crew, getattr(job, "crew_member_ids", None))
    return aligned_ids(getattr(job, "smartmoving_crew", None), getattr(job, "smartmoving_crew_ids", None))
