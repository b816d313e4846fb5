"""Older test worlds name people on crews ("Sam Driver"); My jobs now follows a user's link to a crew member.

link_user_by_name gives such a user the crew member of that name in their company (made when
missing) and writes that member's id into the aligned id lists of the company's jobs that name
them: what a sync (smartmoving_crew_ids) or the assign panel (crew_member_ids) would have stored.
Jobs of other companies are never touched, so a same-named person elsewhere stays a stranger.
"""
import sqlalchemy as sa

from dashboard.auth.users import link_crew_member
from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import TruckJourney


def _key(name):
    return " ".join(str(name).split()).casefold()


def crew_member_named(company_id, name):
    """The company's crew member called name (case and spacing ignored), created when missing (flushed)."""
    for member in db.session.scalars(sa.select(CrewMember).where(CrewMember.company_id == company_id)):
        if _key(member.name) == _key(name):
            return member
    member = CrewMember(company_id=company_id, external_id=f"crew-{_key(name).replace(' ', '-')}", name=name,
                       status="Active")
    db.session.add(member)
    db.session.flush()
    return member


def crew_ids_for(company_id, names):
    """The ids aligned with names: the company's crew member of each name when there is exactly one, else None."""
    by_key = {}
    for member in db.session.scalars(sa.select(CrewMember).where(CrewMember.company_id == company_id)):
        by_key.setdefault(_key(member.name), []).append(member.id)
    matches = [by_key.get(_key(name), []) for name in names]
    return [ids[0] if len(ids) == 1 else None for ids in matches]


def _with_id(names, ids, member):
    """ids (aligned with names) with member's id wherever names name them; None when nothing changes."""
    names = list(names or [])
    aligned = list(ids or []) + [None] * (len(names) - len(ids or []))
    changed = False
    for index, name in enumerate(names):
        if _key(name) == _key(member.name) and aligned[index] != member.id:
            aligned[index] = member.id
            changed = True
    return aligned if changed else None


def link_user_by_name(user, name):
    """Link user to their company's crew member called name and put that id on the jobs naming them (flushed)."""
    member = crew_member_named(user.company_id, name)
    link_crew_member(user, member)
    for job in db.session.scalars(sa.select(TruckJourney).where(TruckJourney.company_id == user.company_id)):
        ours = _with_id(job.crew, job.crew_member_ids, member)
        if ours is not None:
            job.crew_member_ids = ours
        theirs = _with_id(job.smartmoving_crew, job.smartmoving_crew_ids, member)
        if theirs is not None:
            job.smartmoving_crew_ids = theirs
    db.session.flush()
    return member
