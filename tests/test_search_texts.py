"""The board search's folded text is kept per board job (jobs.job_search.search_text) without changing what
a search finds: a job changed since is a new object and is searched as it is now."""
from datetime import date

from dashboard.jobs import job_search
from dashboard.jobs.job_search import job_matcher
from dashboard.jobs.queries import BoardJob
from dashboard.jobs.queries import Ref

_EMPTY = dict.fromkeys(BoardJob._fields)


def board_job(job_id=1, **fields):
    """A BoardJob with only the given columns set."""
    return BoardJob(**{**_EMPTY, "id": job_id, "scheduled_date": date(2026, 12, 6), **fields})


def test_a_board_jobs_text_is_folded_once_and_searched_again_from_memory(monkeypatch):
    job_search.forget_texts()
    job = board_job(customer_name="Amélie Côté", truck=Ref(7, "Truck 101"), crew=("Sam Lee",))
    assert job_matcher("amelie")(job) and job_matcher('"truck 101"')(job) and job_matcher("sam")(job)
    folded = []
    fields = job_search._fields
    monkeypatch.setattr(job_search, "_fields", lambda *args: folded.append(args) or fields(*args))
    assert job_matcher("cote")(job) and not job_matcher("piano")(job)
    assert folded == []   # neither search folded the job's text again


def test_a_changed_job_is_searched_as_it_is_now():
    job_search.forget_texts()
    job = board_job(customer_name="Piano Movers Inc", notes="grand piano")
    assert job_matcher("piano")(job)
    renamed = job._replace(customer_name="Harp Ltd", notes="")   # the next read of its day, after an edit
    assert not job_matcher("piano")(renamed) and job_matcher("harp")(renamed)
    assert not job_matcher("harp")(job)   # the old object still answers for itself


def test_kept_texts_stay_within_their_share_of_the_cache_budget(app, monkeypatch):
    job_search.forget_texts()
    monkeypatch.setattr(job_search, "_TEXT_SHARE", 1 / (64 * 1024 * 1024) * 2000)   # ~2,000 bytes
    with app.app_context():
        app.config["CACHE_MAX_MB"] = 64
        for job_id in range(1, 41):
            assert job_matcher("customer")(board_job(job_id, customer_name=f"Customer {job_id}"))
    assert 0 < len(job_search._texts) < 40 and job_search._text_bytes[0] <= 2000 + 300


def test_orm_rows_are_folded_every_time(app, make_location):
    """An ORM row can change in place: its text is never kept."""
    from dashboard.models import TruckJourney
    job_search.forget_texts()
    row = TruckJourney(id=99, customer_name="Dana Smith", crew=[], smartmoving_crew=[])
    assert job_matcher("dana")(row)
    row.customer_name = "Robin Jones"
    assert job_matcher("robin")(row) and not job_matcher("dana")(row)
    assert job_search._texts == {}
