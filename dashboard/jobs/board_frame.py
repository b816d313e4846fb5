"""What frames a board's rows: the viewer's locations, the last successful sync, whether a sync covered the day.

Each of these is a query, and a board asks for all three on every render. After a change,
eight open boards each render their own view: three queries apiece (and 66 Location
objects loaded through the ORM) were a third of what a view cost once the day was read.
All three move only with two of board_version's parts (locations: their count and newest
sync; runs: the newest successful one), so they are kept per (company, day, those parts,
the viewer's locations), as plain values: a job's edit, which moves the rest of the
version, leaves them be.
"""
from collections import namedtuple

from dashboard.jobs import day_snapshot
from dashboard.jobs.queries import VERSION_LAST_SUCCESS
from dashboard.jobs.queries import VERSION_LOCATIONS
from dashboard.jobs.queries import day_is_synced
from dashboard.jobs.queries import locations_for
from dashboard.jobs.render_cache import OnceCache
from dashboard.permissions import visible_location_ids
from dashboard.sync import history

# A location as the board's filters and groups show it (plain values: kept beyond the request's session).
Place = namedtuple("Place", "id name company_id")

# (locations as Places, when the last successful sync finished or None, a sync covered the day).
Frame = namedtuple("Frame", "locations last_synced synced")

frames = OnceCache(64, share=0.01, rank=35)
day_snapshot.dependents.append(frames)


def board_frame(user, company_id, day, version=None):
    """The Frame of user's board of company_id's day; version: board_version(user, day) when the board read it
    (then kept; a super admin's board, which spans companies, reads it every time)."""
    if version is None or not day_snapshot.serves(user) or company_id != user.company_id:
        return _read(user, company_id, day)
    visible = visible_location_ids(user)
    key = (company_id, day, version[VERSION_LOCATIONS], version[VERSION_LAST_SUCCESS],
           None if visible is None else frozenset(visible))
    return frames.get_or_build(key, lambda: _read(user, company_id, day))


def _read(user, company_id, day):
    last_run = history.last_finished_run(company_id, successful_only=True)
    return Frame([Place(loc.id, loc.name, loc.company_id) for loc in locations_for(user)],
                 last_run.finished_at if last_run else None, day_is_synced(company_id, day))
