"""Idempotent writes of synced records, keyed by (company, external id).

Only SmartMoving-owned columns are ever written; the local dispatch fields (truck,
crew, notes, dispatch status) are not in any record, so no sync can touch them.
A record equal to what is stored writes nothing: a second sync of unchanged data
issues no UPDATE at all. Plain SELECT + executemany keeps one code path for SQLite
and PostgreSQL; the lease guarantees a single writer.
"""
import sqlalchemy as sa

from dashboard.changes import service as change_log
from dashboard.db import db
from dashboard.models import CrewMember
from dashboard.models import DataSource
from dashboard.models import Location
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney

CHUNK = 500

# Columns a journey record may carry (anything else in a record is a bug).
JOURNEY_SYNC_COLUMNS = frozenset({
    "external_id", "opportunity_external_id", "job_number", "quote_number", "customer_name", "customer_phone",
    "customer_email", "estimated_value_cents", "scheduled_date", "origin_address", "destination_address",
    "arrival_window", "arrival_start_hour", "span_start", "span_end", "actual_charges_cents", "tips_cents",
    "smartmoving_crew", "smartmoving_crew_ids", "crew_required", "status", "job_type", "external_data",
    "content_hash", "location_id", "sync_status", "sync_error", "removed_at",
})


def chunks(items, size=CHUNK):
    """Slices of at most size items (keeps IN lists and parameter counts small)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _existing_by_external_id(model, company_id, external_ids, columns):
    """{external_id: row mapping} of the stored rows among external_ids, selected in chunks."""
    found = {}
    wanted = [model.id, model.external_id] + [getattr(model, name) for name in columns]
    for chunk in chunks(list(external_ids)):
        stmt = sa.select(*wanted).where(model.company_id == company_id, model.external_id.in_(chunk))
        for row in db.session.execute(stmt).mappings():
            found[row["external_id"]] = row
    return found


def _existing_by_id(model, ids_by_external_id, columns):
    """{external_id: row mapping} of rows whose primary keys the caller already knows.

    A primary-key lookup has one plan whatever the planner's statistics say; the
    `company_id = ? AND external_id IN (...)` form may be planned on the company/date
    index and read the company's every row per batch (PostgreSQL before ANALYZE).
    """
    found = {}
    wanted = [model.id, model.external_id] + [getattr(model, name) for name in columns]
    for chunk in chunks(list(ids_by_external_id.values())):
        for row in db.session.execute(sa.select(*wanted).where(model.id.in_(chunk))).mappings():
            found[row["external_id"]] = row
    return found


def _differs(stored, record):
    return any(stored[name] != value for name, value in record.items() if name != "external_id")


def upsert_records(model, company_id, records, now, extra_insert=None, known_ids=None, watch=None, written=None):
    """Insert new records, update changed ones, leave equal ones alone; returns (created, updated, unchanged).

    records: dicts of column values including external_id. Each written row gets
    last_sync_at = now; unchanged rows keep theirs (nothing is written).

    known_ids ({external_id: id}, e.g. the window's rows read once per run) replaces
    the lookup by external id: known rows are read by primary key, and the others are
    inserted with ON CONFLICT DO UPDATE, so a row the map missed (a job moved in from
    another date) is found by its conflict and updated instead (counted as created).

    watch (changes.service.Watch): also reads watch.columns of the stored rows and hands
    watch.updated the (stored row, record) pairs of every update, from rows read anyway.

    written: column values set on every row written (inserted or updated), never compared
    (the crew's changed_at: an unchanged row keeps its stamp).
    """
    if not records:
        return 0, 0, 0
    unknown = set().union(*records) - ({c.key for c in model.__table__.columns} - {"id", "company_id"})
    if unknown:
        raise ValueError(f"not columns of {model.__tablename__}: {sorted(unknown)}")
    columns = sorted(set().union(*records) - {"external_id"})
    read = sorted(set(columns) | set(watch.columns)) if watch else columns
    if known_ids is None:
        stored = _existing_by_external_id(model, company_id, [r["external_id"] for r in records], read)
    else:
        stored = _existing_by_id(model, {r["external_id"]: known_ids[r["external_id"]] for r in records
                                         if r["external_id"] in known_ids}, read)
    inserts, updates, unchanged, changed = [], [], 0, []
    for record in records:
        row = stored.get(record["external_id"])
        if row is None:
            inserts.append({**(extra_insert or {}), **record, **(written or {}), "company_id": company_id,
                            "last_sync_at": now})
        elif _differs(row, record):
            updates.append({**record, **(written or {}), "id": row["id"], "last_sync_at": now})
            changed.append((row, record))
        else:
            unchanged += 1
    if watch is not None:
        watch.updated(changed + _moved_in(model, company_id, inserts if known_ids else (), read))
    _execute_updates(model, updates)
    if known_ids is None:
        _execute_inserts(model, inserts)
    else:
        _insert_or_update(model, inserts, keep=set(extra_insert or ()))
    return len(inserts), len(updates), unchanged


def _moved_in(model, company_id, inserts, read):
    """(stored row, record) of the known-ids path's inserts that meet a stored row (a job moved in from another date).

    Only a batch with inserts asks, once; in a steady sync those are the few new jobs.
    """
    if not inserts:
        return []
    moved = _existing_by_external_id(model, company_id, [r["external_id"] for r in inserts], read)
    return [(moved[r["external_id"]], r) for r in inserts if r["external_id"] in moved]


def _execute_inserts(model, inserts):
    """Run the INSERTs as one Core executemany per distinct set of columns.

    The ORM's bulk insert leaves out every None value, which splits a batch into one
    statement per None pattern (five or so per batch of jobs, each a round trip on
    PostgreSQL). Here None is sent as NULL, which is what leaving the column out
    means anyway, except for columns with a default: those still leave it out.
    """
    for rows in _by_shape(model, inserts):
        db.session.execute(sa.insert(model.__table__), rows)


def _by_shape(model, inserts):
    """Insert rows grouped by their set of columns (None left out only where a column has a default)."""
    table = model.__table__
    defaulted = {c.key for c in table.columns if c.default is not None or c.server_default is not None}
    by_shape = {}
    for row in inserts:
        row = {k: v for k, v in row.items() if v is not None or k not in defaulted}
        by_shape.setdefault(tuple(sorted(row)), []).append(row)
    return list(by_shape.values())


def _insert_or_update(model, inserts, keep):
    """INSERT ... ON CONFLICT DO UPDATE of the record's own columns, one executemany per shape.

    Rows missing from the window's map are almost always new; a job moved in from
    another date meets its old row through the unique key and is updated in place
    (the columns in keep, set only on insert, and local fields stay as they are).
    Plain executemany, not RETURNING: the same short statement every batch, which
    the driver prepares once (a multi-row RETURNING statement is parsed anew each time).
    """
    table = model.__table__
    insert = dialect_insert()
    for rows in _by_shape(model, inserts):
        stmt = insert(table)
        columns = [name for name in rows[0] if name not in keep | {"company_id", "external_id"}]
        db.session.execute(stmt.on_conflict_do_update(index_elements=["company_id", "external_id"],
                                                      set_={name: stmt.excluded[name] for name in columns}), rows)


def dialect_insert():
    """The INSERT construct with ON CONFLICT for the engine's dialect (SQLite or PostgreSQL)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _execute_updates(model, updates):
    """Run UPDATE ... WHERE id = ? as one executemany per distinct set of columns."""
    by_shape = {}
    for update in updates:
        by_shape.setdefault(tuple(sorted(update)), []).append(update)
    for shape, rows in by_shape.items():
        values = {name: sa.bindparam(f"v_{name}") for name in shape if name != "id"}
        stmt = sa.update(model.__table__).where(model.__table__.c.id == sa.bindparam("v_id")).values(values)
        db.session.execute(stmt, [{f"v_{k}": v for k, v in row.items()} for row in rows])


def upsert_journeys(company_id, records, now, known_ids=None, change_source=None):
    """Upsert job records; new rows start UNASSIGNED with no local dispatch data.

    change_source (changes.service.ChangeSource): record what SmartMoving changed in stored jobs.
    """
    for record in records:
        extra = set(record) - JOURNEY_SYNC_COLUMNS
        if extra:
            raise ValueError(f"sync may not write {sorted(extra)}")
    return upsert_records(TruckJourney, company_id, records, now,
                          extra_insert={"data_source": DataSource.SMARTMOVING.value, "dispatch_status": "UNASSIGNED"},
                          known_ids=known_ids,
                          watch=change_log.Watch(company_id, change_source) if change_source else None)


def mark_details_read(company_id, opportunity_ids, at):
    """Stamp details_as_of on the jobs of opportunities whose detail was just read (changed or not)."""
    for chunk in chunks(sorted(set(opportunity_ids))):
        db.session.execute(sa.update(TruckJourney).where(
            TruckJourney.company_id == company_id, TruckJourney.opportunity_external_id.in_(chunk))
            .values(details_as_of=at))


def upsert_locations(company_id, records, now):
    """Upsert branches as SMARTMOVING locations."""
    records = [{**r, "data_source": DataSource.SMARTMOVING.value, "sync_status": SyncStatus.SYNCED.value}
               for r in records]
    return upsert_records(Location, company_id, records, now)


# Crew columns that are ours (edited on /crew): no sync record may carry them.
CREW_OWN_COLUMNS = frozenset({"role", "phone", "email", "notes"})


def upsert_crew(company_id, records, now, stamp=None):
    """Upsert SmartMoving crew members (never our own fields: role, phone, email, notes).

    stamp: the written rows' changed_at, from stamps.ordered_stamp inside the write transaction (the
    roster's newest stamp is what open boards compare; without it, the column's default, utcnow).
    """
    for record in records:
        if CREW_OWN_COLUMNS & set(record):
            raise ValueError(f"sync may not write {sorted(CREW_OWN_COLUMNS & set(record))}")
    return upsert_records(CrewMember, company_id, records, now,
                          written={"changed_at": stamp} if stamp is not None else None)


def fill_empty_crew_roles(company_id, roles_by_external_id, stamp=None):
    """Give crew members whose role (ours) is still empty SmartMoving's suggested one; never overwrites.

    stamp: as upsert_crew's."""
    stamped = {"changed_at": stamp} if stamp is not None else {}
    by_role = {}
    for external_id, role in roles_by_external_id.items():
        if role:
            by_role.setdefault(role, []).append(external_id)
    for role, external_ids in by_role.items():
        for chunk in chunks(external_ids):
            db.session.execute(sa.update(CrewMember).where(
                CrewMember.company_id == company_id, CrewMember.role.is_(None),
                CrewMember.external_id.in_(chunk)).values(role=role, **stamped))


def remove_journeys(journey_ids, now, reason):
    """Mark journeys REMOVED (never deleted: local dispatch data stays)."""
    for chunk in chunks(list(journey_ids)):
        db.session.execute(
            sa.update(TruckJourney).where(TruckJourney.id.in_(chunk))
            .values(sync_status=SyncStatus.REMOVED.value, removed_at=now, sync_error=reason, last_sync_at=now,
                    removal_pending_at=None, removal_reason=None)
        )
    return len(journey_ids)
