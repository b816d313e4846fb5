"""The Syncer: one run's pipeline, SmartMoving's jobs for a day window into our database.

Steps (see docs/smartmoving-api.md §8):
1. reference data (branches -> locations, crew members) when older than its TTL;
2. the customers sweep for [day, day + 1] in the company's zone, every page;
3. opportunity detail only for opportunities that are new, changed in the sweep,
   failed last time, or older than the refresh TTL;
4. idempotent upserts, a few opportunities per short transaction;
5. after a *complete* sweep, soft-remove jobs of the window it no longer returned,
   once SmartMoving itself confirms they are gone; a mass removal is held for a
   second opinion (sync.removals) so an upstream fault never empties the board. A job
   whose opportunity detail dates it outside the window was moved, not removed: it is
   stored with its new date (a `date` change), from detail the run read anyway.
No transaction is ever open during an HTTP call. The runner (sync.service) takes the
lease, builds a Syncer, executes it and drains webhook events before letting go; webhook
processing builds one too, for its detail reads (Syncer.refresh_opportunities).
"""
import logging
import threading
import time
from datetime import date
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from dashboard.changes.service import ChangeSource
from dashboard.db import db
from dashboard.db import is_deadlock
from dashboard.db import is_unavailable
from dashboard.db import refuses_data
from dashboard.error_text import describe_error
from dashboard.models import ApiCall
from dashboard.models import Company
from dashboard.models import CrewMember
from dashboard.models import DataSource
from dashboard.models import Location
from dashboard.models import OpportunitySyncState
from dashboard.models import RunStatus
from dashboard.models import SyncRun
from dashboard.models import SyncStatus
from dashboard.models import TruckJourney
from dashboard.models import utcnow
from dashboard.smartmoving import normalize
from dashboard.smartmoving.errors import AuthError
from dashboard.smartmoving.errors import BudgetExhausted
from dashboard.smartmoving.errors import DeadlineExceeded
from dashboard.smartmoving.errors import MalformedResponse
from dashboard.smartmoving.errors import NotFound
from dashboard.smartmoving.errors import RateLimitExhausted
from dashboard.smartmoving.errors import SmartMovingError
from dashboard.stamps import ordered_stamp
from dashboard.sync import freshness
from dashboard.sync import removals
from dashboard.sync import unfinished
from dashboard.sync import upsert
from dashboard.sync import usage
from dashboard.sync.clients import client_for
from dashboard.sync.history import summarize
from dashboard.sync.lease import lease_name_for

log = logging.getLogger(__name__)

# Errors after which no further call can succeed in this run.
FATAL_ERRORS = (AuthError, BudgetExhausted, DeadlineExceeded, RateLimitExhausted)
# Opportunities written per transaction. Each commit costs a round trip and a flush
# whatever its size, so 100 (about 110 jobs, tens of milliseconds) keeps a 100,000-job
# first sync's SQL near a minute while no transaction is long. SYNC_WRITE_BATCH overrides
# it (drills use a small one to kill a run between batches).
WRITE_BATCH_OPPORTUNITIES = 100
SWEEP_RESTARTS = 2
PROGRESS_EVERY_SECONDS = 2.0
# An opportunity the sweep lists but whose detail answers 404 is re-asked only when
# its sweep entry changes or after this backoff (doubling per miss, capped).
NOT_FOUND_BACKOFF = timedelta(hours=1)
NOT_FOUND_BACKOFF_MAX = timedelta(hours=24)


class LeaseLost(Exception):
    """Our lease expired and may be held by another runner: stop writing at once."""


# ---------------------------------------------------------------- reading and writing a window

def read_window(company_id, start, end):
    """The window's stored jobs and opportunity states, one query each: (ids, sync statuses, states).

    ids and statuses are keyed by job external id, states by opportunity id. Both
    queries go through the company/date index, so their cost does not depend on the
    planner's statistics (per-batch `external_id IN (...)` lookups did: PostgreSQL
    before ANALYZE read the company's every row per batch).
    """
    in_window = sa.select(TruckJourney.id, TruckJourney.external_id, TruckJourney.sync_status,
                          TruckJourney.opportunity_external_id).where(
        TruckJourney.company_id == company_id, TruckJourney.data_source == DataSource.SMARTMOVING.value,
        TruckJourney.scheduled_date >= start, TruckJourney.scheduled_date <= end)
    jobs = db.session.execute(in_window).all()
    states = {}
    if any(row.opportunity_external_id for row in jobs):
        window_opportunities = in_window.with_only_columns(TruckJourney.opportunity_external_id).subquery()
        for state in db.session.execute(sa.select(
                OpportunitySyncState.external_id, OpportunitySyncState.sweep_hash,
                OpportunitySyncState.detail_fetched_at, OpportunitySyncState.failures,
                OpportunitySyncState.not_found_count, OpportunitySyncState.next_check_at).where(
                OpportunitySyncState.company_id == company_id,
                OpportunitySyncState.external_id.in_(sa.select(window_opportunities.c.opportunity_external_id)))):
            states[state.external_id] = tuple(state)[1:]
    db.session.commit()
    return ({row.external_id: row.id for row in jobs}, {row.external_id: row.sync_status for row in jobs}, states)


def save_states(session, company_id, states):
    """Record what a batch learnt of each opportunity: one INSERT ... ON CONFLICT DO UPDATE."""
    if not states:
        return
    stmt = upsert.dialect_insert()(OpportunitySyncState.__table__)
    names = [name for name in states[0] if name != "external_id"]
    session.execute(stmt.on_conflict_do_update(index_elements=["company_id", "external_id"],
                                               set_={name: stmt.excluded[name] for name in names}),
                    [{"company_id": company_id, **values} for values in states])


# ---------------------------------------------------------------- the work

class Syncer:
    """Carries one run's state; every database write is a short transaction of its own."""

    def __init__(self, company, run, owner, client=None, lease_lost=None):
        self.config = current_app.config
        self.lease_lost = lease_lost if lease_lost is not None else threading.Event()
        self.company = company
        self.company_id = company.id
        self.run_id = run.id
        self.owner = owner
        self.lease_name = lease_name_for(company.id)
        self.start, self.end = run.window_start, run.window_end
        self.pending_calls = []
        self.stats = {key: 0 for key in ("pages_fetched", "jobs_seen", "opportunities_seen", "opportunities_to_enrich",
                                         "opportunities_enriched", "opportunities_failed", "created", "updated",
                                         "unchanged", "removed", "removals_held", "malformed_records")}
        self.not_found_counts = {}
        self.warnings = []
        self.skipped = []          # (opportunity id, reason) the database refused to store
        self.phase = "starting"
        self.last_progress = 0.0
        self.crew_by_id = {}
        self.crew_ids = normalize.CrewIds({}, {})
        self.default_job_hours = self.config["DEFAULT_JOB_HOURS"]
        self.location_by_name = {}
        self.reference_refreshed = False
        self.known_ids = None
        self.stored_status = None   # {job external id: sync status} of the window, once a sweep read it
        # Names what SmartMoving changed in stored jobs (changes.service); webhook work sets it per event.
        self.change_source = ChangeSource.for_run(run.id) if run.id is not None else ChangeSource.for_webhook()
        self.webhook_for = {}       # {opportunity id: webhook event id} of the webhook work asking for it
        self.details_read = set()   # opportunity ids whose detail this run read whole (the removal rule trusts it)
        self.moved_out = []         # external ids of window jobs a detail of this run dated outside the window
        self.client = client
        if client is not None and getattr(client, "on_call", None) is None:
            client.on_call = self.pending_calls.append

    # -- bookkeeping

    def _sleep_with_heartbeat(self, seconds):
        """Sleep (e.g. a 429 wait) in slices, renewing the lease so a long wait cannot lose it."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 5.0))
            self.heartbeat(force=remaining > 5.0)

    def check_lease(self):
        """Raise LeaseLost once the lease keeper could not renew our lease: nothing more may be written."""
        if self.lease_lost.is_set():
            raise LeaseLost("This run lost its lease (it could not be renewed in time) and stopped writing; "
                            "another sync may have taken over. The next sync completes the data.")

    def heartbeat(self, force=False):
        """Write progress, at most every few seconds unless forced (the LeaseKeeper thread renews the lease)."""
        self.check_lease()
        if not force and time.monotonic() - self.last_progress < PROGRESS_EVERY_SECONDS:
            return
        with db.write_transaction() as session:
            self._flush_calls(session)
            self._write_progress(session)
        self.last_progress = time.monotonic()

    def _write_progress(self, session):
        """The run's counters, inside the transaction that wrote the rows they count (exact after kill -9)."""
        session.execute(sa.update(SyncRun).where(SyncRun.id == self.run_id)
                        .values(heartbeat_at=utcnow(), phase=self.phase, **self._progress()))

    def _progress(self):
        values = dict(self.stats)
        values["api_calls"] = getattr(self.client, "calls_made", 0)
        values["rate_limited"] = getattr(self.client, "rate_limited", 0)
        return values

    def _flush_calls(self, session):
        """Write buffered ledger rows (done inside whatever write transaction comes next)."""
        if not self.pending_calls:
            return
        calls, self.pending_calls[:] = list(self.pending_calls), []
        session.execute(sa.insert(ApiCall), [
            {"company_id": self.company_id, "sync_run_id": self.run_id, "method": c.get("method", "GET"),
             "path": str(c.get("path", ""))[:300], "status_code": c.get("status_code"),
             "duration_ms": c.get("duration_ms"), "error": (c.get("error") or None) and str(c["error"])[:300],
             "called_at": c.get("called_at") or utcnow()}
            for c in calls
        ])

    def set_phase(self, phase):
        self.phase = phase
        self.heartbeat(force=True)

    # -- the run

    def execute(self):
        status, error = RunStatus.SUCCESS, None
        try:
            if self.client is None:
                deadline = time.monotonic() + self.config["SYNC_DEADLINE_SECONDS"]
                self.client = client_for(self.company, on_call=self.pending_calls.append, deadline=deadline,
                                         sleep=self._sleep_with_heartbeat)
            self.set_phase("reference")
            self.load_reference()
            self.set_phase("sweep")
            opportunities, sweep_complete, sweep_error = self.sweep()
            if isinstance(sweep_error, MalformedResponse):
                # A customer list we cannot read proves nothing: no detail calls, no removals.
                status = RunStatus.FAILED
                error = (f"The sweep (SmartMoving's customer list) was not in the documented shape "
                         f"({sweep_error}); nothing was changed and no job was removed.")
                self.finish(status, error)
                return
            self.set_phase("enrich")
            fatal = self.enrich_and_store(opportunities)
            if sweep_complete and fatal is None:
                self.set_phase("presence")
                self.remove_missing(opportunities)
            if sweep_error is not None:
                status = RunStatus.FAILED
                error = (f"The sweep stopped early ({sweep_error}); "
                         "jobs already read were saved, none were marked removed.")
            elif isinstance(fatal, BudgetExhausted):
                left = self.stats["opportunities_to_enrich"] - self.stats["opportunities_enriched"]
                status, error = RunStatus.PARTIAL, (
                    f"Stopped at this run's budget of {self.config['SMARTMOVING_CALL_BUDGET']:,} SmartMoving "
                    f"calls with {left:,} opportunit{'y' if left == 1 else 'ies'} still to read: their jobs are "
                    "shown from the customer list, and the next sync reads them first. No job was removed.")
            elif fatal is not None:
                status, error = RunStatus.FAILED, f"Stopped: {fatal}"
            elif self._partial_reasons():
                status, error = RunStatus.PARTIAL, " ".join(self._partial_reasons())
        except LeaseLost as lost:
            status, error = RunStatus.FAILED, str(lost)
        except SmartMovingError as failure:
            status, error = RunStatus.FAILED, str(failure)
        except Exception as failure:  # keep the run row honest whatever went wrong
            log.exception("sync run %s failed", self.run_id)
            db.discard_session()   # a lost connection cannot even roll back
            # Class and short message only: a database error's text would carry SQL and row values.
            status, error = RunStatus.FAILED, f"Unexpected error: {describe_error(failure)}"
        self.finish(status, error)

    def _partial_reasons(self):
        """Sentences for what kept this run from being a clean SUCCESS (empty when nothing did)."""
        reasons = []
        failed, held, malformed = (self.stats[k] for k in ("opportunities_failed", "removals_held",
                                                            "malformed_records"))
        if failed:
            reasons.append(f"{failed} opportunit{'y' if failed == 1 else 'ies'} could not be read; "
                           "they will be retried on the next sync.")
        if held:
            reasons.append(f"{held} job{'' if held == 1 else 's'} vanished from SmartMoving at once: the removals "
                           "are held (shown as \"removal pending\") until the next sync or an admin confirms them.")
        if self.skipped:
            named = "; ".join(f"opportunity {opportunity_id}: {reason}" for opportunity_id, reason in self.skipped[:5])
            more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            reasons.append(f"{len(self.skipped)} opportunit{'y' if len(self.skipped) == 1 else 'ies'} could not be "
                           f"stored and {'was' if len(self.skipped) == 1 else 'were'} skipped ({named}{more}); "
                           "the rest of the data was saved.")
        if malformed and not failed:
            reasons.append(f"{malformed} record{'' if malformed == 1 else 's'} from SmartMoving were not in the "
                           "documented shape and were skipped.")
        return reasons

    def finish(self, status, error):
        """Record the run's outcome, retrying while the database is unreachable; else leave it behind."""
        values = dict(status=status.value, error=error, phase="done",
                      warnings=[normalize.clean_text(w) for w in self.warnings[:50]] or None, **self._progress())
        try:
            unfinished.while_database_down(lambda: self._record_outcome(values))
        except Exception as failure:
            if not is_unavailable(failure):
                raise
            # The next runner (or start-up) records it: see dashboard/sync/unfinished.py.
            unfinished.leave(self.run_id, self.owner, values)
            log.error("sync run %s ended %s but the database stayed unreachable; its outcome is kept for the "
                      "next run to record", self.run_id, status.value,
                      extra={"sync_run_id": self.run_id, "company_id": self.company_id})

    def _record_outcome(self, values):
        calls = list(self.pending_calls)
        try:
            self._write_outcome(values)
        except BaseException:
            self.pending_calls[:] = calls   # the ledger rows go with the next try
            raise
        run = db.session.get(SyncRun, self.run_id)
        db.session.refresh(run)
        log.info(summarize(run), extra={"sync_run_id": self.run_id, "company_id": self.company_id})

    def _write_outcome(self, values):
        with db.write_transaction() as session:
            self._flush_calls(session)
            # Only while still RUNNING: a runner that took over after we lost the lease
            # may already have closed this run.
            session.execute(sa.update(SyncRun).where(SyncRun.id == self.run_id,
                                                     SyncRun.status == RunStatus.RUNNING.value).values(
                finished_at=utcnow(), heartbeat_at=utcnow(), **values))

    # -- step 1: reference data

    def load_reference(self):
        """Refresh branches and crew when older than their TTL, then load the lookups jobs need."""
        ttl = timedelta(minutes=self.config["REFERENCE_REFRESH_MINUTES"])
        checked = db.session.scalar(sa.select(Company.reference_synced_at).where(Company.id == self.company_id))
        db.session.commit()
        if checked is None or utcnow() - checked > ttl:
            self.refresh_reference()
        self._load_lookups()

    def refresh_reference(self):
        branches = self.client.branches()
        crew = self.client.crew_members()
        now = utcnow()
        branch_records = [r for r in (normalize.branch_record(b) for b in branches) if r]
        crew_records = [r for r in (normalize.crew_record(m) for m in crew) if r]
        with db.write_transaction() as session:
            # The roster's stamp in commit order (dashboard/stamps.py): open boards compare its newest.
            stamp = ordered_stamp(self.company_id)
            self._flush_calls(session)
            upsert.upsert_locations(self.company_id, branch_records, now)
            self._place_crew(crew_records)
            upsert.upsert_crew(self.company_id, crew_records, now, stamp)
            upsert.fill_empty_crew_roles(self.company_id, {
                r["external_id"]: normalize.default_crew_role(r["role_name"]) for r in crew_records}, stamp)
            session.execute(sa.update(Company).where(Company.id == self.company_id).values(reference_synced_at=now))
        self.reference_refreshed = True

    def _place_crew(self, crew_records):
        """Set each crew record's location_id from its branch (a branch we do not know: no location)."""
        location_by_branch = dict(db.session.execute(
            sa.select(Location.external_id, Location.id).where(Location.company_id == self.company_id,
                                                               Location.external_id.is_not(None))).all())
        for record in crew_records:
            record["location_id"] = location_by_branch.get(record["branch_external_id"])

    def _load_lookups(self):
        crew_rows = db.session.execute(
            sa.select(CrewMember.external_id, CrewMember.name, CrewMember.id)
            .where(CrewMember.company_id == self.company_id)).all()
        self.crew_by_id = {external_id: name for external_id, name, _ in crew_rows}
        by_name = {}
        for _, name, member_id in crew_rows:
            by_name.setdefault(" ".join(name.split()).casefold(), []).append(member_id)
        self.crew_ids = normalize.CrewIds(
            by_external_id={external_id: member_id for external_id, _, member_id in crew_rows},
            by_unique_name={name: ids[0] for name, ids in by_name.items() if len(ids) == 1})
        self.location_by_name = {
            name.strip().casefold(): location_id for location_id, name in db.session.execute(
                sa.select(Location.id, Location.name).where(Location.company_id == self.company_id))
        }
        db.session.commit()

    # -- step 2: the sweep

    def sweep(self):
        """Read every sweep page; returns (opportunities, complete, error).

        Pages are offsets into a list that can change while we read it. When the
        total changes between pages, records have shifted under us: the sweep starts
        over (at most SWEEP_RESTARTS times), then counts as incomplete. A sweep that
        read fewer customers than its totalResults, or nothing at all while the window
        holds jobs, is incomplete too: it proves nothing, so nothing may be removed.
        """
        for attempt in range(SWEEP_RESTARTS + 1):
            opportunities, complete, error, shifted = self._sweep_once()
            if complete and not opportunities and self._window_has_jobs():
                return opportunities, False, ("SmartMoving's customer list came back empty although this window "
                                              "holds jobs")
            if not shifted:
                return opportunities, complete, error
            self.warnings.append(f"Sweep results changed while paging (pass {attempt + 1}); read again.")
        return opportunities, False, "the customer list kept changing while it was read"

    def _sweep_once(self):
        opportunities, total, jobs_seen, malformed, read = {}, None, 0, 0, 0
        try:
            for page, customers, envelope in self.client.customers_sweep(self.start, self.end):
                page_total = envelope.get("totalResults") if isinstance(envelope, dict) else None
                if total is not None and page_total is not None and page_total != total:
                    return opportunities, False, None, True
                total = page_total if total is None else total
                read += len(customers)   # every entry, malformed ones too: totalResults counts them
                customers, bad = self._screen_customers(page, customers)
                malformed += bad
                for opportunity_id, opportunity in normalize.sweep_opportunities(
                        customers, self.start, self.end, self.warnings).items():
                    replaced = opportunities.get(opportunity_id)
                    jobs_seen += len(opportunity.jobs) - (len(replaced.jobs) if replaced else 0)
                    opportunities[opportunity_id] = opportunity
                self.stats["pages_fetched"] += 1
                self.stats["opportunities_seen"] = len(opportunities)
                self.stats["jobs_seen"] = jobs_seen
                self.stats["malformed_records"] = malformed
                self.heartbeat()
        except FATAL_ERRORS:
            raise
        except SmartMovingError as error:
            return opportunities, False, error, False
        if isinstance(total, int) and not isinstance(total, bool) and read < total:
            return opportunities, False, (f"SmartMoving's customer list announced {total} customers but only {read} "
                                          "arrived: a page was missing or blank"), False
        return opportunities, True, None, False

    def _window_has_jobs(self):
        """True when the window holds a synced job that is not removed (an empty sweep would then be a fault)."""
        found = db.session.scalar(sa.select(TruckJourney.id).where(
            TruckJourney.company_id == self.company_id, TruckJourney.data_source == DataSource.SMARTMOVING.value,
            TruckJourney.scheduled_date >= self.start, TruckJourney.scheduled_date <= self.end,
            TruckJourney.sync_status != SyncStatus.REMOVED.value).limit(1))
        db.session.commit()
        return found is not None

    def _screen_customers(self, page, customers):
        """The well-formed customers of a page and how many were not; a page of nothing but junk is an error."""
        problems = [normalize.malformed_customer(customer) for customer in customers]
        good = [customer for customer, problem in zip(customers, problems, strict=True) if problem is None]
        bad = [problem for problem in problems if problem is not None]
        if bad and not good:
            raise MalformedResponse(f"page {page} held {len(bad)} entries and none was a customer ({bad[0]})",
                                    status=200, path="/api/customers")
        if bad:
            self.warnings.append(f"Sweep page {page}: skipped {len(bad)} malformed customer entr"
                                 f"{'y' if len(bad) == 1 else 'ies'} ({bad[0]}).")
        return good, len(bad)

    # -- step 3 and 4: enrich what changed, store everything

    def _needs_detail(self, opportunities):
        """Ids of opportunities whose detail must be (re)fetched this run."""
        self.known_ids, stored, states = read_window(self.company_id, self.start, self.end)
        self.stored_status = stored
        now = utcnow()
        cutoff = now - timedelta(minutes=self.config["OPPORTUNITY_REFRESH_MINUTES"])
        needed, kept = [], []
        self.not_found_counts = {oid: state[3] for oid, state in states.items() if state[3]}
        for opportunity_id, opportunity in opportunities.items():
            state = states.get(opportunity_id)
            removed = any(stored.get(job.job_id) == SyncStatus.REMOVED.value for job in opportunity.jobs)
            if (state is not None and state[3] and state[0] == opportunity.fingerprint
                    and state[4] is not None and state[4] > now and not removed):
                continue                             # 404 while listed: unchanged, backing off
            # (a job the sweep lists again but we hold REMOVED is always re-read: it comes back)
            current = state is not None and state[0] == opportunity.fingerprint and state[1] is not None
            complete = all(stored.get(job.job_id) == SyncStatus.SYNCED.value for job in opportunity.jobs)
            if not (current and complete) or state[2]:
                needed.append(opportunity_id)        # new, changed, failed or incomplete: always
            else:
                kept.append((opportunity_id, state[1], state[1] < cutoff))
        # Detail-only edits (money, crew, addresses) never show in the sweep, so old copies
        # are re-read within what the monthly quota allows: dispatched jobs of today and
        # tomorrow first, nearest start first, then the stalest (sync.freshness, plan.refresh_order).
        order = freshness.refresh_order(self.company, self.start, self.end, kept)
        allowance = self._refresh_allowance() if order else 0
        if len(order) > allowance:
            self.warnings.append(f"{len(order) - allowance} opportunity refreshes deferred to keep within "
                                 f"the monthly API quota.")
        # What an earlier run left unread (it stopped at its call budget, or failed) comes
        # first, so a run that stops at its budget is continued by the next.
        needed.sort(key=lambda opportunity_id: (opportunity_id not in states, opportunity_id))
        return needed + [opportunity_id for _, opportunity_id in order[:allowance]]

    def _refresh_allowance(self):
        """How many TTL refreshes this run may spend: what the quota plan leaves (sync.plan)."""
        if not self.config["SMARTMOVING_MONTHLY_QUOTA"]:
            return 10 ** 9
        return usage.plan_now(self.company_id).refresh_allowance  # looked up per call: tests replace it

    def enrich_and_store(self, opportunities):
        """Fetch detail where needed and upsert every job; returns the fatal error that stopped it, if any."""
        needed = self._needs_detail(opportunities)
        self.stats["opportunities_to_enrich"] = len(needed)
        needed_set = set(needed)
        # Jobs whose opportunity needs no detail are unchanged by definition.
        self.stats["unchanged"] += sum(len(o.jobs) for oid, o in opportunities.items() if oid not in needed_set)
        batch, fatal = [], None
        for opportunity_id in needed:
            opportunity = opportunities[opportunity_id]
            if fatal is not None:
                batch.append((opportunity, None, "PENDING", str(fatal)))
                continue
            try:
                detail = self.client.opportunity(opportunity_id)
                problem = normalize.malformed_detail(detail, opportunity_id)
                if problem is None:
                    batch.append((opportunity, detail, "OK", None))
                    # Counted as each detail arrives (the sync page shows it climbing), not per written batch.
                    self.stats["opportunities_enriched"] += 1
                else:
                    self.stats["malformed_records"] += 1
                    batch.append((opportunity, None, "FAILED", f"SmartMoving sent {problem}."))
            except NotFound as error:
                # The sweep still lists it, so a 404 is a failed call, never a deletion.
                # The gateway's 404 is transient (retried next run); the application's
                # is an upstream inconsistency that persists, so it backs off.
                if error.from_application:
                    batch.append((opportunity, None, "NOT_FOUND",
                                  "SmartMoving answered 404 for this opportunity although its customer list "
                                  "still shows it; kept as it was and re-checked later."))
                else:
                    batch.append((opportunity, None, "FAILED", f"{error} (the API gateway's 404: kept as it was)"))
            except FATAL_ERRORS as error:
                fatal = error
                batch.append((opportunity, None, "PENDING", str(error)))
            except MalformedResponse as error:
                self.stats["malformed_records"] += 1
                batch.append((opportunity, None, "FAILED", str(error)))
            except SmartMovingError as error:
                batch.append((opportunity, None, "FAILED", str(error)))
            if len(batch) >= (self.config.get("SYNC_WRITE_BATCH") or WRITE_BATCH_OPPORTUNITIES):
                self.store(batch)
                batch = []
            self.heartbeat()
        self.store(batch)
        return fatal

    def store(self, batch):
        """Write one batch of opportunities (records + their sync state) in one short transaction.

        A batch the database refuses for its data is written again one opportunity at a
        time, each in a savepoint: the ones it still refuses are skipped and named (the
        run ends PARTIAL), the rest are stored. A deadlock victim is written again once.
        """
        if not batch:
            return
        groups, unknown_branch = self._batch_groups(batch)
        self.check_lease()
        try:
            self._write_groups_retrying(groups, one_by_one=False)
        except Exception as error:
            if not refuses_data(error):
                raise
            self._write_groups_retrying(groups, one_by_one=True)
        if unknown_branch and not self.reference_refreshed:
            # A branch we have never seen: refresh once, the next run maps its jobs.
            self.warnings.append("A job names an unknown branch; branches were refreshed.")
            self.refresh_reference()
            self._load_lookups()

    def _batch_groups(self, batch):
        """[(opportunity id, its job records, its sync state)] of a batch, and whether a branch was unknown."""
        now = utcnow()
        groups = []
        unknown_branch = False
        for opportunity, detail, outcome, error in batch:
            records = []
            for job in opportunity.jobs + (self._moved_out_of_window(opportunity, detail) if outcome == "OK" else []):
                record = normalize.job_record(opportunity, job, detail if outcome == "OK" else None,
                                              self.crew_by_id, self.warnings, self.default_job_hours,
                                              crew_ids=self.crew_ids)
                branch_name = record.pop("branch_name", None)
                if outcome == "OK":
                    record["external_data"] = normalize.external_data(opportunity, job, detail)
                    record["sync_status"] = SyncStatus.SYNCED.value
                    record["sync_error"] = None
                    record["removed_at"] = None
                    if branch_name:
                        location_id = self.location_by_name.get(branch_name.strip().casefold())
                        unknown_branch |= location_id is None
                        record["location_id"] = location_id
                else:
                    record["sync_status"] = (SyncStatus.PENDING.value if outcome == "PENDING"
                                             else SyncStatus.FAILED.value)
                    record["sync_error"] = error or ""
                    record["removed_at"] = None
                records.append(normalize.fit_record(TruckJourney, record))
            if outcome == "OK":
                self.details_read.add(opportunity.opportunity_id)
                # A record without a date is not a move: the database refuses it below and the run names it.
                self.moved_out += [record["external_id"] for record in records
                                   if record.get("scheduled_date") is not None
                                   and not self.start <= record["scheduled_date"] <= self.end]
                state = self._state(opportunity, detail_fetched_at=now)
            elif outcome == "NOT_FOUND":
                self.stats["opportunities_failed"] += 1
                misses = self.not_found_counts.get(opportunity.opportunity_id, 0) + 1
                backoff = min(NOT_FOUND_BACKOFF * 2 ** (misses - 1), NOT_FOUND_BACKOFF_MAX)
                state = self._state(opportunity, sweep_hash=opportunity.fingerprint, not_found_count=misses,
                                    next_check_at=now + backoff, last_error=error)
            else:
                self.stats["opportunities_failed"] += outcome == "FAILED"
                state = self._state(opportunity, failures=1, last_error=error)
            groups.append((opportunity.opportunity_id, records, normalize.fit_record(OpportunitySyncState, state)))
        return groups, unknown_branch

    def _write_groups_retrying(self, groups, one_by_one):
        """_write_groups, once more if the database chose this transaction as a deadlock victim."""
        try:
            self._write_groups(groups, one_by_one)
        except sa.exc.OperationalError as error:
            if not is_deadlock(error):
                raise
            log.warning("sync run %s: a batch write was a deadlock victim; writing it again", self.run_id,
                        extra={"sync_run_id": self.run_id, "company_id": self.company_id})
            self._write_groups(groups, one_by_one)

    def _write_groups(self, groups, one_by_one):
        """Write groups in one transaction: all at once, or one opportunity per savepoint (skipping refusals).

        The run's counters and call ledger are put back as they were if the transaction fails.
        """
        stats, calls, skipped = dict(self.stats), list(self.pending_calls), len(self.skipped)
        try:
            with db.write_transaction() as session:
                self._flush_calls(session)
                # Stamped now that this batch writes, not when it was built: see dashboard/stamps.py.
                stamp = ordered_stamp(self.company_id)
                if one_by_one:
                    for group in groups:
                        self._write_group_or_skip(session, group, stamp)
                else:
                    self._count(self._write_rows(session, [r for g in groups for r in g[1]],
                                                 [g[2] for g in groups], stamp))
                self._write_progress(session)
        except BaseException:
            self.stats.update(stats)
            self.pending_calls[:] = calls
            del self.skipped[skipped:]
            raise

    def _write_rows(self, session, records, states, stamp):
        """Revive, upsert and record the states of records; returns (created, updated, unchanged)."""
        self._revive(records, stamp)
        counts = upsert.upsert_journeys(self.company_id, records, stamp, self.known_ids, self.change_source)
        save_states(session, self.company_id, states)
        # Read now, changed or not: the job shows how fresh its SmartMoving details are.
        upsert.mark_details_read(self.company_id, [s["external_id"] for s in states if s.get("detail_fetched_at")],
                                 stamp)
        return counts

    def _write_group_or_skip(self, session, group, stamp):
        """Write one opportunity in a savepoint; if the database refuses its data, skip it and say why."""
        opportunity_id, records, state = group
        try:
            with session.begin_nested():
                counts = self._write_rows(session, records, [state], stamp)
        except Exception as error:
            if not refuses_data(error):
                raise
            reason = describe_error(error)
            self.skipped.append((opportunity_id, reason))
            log.warning("sync run %s: opportunity %s could not be stored (%s); skipped", self.run_id,
                        opportunity_id, reason, extra={"sync_run_id": self.run_id, "company_id": self.company_id})
            self._note_skipped(session, state, reason)
            return
        self._count(counts)

    def _note_skipped(self, session, state, reason):
        """Mark a skipped opportunity failed, so the next run reads it again (best effort)."""
        try:
            with session.begin_nested():
                save_states(session, self.company_id, [{**state, "sweep_hash": None, "detail_fetched_at": None,
                                                        "failures": 1, "last_error": reason}])
        except Exception as error:
            if not refuses_data(error):
                raise

    def _count(self, counts):
        created, updated, unchanged = counts
        self.stats["created"] += created
        self.stats["updated"] += updated
        self.stats["unchanged"] += unchanged

    def _revive(self, records, now):
        """Revive (audited) the batch's stored jobs that were removed or held: SmartMoving shows them again.

        In a sweep the window's statuses are known (read_window), so only REMOVED ones are
        looked at (held ones the sweep lists are revived by remove_missing); a detail
        refresh looks its few jobs up.
        """
        statuses = self.stored_status
        external_ids = [record["external_id"] for record in records
                        if statuses is None or statuses.get(record["external_id"]) == SyncStatus.REMOVED.value]
        removals.revive(self.company_id, external_ids, now, source="detail" if statuses is None else "sweep",
                        change_source=self.change_source)

    @staticmethod
    def _state(opportunity, detail_fetched_at=None, sweep_hash=None, failures=0, not_found_count=0,
               next_check_at=None, last_error=None):
        """One opportunity's sync-state values (sweep_hash is the fingerprint a fetched detail matches)."""
        return {"external_id": opportunity.opportunity_id,
                "sweep_hash": opportunity.fingerprint if detail_fetched_at else sweep_hash,
                "detail_fetched_at": detail_fetched_at, "failures": failures, "not_found_count": not_found_count,
                "next_check_at": next_check_at, "last_error": (last_error or None) and last_error[:500]}

    # -- step 5: presence

    def _moved_out_of_window(self, opportunity, detail):
        """SweepJobs of detail's jobs we hold live in the window that SmartMoving now dates outside it.

        A job moved to another day is a move, not a removal (issue 19 §2): stored with its
        new date through the normal upsert, so the Watch records a `date` change and the
        board shows it greyed on its old day until acknowledged. Costs no call: the detail
        was read anyway. The sweep knows the window's statuses; a webhook refresh asks.
        """
        listed = {job.job_id for job in opportunity.jobs}
        others = {str(job.get("id")) for job in detail["jobs"] if isinstance(job, dict)} - listed
        if not others:
            return []
        if self.stored_status is not None:
            live = {i for i in others if self.stored_status.get(i) not in (None, SyncStatus.REMOVED.value)}
        else:
            live = {row.external_id for row in removals.removable_rows(
                self.company_id, opportunity_ids=[opportunity.opportunity_id], start=self.start, end=self.end)}
            db.session.commit()
        if not live & others:
            return []
        every_job = normalize.detail_opportunity(opportunity.opportunity_id, detail, date.min, date.max).jobs
        return [job for job in every_job
                if job.job_id in live and job.job_id not in listed and not self.start <= job.service_date <= self.end]

    def remove_missing(self, opportunities):
        """Soft-remove window jobs the sweep no longer returned, once SmartMoving confirms they are gone.

        The sweep pages by offset, so a record deleted mid-sweep shifts the next page
        and a live customer can slip past unseen. A job is therefore removed only when
        its opportunity was in the sweep without it, or opportunity detail says it is
        gone (the application's 404, or the job missing). A job the detail dates on
        another day was moved, not removed: it is stored with its new date (a `date`
        change). Anything uncertain stays. Too many at once are held for a second
        opinion (sync.removals); a dispatched job whose opportunity's detail this run
        could not read is held rather than removed.
        """
        seen_jobs = {job.job_id for o in opportunities.values() for job in o.jobs}
        candidates = removals.removable_rows(self.company_id, start=self.start, end=self.end)
        missing = [row for row in candidates if row.external_id not in seen_jobs]
        dispatched = removals.dispatched_ids([row.id for row in missing])
        db.session.commit()
        reappeared = [row.external_id for row in candidates if row.external_id in seen_jobs and row.removal_pending_at]
        unconfirmed = {}
        confirmed, unread = [], []
        for row in missing:
            if row.opportunity_external_id in opportunities or not row.opportunity_external_id:
                # Its opportunity was read whole, without this job; without this run's detail
                # (failed, or its read deferred) a move cannot be told apart: a dispatched job waits.
                unknown = row.opportunity_external_id and row.opportunity_external_id not in self.details_read
                (unread if unknown and row.id in dispatched else confirmed).append(row)
            else:
                unconfirmed.setdefault(row.opportunity_external_id, []).append(row)
        # Dispatched jobs' opportunities first: if the run's call budget runs out, theirs were read.
        order = sorted(unconfirmed.items(), key=lambda item: (not any(r.id in dispatched for r in item[1]), item[0]))
        moved = []
        for opportunity_id, rows in order:
            gone, found = self._confirm_gone(opportunity_id, rows)
            confirmed.extend(gone)
            if found is not None:
                moved.append(found)
            self.heartbeat()
        self.store(moved)                 # the normal upsert: the Watch records each `date` change
        self.check_lease()
        with db.write_transaction() as session:
            self._flush_calls(session)
            now = ordered_stamp(self.company_id)
            removals.revive(self.company_id, reappeared, now, source="sweep", change_source=self.change_source)
            removals.release_moved(self.company_id, self.moved_out, now)
            decision = removals.apply(self.company_id, confirmed, now, self.config,
                                      "No longer in SmartMoving for this date.",
                                      "SmartMoving no longer lists this job (held: too many at once).",
                                      change_source=self.change_source)
            held_unread = removals.hold_unread(unread, now, "SmartMoving no longer lists this dispatched job for "
                                                            "this date and its detail could not be read (held).")
            self.stats["removed"] += len(decision.remove)
            self.stats["removals_held"] = len(decision.hold) + held_unread
            self._write_progress(session)
        if decision.hold:
            self.warnings.append(f"{len(decision.hold)} jobs of one day vanished at once; their removal is held "
                                 "until a later sync confirms it or an admin does.")
        if held_unread:
            self.warnings.append(f"{held_unread} dispatched job{'' if held_unread == 1 else 's'} left the customer "
                                 "list but their opportunity's detail could not be read: held, not removed.")

    def _confirm_gone(self, opportunity_id, rows):
        """(rows opportunity detail shows are gone, a store() entry for those it dates on another day or None)."""
        try:
            detail = self.client.opportunity(opportunity_id)
        except NotFound as error:
            if error.from_application:
                return list(rows), None
            self.warnings.append(f"Could not confirm removal of opportunity {opportunity_id}: the gateway answered "
                                 "404, which says nothing about the opportunity; its jobs were kept.")
            return [], None
        except SmartMovingError as error:
            if isinstance(error, MalformedResponse):
                self.stats["malformed_records"] += 1
            self.warnings.append(f"Could not confirm removal of opportunity {opportunity_id}: {error}")
            return [], None
        problem = normalize.malformed_detail(detail, opportunity_id)
        if problem is not None:
            self.stats["malformed_records"] += 1
            self.warnings.append(f"Could not confirm removal of opportunity {opportunity_id}: SmartMoving sent "
                                 f"{problem}; its jobs were kept.")
            return [], None
        # Not in the window's sweep: an empty fingerprint, so its detail is read again when it is back.
        opportunity = normalize.detail_opportunity(opportunity_id, detail, self.start, self.end, "", self.warnings)
        moved = {job.job_id for job in self._moved_out_of_window(opportunity, detail)}
        jobs = {str(job.get("id")): job for job in detail["jobs"]}
        gone = []
        for row in rows:
            if row.external_id not in jobs:
                gone.append(row)
            elif row.external_id not in moved:
                self.warnings.append(f"Job {row.external_id} was missing from the sweep but is live; kept.")
        return gone, ((opportunity, detail, "OK", None) if moved else None)

    # -- webhooks: named opportunities, outside any sweep (dashboard/webhooks)

    def refresh_opportunities(self, opportunity_ids):
        """Re-read each named opportunity's detail and store it exactly as a sync would; {id: outcome}.

        One detail call per id, then the same normalisation and upsert as the sweep's
        path (store). Detail read whole is SmartMoving's word, so window jobs of that
        opportunity it no longer holds are removed, as remove_missing would. Outcomes:
        "stored", "not_found" (the application's 404: the caller decides), "failed: …".
        Fatal errors (auth, budget, rate limit) propagate: nothing more can succeed.
        """
        if self.client is None:
            self.client = client_for(self.company, on_call=self.pending_calls.append,
                                     deadline=time.monotonic() + self.config["SYNC_DEADLINE_SECONDS"],
                                     sleep=self._sleep_with_heartbeat)
        self._load_lookups()
        ids = [str(opportunity_id) for opportunity_id in opportunity_ids]
        hashes = dict(db.session.execute(sa.select(OpportunitySyncState.external_id, OpportunitySyncState.sweep_hash)
                                         .where(OpportunitySyncState.company_id == self.company_id,
                                                OpportunitySyncState.external_id.in_(ids))).all())
        db.session.commit()
        outcomes = {}
        for opportunity_id in ids:
            try:
                detail = self.client.opportunity(opportunity_id)
                problem = normalize.malformed_detail(detail, opportunity_id)
            except NotFound as error:
                outcomes[opportunity_id] = "not_found" if error.from_application else f"failed: {error}"
                continue
            except FATAL_ERRORS:
                raise
            except SmartMovingError as error:
                outcomes[opportunity_id] = f"failed: {error}"
                continue
            finally:
                self.heartbeat()
            if problem is not None:
                self.stats["malformed_records"] += 1
                outcomes[opportunity_id] = f"failed: SmartMoving sent {problem}."
                continue
            opportunity = normalize.detail_opportunity(opportunity_id, detail, self.start, self.end,
                                                       hashes.get(opportunity_id) or "", self.warnings)
            if self.run_id is None:
                self.change_source = ChangeSource.for_webhook(self.webhook_for.get(opportunity_id))
            moving = bool(self._moved_out_of_window(opportunity, detail))   # a move, not a removal
            self.store([(opportunity, detail, "OK", None)] if opportunity.jobs or moving else [])
            kept = {job.job_id for job in opportunity.jobs}
            left = [row for row in removals.removable_rows(self.company_id, opportunity_ids=[opportunity_id],
                                                           start=self.start, end=self.end)
                    if row.external_id not in kept]
            with db.write_transaction() as session:
                self._flush_calls(session)
                decision = removals.apply(self.company_id, left, ordered_stamp(self.company_id), self.config,
                                          "No longer in SmartMoving for this date.",
                                          "SmartMoving's detail no longer holds this job (held: too many at once).",
                                          change_source=self.change_source)
                self.stats["removed"] += len(decision.remove)
                self.stats["removals_held"] += len(decision.hold)
            outcomes[opportunity_id] = "stored"
        with db.write_transaction() as session:
            self._flush_calls(session)
        return outcomes
