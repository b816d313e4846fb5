"""A deterministic SmartMoving tenant in memory: the data the sandbox serves, and the truth a sync must reach.

Everything comes from one `random.Random(seed)` and the world's "today", so two worlds
built with the same arguments are identical. Records are kept compact (slotted objects,
shared reference data) and the wire dicts are built on demand, so a 100,000-job world
builds in a few seconds and the payloads always reflect the latest mutation.
"""
import copy
import itertools
import random
import threading
import unicodedata
import uuid
import zlib
from datetime import date
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

# Demo start-up back-fills this much history once (DEMO_HISTORY_DAYS), so the world reaches back as far.
DEMO_DAYS_BEFORE = 56

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Charlotte", "William", "Amelia", "Benjamin", "Sophia", "Lucas", "Ava",
    "Ethan", "Mia", "James", "Chloe", "Jacob", "Zoe", "Owen", "Priya", "Arjun", "Mei", "Wei", "Fatima", "Omar",
    "Aisha", "Mohammed", "Sofia", "Mateo", "Isabella", "Gabriel", "Leah", "Nathan", "Hannah", "Daniel", "Grace",
    "Samuel", "Emily", "Alexander", "Madison", "Ryan", "Nadia", "Dmitri", "Anya", "Kenji", "Yuki", "Carlos",
    "Lucia", "Tariq", "Simran", "Harpreet", "Jasmine", "Marcus", "Elena", "Patrick", "Siobhan", "Connor",
    "Julien", "Amélie", "François", "Chantal",
)
LAST_NAMES = (
    "Smith", "Brown", "Tremblay", "Martin", "Roy", "Wilson", "MacDonald", "Gagnon", "Johnson", "Taylor",
    "Campbell", "Anderson", "Leblanc", "Lee", "Wong", "Chen", "Singh", "Patel", "Kumar", "Nguyen", "Kim",
    "Ali", "Khan", "Hassan", "Rossi", "Ferreira", "Silva", "Kowalski", "Novak", "Ivanov", "O'Brien", "Murphy",
    "Kelly", "Fraser", "Stewart", "Thompson", "White", "Harris", "Clarke", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Côté", "Bouchard",
    "Gauthier", "Morin", "Lavoie", "Fortin", "Pelletier", "Bélanger", "Lévesque",
)
STREETS = (
    "King St W", "Queen St E", "Yonge St", "Bloor St W", "Dundas St W", "College St", "Spadina Ave",
    "Bathurst St", "Eglinton Ave E", "Lakeshore Blvd W", "Main St", "Maple Ave", "Oak St", "Cedar Dr",
    "Elm St", "Pine Cres", "Birch Rd", "Willow Way", "Victoria St", "Church St", "Wellington St",
    "Front St E", "Park Ave", "Highland Rd", "Riverside Dr", "Hillcrest Ave", "Sunset Blvd", "Lakeview Dr",
    "Meadowvale Rd", "Forest Hill Rd", "Cherry St", "Sherbourne St", "Jarvis St", "Broadway",
    "2nd Ave", "Center St", "Washington Ave", "Lincoln Rd", "Jefferson St", "Madison Ave",
)
UNIT_PREFIXES = ("Unit", "Apt", "Suite")
_FSA_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"

# (branch name, city, province/state, postal prefix, area code, lat, lng); the first rows are the defaults.
BRANCH_SITES = (
    ("Toronto Downtown", "Toronto", "ON", "M5V", "416", 43.6426, -79.3871),
    ("Mississauga", "Mississauga", "ON", "L5B", "905", 43.5890, -79.6441),
    ("Ottawa", "Ottawa", "ON", "K1P", "613", 45.4215, -75.6972),
    ("Hamilton", "Hamilton", "ON", "L8P", "905", 43.2557, -79.8711),
    ("Vancouver", "Vancouver", "BC", "V6B", "604", 49.2827, -123.1207),
    ("Calgary", "Calgary", "AB", "T2P", "403", 51.0447, -114.0719),
    ("Montreal", "Montréal", "QC", "H3B", "514", 45.5019, -73.5674),
    ("Buffalo", "Buffalo", "NY", "142", "716", 42.8864, -78.8784),
    ("Toronto North York", "Toronto", "ON", "M2N", "416", 43.7615, -79.4111),
    ("Toronto Scarborough", "Toronto", "ON", "M1P", "416", 43.7731, -79.2578),
    ("Etobicoke", "Toronto", "ON", "M9W", "416", 43.6205, -79.5132),
    ("Brampton", "Brampton", "ON", "L6Y", "905", 43.7315, -79.7624),
    ("Oakville", "Oakville", "ON", "L6H", "905", 43.4675, -79.6877),
    ("Burlington", "Burlington", "ON", "L7R", "905", 43.3255, -79.7990),
    ("Markham", "Markham", "ON", "L3R", "905", 43.8561, -79.3370),
    ("Vaughan", "Vaughan", "ON", "L4K", "905", 43.8361, -79.4983),
    ("Richmond Hill", "Richmond Hill", "ON", "L4C", "905", 43.8828, -79.4403),
    ("Oshawa", "Oshawa", "ON", "L1H", "905", 43.8971, -78.8658),
    ("Barrie", "Barrie", "ON", "L4M", "705", 44.3894, -79.6903),
    ("Kitchener-Waterloo", "Kitchener", "ON", "N2G", "519", 43.4516, -80.4925),
    ("London", "London", "ON", "N6A", "519", 42.9849, -81.2453),
    ("Kingston", "Kingston", "ON", "K7L", "613", 44.2312, -76.4860),
    ("Ottawa West", "Kanata", "ON", "K2K", "613", 45.3088, -75.8987),
    ("Laval", "Laval", "QC", "H7N", "450", 45.6066, -73.7124),
    ("Quebec City", "Québec", "QC", "G1R", "418", 46.8139, -71.2080),
    ("Halifax", "Halifax", "NS", "B3H", "902", 44.6488, -63.5752),
    ("Winnipeg", "Winnipeg", "MB", "R3C", "204", 49.8951, -97.1384),
    ("Regina", "Regina", "SK", "S4P", "306", 50.4452, -104.6189),
    ("Saskatoon", "Saskatoon", "SK", "S7K", "306", 52.1579, -106.6702),
    ("Calgary South", "Calgary", "AB", "T2J", "403", 50.9477, -114.0719),
    ("Edmonton", "Edmonton", "AB", "T5J", "780", 53.5461, -113.4938),
    ("Burnaby", "Burnaby", "BC", "V5H", "604", 49.2488, -122.9805),
    ("Surrey", "Surrey", "BC", "V3T", "604", 49.1913, -122.8490),
    ("Victoria", "Victoria", "BC", "V8W", "250", 48.4284, -123.3656),
    ("Kelowna", "Kelowna", "BC", "V1Y", "250", 49.8880, -119.4960),
    ("Rochester", "Rochester", "NY", "146", "585", 43.1566, -77.6088),
    ("Detroit", "Detroit", "MI", "482", "313", 42.3314, -83.0458),
    ("Chicago", "Chicago", "IL", "606", "312", 41.8781, -87.6298),
    ("Cleveland", "Cleveland", "OH", "441", "216", 41.4993, -81.6944),
    ("Boston", "Boston", "MA", "021", "617", 42.3601, -71.0589),
    ("Seattle", "Seattle", "WA", "981", "206", 47.6062, -122.3321),
    ("Minneapolis", "Minneapolis", "MN", "554", "612", 44.9778, -93.2650),
    ("Denver", "Denver", "CO", "802", "303", 39.7392, -104.9903),
    ("Dallas", "Dallas", "TX", "752", "214", 32.7767, -96.7970),
    ("Austin", "Austin", "TX", "787", "512", 30.2672, -97.7431),
    ("Phoenix", "Phoenix", "AZ", "850", "602", 33.4484, -112.0740),
)
BRANCH_SUFFIXES = ("North", "East", "South", "West", "Central")
# Sales tax applied to estimates, by province or state (HST/GST+PST; US moves are mostly untaxed labour).
TAX_RATES = {"ON": 0.13, "NS": 0.15, "QC": 0.14975, "BC": 0.12, "AB": 0.05, "MB": 0.12, "SK": 0.11}
CANADIAN = frozenset(TAX_RATES)

STATUS_BOOKED, STATUS_COMPLETED, STATUS_CANCELLED = 4, 10, 20
LEAD_STATUS = {0: "New Lead", 1: "In Progress", 3: "Quoted", 4: "Booked ", 10: "Completed", 11: "Closed",
               20: "Cancelled", 30: "Lost", 50: "Bad Lead"}
JOB_TYPE_NAMES = {1: "Moving", 3: "Packing", 4: "Moving and Packing", 5: "Load Only", 6: "Unload Only",
                  7: "Commercial", 11: "Junk Removal", 12: "Labor Only"}
# Main job type of a new opportunity, with weights; Moving opportunities may get a separate packing day.
MAIN_JOB_TYPES = ((1, 66), (4, 14), (7, 6), (11, 6), (12, 8))
_MAIN_TYPES = [t for t, _ in MAIN_JOB_TYPES]
_MAIN_TYPE_CUM = list(itertools.accumulate(w for _, w in MAIN_JOB_TYPES))
SINGLE_ADDRESS_TYPES = frozenset({3, 5, 6, 11, 12})
# (start hour, end hour, default?) as fractional hours, like the real arrival-window settings.
ARRIVAL_WINDOWS = ((8.0, 10.0, True), (9.0, 11.0, False), (10.5, 12.5, False), (12.0, 14.0, False),
                   (13.5, 15.5, False), (15.0, 17.0, False))
ARRIVAL_WEIGHTS = (40, 20, 10, 14, 10, 6)
_ARRIVAL_CUM = list(itertools.accumulate(ARRIVAL_WEIGHTS))
MOVE_SIZES = (("Studio", "Studio apartment", 250), ("1 Bedroom Apartment", "One bedroom, average furnishing", 400),
              ("2 Bedroom Apartment", "Two bedrooms, average furnishing", 650),
              ("3 Bedroom House", "Three bedrooms, garage", 1100),
              ("4+ Bedroom House", "Four bedrooms or more", 1600), ("Small Office", "Up to 10 workstations", 900))
REFERRAL_SOURCES = ("Google", "Referral", "Repeat Customer", "Yelp", "Facebook", "HomeStars", "Website")
CREW_ROLES = ("Crew Lead", "Driver", "Mover")
CREW_SIZE_WEIGHTS = ((0, 12), (1, 8), (2, 35), (3, 33), (4, 12))
_CREW_SIZES = [k for k, _ in CREW_SIZE_WEIGHTS]
_CREW_SIZE_CUM = list(itertools.accumulate(w for _, w in CREW_SIZE_WEIGHTS))


def as_date(value):
    """A date from a date, datetime, ISO string or int yyyyMMdd."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int):
        return date(value // 10000, value // 100 % 100, value % 100)
    return date.fromisoformat(str(value).strip())


def yyyymmdd(day):
    """The int yyyyMMdd SmartMoving uses for filters and detail dates."""
    return day.year * 10000 + day.month * 100 + day.day


def _email_local(name):
    """'Amélie Côté' -> 'amelie.cote': mailbox names stay ASCII."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(part for part in ascii_name.lower().replace("'", "").replace(".", "").split())


def _hours_label(hours):
    """8.0 -> '8:00 AM', 13.5 -> '1:30 PM'."""
    hour, minute = int(hours), int(round((hours - int(hours)) * 60))
    suffix = "AM" if hour < 12 else "PM"
    return f"{(hour - 1) % 12 + 1}:{minute:02d} {suffix}"


class Customer:
    """A customer record (read-only outside the world)."""

    __slots__ = ("id", "name", "phone", "phone_type", "email", "address", "secondary_phones", "opportunity_ids")


class Opportunity:
    """An opportunity record (read-only outside the world)."""

    __slots__ = ("id", "quote_number", "customer_id", "branch_index", "opportunity_type", "type", "status",
                 "move_size", "subtotal", "estimator_index", "sales_index", "referral", "created_at", "job_ids",
                 "deleted")


class Job:
    """A job record (read-only outside the world)."""

    __slots__ = ("id", "job_number", "opportunity_id", "service_date", "type", "confirmed", "addresses",
                 "window", "crew_ids", "hours", "travel")


class SandboxWorld:
    """One tenant's branches, crew, customers, opportunities and jobs, with mutations and the expected truth."""

    def __init__(self, seed=42, timezone="America/Toronto", today=None, branches=8, jobs_per_day=40,
                 days_before=1, days_after=5):
        self.seed = seed
        self.timezone = timezone
        self.today = as_date(today) if today is not None else datetime.now(ZoneInfo(timezone)).date()
        self.branch_count = branches
        self.jobs_per_day = jobs_per_day
        self.days_before = days_before
        self.days_after = days_after
        self.first_day = self.today - timedelta(days=days_before)
        self.last_day = self.today + timedelta(days=days_after)
        self._lock = threading.RLock()
        # Called with each change's webhook body, as SmartMoving Premium would send it
        # (sandbox.webhooks.WebhookSender); None: changes are silent.
        self.notifier = None
        self._generate()

    # ----- generation -------------------------------------------------------------------------------------

    # random's choice/randrange/randint cost ~1 µs each; these keep 100k-job worlds quick to build.

    def _pick(self, items):
        """A random element of items."""
        return items[int(self._rng.random() * len(items))]

    def _below(self, n):
        """A random int in [0, n)."""
        return int(self._rng.random() * n)

    def _between(self, low, high):
        """A random int in [low, high]."""
        return low + int(self._rng.random() * (high - low + 1))

    def _uuid(self):
        """A uuid4-shaped id drawn from the world's generator, so ids are reproducible."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _phone(self, area):
        """A 10-digit number in area code area, in the fictional 555 exchange."""
        return f"{area}555{self._below(10000):04d}"

    def _person_name(self):
        """A random first and last name."""
        return f"{self._pick(FIRST_NAMES)} {self._pick(LAST_NAMES)}"

    def _postal(self, site):
        """A postal code (Canadian A1A 1A1) or ZIP (US) near site."""
        prefix, state = site[3], site[2]
        if state in CANADIAN:
            return f"{prefix} {self._below(10)}{self._pick(_FSA_LETTERS)}{self._below(10)}"
        return f"{prefix}{self._below(100):02d}"

    def _address_parts(self, site):
        """(street, city, state, zip) of a random address near site."""
        rng = self._rng
        street = f"{self._between(1, 2999)} {self._pick(STREETS)}"
        if rng.random() < 0.25:
            street += f", {self._pick(UNIT_PREFIXES)} {self._between(101, 2408)}"
        return street, site[1], site[2], self._postal(site)

    @staticmethod
    def _full_address(parts):
        """One-line address from (street, city, state, zip)."""
        street, city, state, zip_code = parts
        return f"{street}, {city}, {state} {zip_code}"

    def regenerate(self):
        """Throw away every mutation: rebuild from the seed (same today); the version keeps counting up."""
        with self._lock:
            version = self.version
            self._generate()
            self.version = version + 1

    def _generate(self):
        """Build the whole world from the seed: O(number of jobs)."""
        self._rng = random.Random(self.seed)
        self.version = 0
        self._sweep_cache = {}
        self._build_reference_data()
        self.customers = {}
        self.opportunities = {}
        self.jobs = {}
        self._by_date = {}
        self._recent_customers = []
        self._crew_busy = {}
        self._next_quote = 100000 + self._below(5000)
        counts = {}
        day = self.last_day
        # Latest day first: a packing day lands on the day before, which is then topped up, not overshot.
        while day >= self.first_day:
            while counts.get(day, 0) < self.jobs_per_day:
                self._generate_opportunity(day, counts)
            day -= timedelta(days=1)
        self._schedule_crews()

    def _span(self, job):
        """(start, end) hours of job's day: arrival start + labour + travel, as a dispatcher plans it."""
        start = ARRIVAL_WINDOWS[job.window][0]
        return start, start + job.hours + job.travel

    def _schedule_crews(self):
        """Give nobody two overlapping jobs, except one deliberate double booking in about a third
        of the branch-days, so a demo board shows a real conflict. Uses no random draws."""
        groups = {}
        for job in self.jobs.values():
            opp = self.opportunities[job.opportunity_id]
            if opp.status != STATUS_CANCELLED:
                groups.setdefault((job.service_date, opp.branch_index), []).append(job)
        for (day, branch_index), jobs in groups.items():
            jobs.sort(key=lambda job: (self._span(job), job.job_number))
            free_at = dict.fromkeys(self._crew_by_branch[branch_index], 0.0)
            for job in jobs:
                start, end = self._span(job)
                wanted = len(job.crew_ids)
                kept = [c for c in job.crew_ids if free_at[c] <= start]
                spare = sorted((c for c in free_at if free_at[c] <= start and c not in kept), key=free_at.get)
                job.crew_ids = tuple(kept + spare[:wanted - len(kept)])
                for member in job.crew_ids:
                    free_at[member] = end
            if (day.toordinal() + branch_index) % 3 == 0:
                self._double_book(jobs)

    def _double_book(self, jobs):
        """Put the first crewed job's lead also on the next job that overlaps it."""
        for index, first in enumerate(jobs):
            if not first.crew_ids:
                continue
            for second in jobs[index + 1:]:
                if self._span(second)[0] < self._span(first)[1] and first.crew_ids[0] not in second.crew_ids:
                    second.crew_ids = second.crew_ids + (first.crew_ids[0],)
                    return

    def _build_reference_data(self):
        """Roles, arrival windows, move sizes, branches, crew and office users."""
        rng = self._rng
        self._role_ids = {name: self._uuid() for name in CREW_ROLES}
        self._office_role_id = self._uuid()
        self._region_ids = {"Canada": self._uuid(), "US": self._uuid()}
        self._window_ids = [self._uuid() for _ in ARRIVAL_WINDOWS]
        self._move_sizes = [{"id": self._uuid(), "name": n, "description": d, "volume": v} for n, d, v in MOVE_SIZES]
        self._sites, self._branches, names = [], [], set()
        for index in range(self.branch_count):
            base = BRANCH_SITES[index % len(BRANCH_SITES)]
            name = base[0]
            if index >= len(BRANCH_SITES):
                name = f"{base[0]} {BRANCH_SUFFIXES[(index // len(BRANCH_SITES) - 1) % len(BRANCH_SUFFIXES)]}"
            while name in names:
                name += " 2"
            names.add(name)
            self._sites.append(base)
            parts = self._address_parts(base)
            self._branches.append({
                "id": self._uuid(),
                "name": name,
                "phoneNumber": self._phone(base[4]),
                "dispatchLocation": {
                    "fullAddress": self._full_address(parts), "street": parts[0], "city": parts[1],
                    "state": parts[2], "zip": parts[3],
                    "lat": round(base[5] + rng.uniform(-0.03, 0.03), 6),
                    "lng": round(base[6] + rng.uniform(-0.03, 0.03), 6),
                },
                "isPrimary": index == 0,
            })
        self._crew, self._crew_by_branch, self._crew_names = [], [], {}
        self._users, self._users_by_branch = [], []
        taken = set()
        for index, branch in enumerate(self._branches):
            members = []
            for position in range(self._between(5, 7)):
                role = CREW_ROLES[min(position, 2)] if position < 3 else "Mover"
                name = self._person_name()
                while name in taken:
                    name = f"{name.split(' ')[0]} {self._pick('ABCDEFGHJKLMNPRSTW')}. {name.split(' ')[-1]}"
                taken.add(name)
                member = {
                    "id": self._uuid(), "name": name, "status": "Active",
                    "mobile": self._phone(self._sites[index][4]),
                    "email": _email_local(name) + "@crew.example.com",
                    "role": {"id": self._role_ids[role], "name": role},
                    "branch": {"id": branch["id"], "name": branch["name"]},
                }
                self._crew.append(member)
                self._crew_names[member["id"]] = name
                members.append(member["id"])
            self._crew_by_branch.append(members)
            office = []
            for title in ("Sales Estimator", "Move Coordinator"):
                name = self._person_name()
                office.append(len(self._users))
                self._users.append({
                    "id": self._uuid(), "name": name, "title": title,
                    "email": _email_local(name) + "@office.example.com",
                    "mobileNumber": self._phone(self._sites[index][4]),
                    "primaryBranch": {"id": branch["id"], "name": branch["name"]},
                    "role": {"id": self._office_role_id, "name": "Sales"},
                })
            self._users_by_branch.append(office)

    def _new_customer(self, site):
        """A new customer living near site."""
        rng = self._rng
        customer = Customer()
        customer.id = self._uuid()
        first, last = self._pick(FIRST_NAMES), self._pick(LAST_NAMES)
        customer.name = f"{first} {last}"
        customer.phone = self._phone(site[4])
        customer.phone_type = 0 if rng.random() < 0.8 else 1
        local = _email_local(f"{first} {last}")
        customer.email = f"{local}{self._below(100)}@{self._pick(('example.com', 'example.net', 'example.org'))}"
        parts = self._address_parts(site)
        if rng.random() < 0.5:
            customer.address = self._full_address(parts)
        else:
            customer.address = {"fullAddress": self._full_address(parts), "street": parts[0], "city": parts[1],
                                "state": parts[2], "zip": parts[3]}
        customer.secondary_phones = []
        if rng.random() < 0.2:
            customer.secondary_phones.append({"phoneNumber": self._phone(site[4]), "phoneType": 2})
        customer.opportunity_ids = []
        self.customers[customer.id] = customer
        self._recent_customers.append(customer.id)
        if len(self._recent_customers) > 200:
            del self._recent_customers[:100]
        return customer

    def _new_opportunity(self, customer, branch_index, status, opportunity_type, main_type):
        """A new opportunity of customer at branch_index, with no jobs yet."""
        rng = self._rng
        opp = Opportunity()
        opp.id = self._uuid()
        self._next_quote += self._between(1, 3)
        opp.quote_number = self._next_quote
        opp.customer_id = customer.id
        opp.branch_index = branch_index
        opp.opportunity_type = opportunity_type
        opp.type = main_type
        opp.status = status
        opp.move_size = self._below(len(MOVE_SIZES))
        opp.subtotal = round(rng.uniform(450.0, 7900.0), 2)
        offices = self._users_by_branch[branch_index]
        opp.estimator_index = offices[0]
        opp.sales_index = self._pick(offices)
        opp.referral = self._pick(REFERRAL_SOURCES)
        created = self.today - timedelta(days=self._between(3, 75))
        opp.created_at = f"{created.isoformat()}T{self._between(12, 23):02d}:{self._below(60):02d}:" \
                         f"{self._below(60):02d}Z"
        opp.job_ids = []
        opp.deleted = False
        customer.opportunity_ids.append(opp.id)
        self.opportunities[opp.id] = opp
        return opp

    def _new_job(self, opp, day, job_type, addresses, confirmed, window=None, crew_size=None):
        """A new job of opp on day, indexed by date."""
        rng = self._rng
        job = Job()
        job.id = self._uuid()
        job.job_number = f"{opp.quote_number}-{len(opp.job_ids) + 1}"
        job.opportunity_id = opp.id
        job.service_date = day
        job.type = job_type
        job.confirmed = confirmed
        job.addresses = addresses
        if window is None:
            window = rng.choices(range(len(ARRIVAL_WINDOWS)), cum_weights=_ARRIVAL_CUM)[0]
        job.window = window
        if crew_size is None:
            crew_size = rng.choices(_CREW_SIZES, cum_weights=_CREW_SIZE_CUM)[0]
        crew = self._crew_by_branch[opp.branch_index]
        drawn = tuple(rng.sample(crew, min(crew_size, len(crew))))
        job.hours = round(rng.uniform(2.0, 9.0) * 4) / 4
        # Travel comes from the id (no extra draw, so worlds stay as they were): 0.5-1.25 h
        # in town, 2-3.5 h when the move leaves the branch's city.
        spread = int(job.id[-2:], 16) % 4 * 0.25
        job.travel = (2.0 + spread * 2) if opp.opportunity_type else (0.5 + spread)
        job.crew_ids = self._free_crew(drawn, crew, day, window, job.hours)
        opp.job_ids.append(job.id)
        self.jobs[job.id] = job
        self._by_date.setdefault(day, {})[job.id] = None
        return job

    def _free_crew(self, drawn, branch_crew, day, window, hours):
        """drawn, with anyone already booked at that time swapped for a free colleague (or left off, or, when
        nobody at all is free, the first one double-booked).

        A real office does not send one person to two jobs at once. No random draw is
        made here, so the rest of the world is the same as without this rule.
        """
        start = ARRIVAL_WINDOWS[window][0]
        # At least DEFAULT_JOB_HOURS' default, which is what the app assumes for a job without a span.
        end = start + max(hours + 0.5, 4.0)

        def free(member):
            return all(e <= start or s >= end for s, e in self._crew_busy.get((member, day), ()))

        chosen = []
        for member in drawn:
            substitute = member if free(member) else next(
                (m for m in branch_crew if m not in drawn and m not in chosen and free(m)), None)
            if substitute is not None and substitute not in chosen:
                chosen.append(substitute)
        if drawn and not chosen:
            chosen = [drawn[0]]   # short-staffed: the office double-books one person rather than none
        for member in chosen:
            self._crew_busy.setdefault((member, day), []).append((start, end))
        return tuple(chosen)

    def _generate_opportunity(self, day, counts):
        """One opportunity whose main job is on day, sometimes with a packing or unload day around it."""
        rng = self._rng
        branch_index = self._below(len(self._branches))
        site = self._sites[branch_index]
        if self._recent_customers and rng.random() < 0.08:
            customer = self.customers[self._pick(self._recent_customers)]
        else:
            customer = self._new_customer(site)
        if day < self.today:
            roll = rng.random()
            status = STATUS_COMPLETED if roll < 0.55 else STATUS_CANCELLED if roll < 0.6 else STATUS_BOOKED
        else:
            roll = rng.random()
            status = STATUS_CANCELLED if roll < 0.04 else STATUS_COMPLETED if (
                day == self.today and roll < 0.1) else STATUS_BOOKED
        main_type = rng.choices(_MAIN_TYPES, cum_weights=_MAIN_TYPE_CUM)[0]
        roll = rng.random()
        opportunity_type = 0 if roll < 0.85 or main_type in (11, 12) else 1 if roll < 0.95 else 2
        opp = self._new_opportunity(customer, branch_index, status, opportunity_type, main_type)
        origin = self._full_address(self._address_parts(site))
        if opportunity_type == 0:
            destination_site = site
        else:
            destination_site = self._sites[self._below(len(self._sites))]
        destination = self._full_address(self._address_parts(destination_site))
        confirmed = status != STATUS_BOOKED or rng.random() < 0.8
        if main_type == 1 and rng.random() < 0.18:
            self._new_job(opp, day - timedelta(days=1), 3, (origin,), confirmed, window=self._below(3))
            counts[day - timedelta(days=1)] = counts.get(day - timedelta(days=1), 0) + 1
        if main_type in SINGLE_ADDRESS_TYPES:
            addresses = (origin,)
        elif rng.random() < 0.06:
            addresses = (origin, self._full_address(self._address_parts(site)), destination)
        else:
            addresses = (origin, destination)
        self._new_job(opp, day, main_type, addresses, confirmed)
        counts[day] = counts.get(day, 0) + 1
        # Long-distance moves unload days later; only past the window, so per-day counts stay exact.
        unload_day = day + timedelta(days=2)
        if opportunity_type == 2 and unload_day > self.last_day:
            self._new_job(opp, unload_day, 6, (destination,), confirmed)

    # ----- reference data ---------------------------------------------------------------------------------

    def branches(self):
        """Every branch, as /api/branches serves it."""
        with self._lock:
            return copy.deepcopy(self._branches)

    def crew_members(self):
        """Every crew member, as /api/crew-members serves it."""
        with self._lock:
            return copy.deepcopy(self._crew)

    def users(self):
        """Office users (estimators, coordinators), as /api/users serves them."""
        with self._lock:
            return [{k: v for k, v in u.items() if k != "mobileNumber"} for u in copy.deepcopy(self._users)]

    def arrival_windows(self):
        """The tenant's arrival-window settings."""
        return [self._window_dict(i) for i in range(len(ARRIVAL_WINDOWS))]

    @staticmethod
    def service_types():
        """The tenant's service types (job `type` ints and their names)."""
        return [{"id": type_id, "name": name, "scalingFactorPercentage": 100, "order": order}
                for order, (type_id, name) in enumerate(JOB_TYPE_NAMES.items())]

    def _window_dict(self, index):
        """Arrival window index as the API shows it."""
        start, end, default = ARRIVAL_WINDOWS[index]
        return {"id": self._window_ids[index], "description": f"{_hours_label(start)} - {_hours_label(end)}",
                "startTime": start, "endTime": end, "isDefault": default}

    # ----- the sweep --------------------------------------------------------------------------------------

    def _live_jobs(self, opp):
        """opp's jobs in date order."""
        return sorted((self.jobs[j] for j in opp.job_ids), key=lambda job: (job.service_date, job.job_number))

    def _window_customer_ids(self, from_day, to_day):
        """Sorted ids of customers with a live job in [from_day, to_day]; cached per world version."""
        key = (from_day, to_day)
        cached = self._sweep_cache.get(key)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        found = set()
        for day, job_ids in self._by_date.items():
            if from_day <= day <= to_day:
                for job_id in job_ids:
                    found.add(self.opportunities[self.jobs[job_id].opportunity_id].customer_id)
        ids = sorted(found)
        if len(self._sweep_cache) > 32:
            self._sweep_cache.clear()
        self._sweep_cache[key] = (self.version, ids)
        return ids

    def _sweep_customer(self, customer_id, include_opportunities=True):
        """One /api/customers entry for customer_id."""
        customer = self.customers[customer_id]
        result = {
            "id": customer.id, "name": customer.name, "phoneNumber": customer.phone,
            "phoneType": customer.phone_type, "emailAddress": customer.email,
            "address": copy.deepcopy(customer.address),
            "secondaryPhoneNumbers": copy.deepcopy(customer.secondary_phones),
        }
        if include_opportunities:
            # All of the customer's live opportunities, each with all its jobs: the client filters by date.
            result["opportunities"] = [
                {"id": opp.id, "quoteNumber": str(opp.quote_number), "status": opp.status,
                 "jobs": [{"id": job.id, "jobNumber": job.job_number, "serviceDate": job.service_date.isoformat(),
                           "type": job.type} for job in self._live_jobs(opp)]}
                for opp in (self.opportunities[o] for o in customer.opportunity_ids) if not opp.deleted
            ]
        return result

    def customers_in_window(self, from_day, to_day):
        """Sweep customers with a job in [from_day, to_day], ordered by customer id."""
        from_day, to_day = as_date(from_day), as_date(to_day)
        with self._lock:
            return [self._sweep_customer(c) for c in self._window_customer_ids(from_day, to_day)]

    def customers_page(self, from_day, to_day, page, page_size, include_opportunities=True):
        """(total customers, this page's sweep dicts) for 1-based page; None bounds mean unbounded."""
        from_day = as_date(from_day) if from_day is not None else date.min
        to_day = as_date(to_day) if to_day is not None else date.max
        with self._lock:
            ids = self._window_customer_ids(from_day, to_day)
            chunk = ids[(page - 1) * page_size:page * page_size]
            return len(ids), [self._sweep_customer(c, include_opportunities) for c in chunk]

    # ----- opportunity detail -----------------------------------------------------------------------------

    def _money(self, opp):
        """opp's estimatedTotal, with its branch's sales tax."""
        rate = TAX_RATES.get(self._sites[opp.branch_index][2], 0.0)
        tax = round(opp.subtotal * rate, 2)
        return {"subtotal": opp.subtotal, "taxableAmount": opp.subtotal, "tax": tax,
                "finalTotal": round(opp.subtotal + tax, 2)}

    @staticmethod
    def _billed_factor(job):
        """Actual labour over the estimate once a job is done: 0.90 to 1.25, fixed per job, so that
        reports comparing estimates with actual charges show a real variance."""
        return 0.90 + (zlib.crc32(str(job.id).encode()) % 36) / 100

    @staticmethod
    def _job_charges(job, share, factor=1.0):
        """The labour and travel charges of a job whose part of the subtotal is share (labour × factor)."""
        labour = round(share * 0.82, 2)
        travel = round(share - labour, 2)
        labour = round(labour * factor, 2)
        return [
            {"name": JOB_TYPE_NAMES.get(job.type, "Service") + " labour", "chargeCategory": "Labor",
             "description": f"{job.hours:g} hours", "editableDescription": False, "sortOrder": 1,
             "subtotal": labour, "discountAmount": 0.0, "totalCost": labour},
            {"name": "Travel time", "chargeCategory": "Travel", "description": f"{job.travel:g} hours",
             "editableDescription": False, "sortOrder": 2, "subtotal": travel, "discountAmount": 0.0,
             "totalCost": travel},
        ]

    def _share(self, opp):
        """Each live job's part of opp's subtotal."""
        jobs = len(self._live_jobs(opp))
        return round(opp.subtotal / jobs, 2) if jobs else 0.0

    def _job_detail(self, opp, job, share, include_addresses):
        """One entry of opportunity detail's jobs[]; share is this job's part of the subtotal."""
        completed = opp.status == STATUS_COMPLETED
        return {
            "id": job.id,
            "jobNumber": job.job_number,
            "jobDate": yyyymmdd(job.service_date),
            "type": job.type,
            "confirmed": job.confirmed,
            "jobAddresses": list(job.addresses) if include_addresses else [],
            "jobDocuments": [{"title": "Bill of Lading", "type": 1, "isComplete": completed}],
            "estimatedCharges": self._job_charges(job, share),
            # A completed job is billed for the labour it really took.
            "actualCharges": self._job_charges(job, share, self._billed_factor(job)) if completed else [],
            "arrivalWindow": self._window_dict(job.window),
            "totalTips": round(share * 0.05, 2) if completed else 0.0,
            "crewMembers": list(job.crew_ids),
            "jobTime": {"laborTime": {"estimated": job.hours,
                                      "actual": round(job.hours * self._billed_factor(job), 2) if completed else None},
                        "billableHours": job.hours,
                        "travelTime": {"estimated": job.travel, "actual": job.travel if completed else None}},
        }

    def opportunity_detail(self, opp_id, include_job_addresses=True):
        """GET /api/opportunities/{id} as served, or None when unknown or deleted."""
        with self._lock:
            opp = self.opportunities.get(str(opp_id))
            if opp is None or opp.deleted:
                return None
            customer = self.customers[opp.customer_id]
            branch = self._branches[opp.branch_index]
            estimator = self._users[opp.estimator_index]
            sales = self._users[opp.sales_index]
            jobs = self._live_jobs(opp)
            size = self._move_sizes[opp.move_size]
            share = self._share(opp)
            first_day = jobs[0].service_date if jobs else self.today
            return {
                "id": opp.id,
                "quoteNumber": opp.quote_number,
                "customer": {"id": customer.id, "name": customer.name, "emailAddress": customer.email,
                             "phoneNumber": customer.phone, "phoneType": customer.phone_type},
                "branch": {"name": branch["name"], "phoneNumber": branch["phoneNumber"]},
                "contacts": [],
                "opportunityType": opp.opportunity_type,
                "type": opp.type,
                "serviceDate": yyyymmdd(first_day),
                "status": opp.status,
                "leadStatus": LEAD_STATUS.get(opp.status, "Booked "),
                "moveSize": {"name": size["name"], "description": size["description"], "volume": size["volume"]},
                "volume": size["volume"],
                "weight": size["volume"] * 7,
                "volumeWeightCalculationMode": 0,
                "estimatedTotal": self._money(opp),
                "estimator": {"name": estimator["name"], "mobileNumber": estimator["mobileNumber"],
                              "branchId": branch["id"],
                              "regionId": self._region_ids["Canada" if self._sites[opp.branch_index][2] in CANADIAN
                                                           else "US"],
                              "title": estimator["title"]},
                "salesAssignee": {"id": sales["id"], "name": sales["name"]},
                "hasTripInfo": opp.opportunity_type == 2,
                "referralSource": opp.referral,
                "affiliateId": None,
                "affiliateName": None,
                "allowInventoryUpdates": True,
                "cancellationReason": "Customer cancelled" if opp.status == STATUS_CANCELLED else None,
                "jobs": [self._job_detail(opp, job, share, include_job_addresses) for job in jobs],
                "payments": [],
                "tasks": [],
                "createdAtUtc": opp.created_at,
            }

    # ----- truth ------------------------------------------------------------------------------------------

    def _window_job_ids(self, from_day, to_day):
        """Ids of live jobs dated in [from_day, to_day], by date."""
        ids = []
        for day in sorted(self._by_date):
            if from_day <= day <= to_day:
                ids.extend(self._by_date[day])
        return ids

    def expected_jobs(self, from_day, to_day):
        """job id -> what a correct sync stores, for live jobs dated in [from_day, to_day]."""
        from_day, to_day = as_date(from_day), as_date(to_day)
        with self._lock:
            truth = {}
            for job_id in self._window_job_ids(from_day, to_day):
                job = self.jobs[job_id]
                opp = self.opportunities[job.opportunity_id]
                customer = self.customers[opp.customer_id]
                truth[job_id] = {
                    "jobNumber": job.job_number,
                    "quoteNumber": str(opp.quote_number),
                    "opportunityId": opp.id,
                    "customerName": customer.name,
                    "customerPhone": customer.phone,
                    "customerEmail": customer.email,
                    "scheduledDate": job.service_date,
                    "branchName": self._branches[opp.branch_index]["name"],
                    "estimatedValue": self._money(opp)["finalTotal"],
                    "originAddress": job.addresses[0] if job.addresses else None,
                    "destinationAddress": job.addresses[-1] if len(job.addresses) > 1 else None,
                    "arrivalStart": ARRIVAL_WINDOWS[job.window][0],
                    "crewNames": [self._crew_names[c] for c in job.crew_ids],
                    "opportunityStatus": opp.status,
                    "confirmed": job.confirmed,
                    "laborHours": job.hours,
                    "travelHours": job.travel,
                    # Opportunity detail's actualCharges total and totalTips of the job (completed jobs only).
                    "actualCharges": round(sum(charge["totalCost"] for charge in self._job_charges(
                        job, self._share(opp), self._billed_factor(job))), 2)
                        if opp.status == STATUS_COMPLETED else None,
                    "tips": round(self._share(opp) * 0.05, 2) if opp.status == STATUS_COMPLETED else 0.0,
                }
            return truth

    def opportunity_ids_in_window(self, from_day, to_day):
        """Sorted ids of live opportunities with a job in [from_day, to_day]."""
        from_day, to_day = as_date(from_day), as_date(to_day)
        with self._lock:
            return sorted({self.jobs[j].opportunity_id for j in self._window_job_ids(from_day, to_day)})

    def job_ids(self, from_day=None, to_day=None):
        """Sorted ids of live jobs, all or those dated in [from_day, to_day]."""
        from_day = as_date(from_day) if from_day is not None else date.min
        to_day = as_date(to_day) if to_day is not None else date.max
        with self._lock:
            return sorted(self._window_job_ids(from_day, to_day))

    def customer_of(self, opp_id):
        """The customer of opportunity opp_id as a sweep-style dict without opportunities."""
        with self._lock:
            return self._sweep_customer(self.opportunities[opp_id].customer_id, include_opportunities=False)

    def crew_name(self, crew_id):
        """A crew member's name from their id, or None."""
        return self._crew_names.get(crew_id)

    # ----- mutations --------------------------------------------------------------------------------------

    def _touch(self):
        """Record a mutation (invalidates cached sweeps)."""
        self.version += 1

    def _announce(self, event_type, **ids):
        """Send the change's webhook ({"event-type", "opportunity-id"…}) when a notifier is set."""
        if self.notifier is not None:
            self.notifier({"event-type": event_type, **{f"{k}-id": v for k, v in ids.items()}})

    def _live_opportunity(self, opp_id):
        """The opportunity opp_id; KeyError when unknown or deleted."""
        opp = self.opportunities.get(opp_id)
        if opp is None or opp.deleted:
            raise KeyError(f"no live opportunity {opp_id}")
        return opp

    def change_opportunity(self, opp_id):
        """Change what the sweep shows (first job's type) and the money; returns the new finalTotal."""
        with self._lock:
            opp = self._live_opportunity(opp_id)
            jobs = self._live_jobs(opp)
            if jobs:
                jobs[0].type = 4 if jobs[0].type != 4 else 1
            else:
                opp.status = 3 if opp.status != 3 else STATUS_BOOKED
            opp.subtotal = round(opp.subtotal + 125.0, 2)
            self._touch()
            self._announce("opportunity-changed", opportunity=opp_id)
            return self._money(opp)["finalTotal"]

    def change_detail_only(self, opp_id):
        """Change money and crew, which only opportunity detail shows; returns the new finalTotal."""
        with self._lock:
            opp = self._live_opportunity(opp_id)
            opp.subtotal = round(opp.subtotal + 210.5, 2)
            crew = self._crew_by_branch[opp.branch_index]
            for job in self._live_jobs(opp):
                spare = [c for c in crew if c not in job.crew_ids]
                if len(job.crew_ids) < 4 and spare:
                    job.crew_ids = job.crew_ids + (spare[0],)
                else:
                    job.crew_ids = job.crew_ids[:-1]
            self._touch()
            self._announce("opportunity-changed", opportunity=opp_id)
            return self._money(opp)["finalTotal"]

    def set_opportunity_status(self, opp_id, status):
        """Set an opportunity's status (e.g. 20 to cancel it); visible in sweep and detail."""
        with self._lock:
            self._live_opportunity(opp_id).status = int(status)
            self._touch()
            if self.notifier is not None:
                self.notifier({"event-type": "opportunity-status-changed", "opportunity-id": opp_id,
                               "opportunity-status": int(status)})

    def delete_opportunity(self, opp_id):
        """Delete an opportunity: gone from the sweep, detail answers 404."""
        with self._lock:
            opp = self._live_opportunity(opp_id)
            opp.deleted = True
            for job_id in opp.job_ids:
                self._by_date[self.jobs[job_id].service_date].pop(job_id, None)
            self._touch()
            self._announce("opportunity-deleted", opportunity=opp_id)

    def delete_job(self, job_id):
        """Delete one job from its opportunity."""
        with self._lock:
            job = self.jobs.pop(job_id)
            self.opportunities[job.opportunity_id].job_ids.remove(job_id)
            self._by_date[job.service_date].pop(job_id, None)
            self._touch()
            self._announce("job-deleted", job=job_id)

    def move_job(self, job_id, new_date):
        """Reschedule a job to new_date (date or ISO string)."""
        new_date = as_date(new_date)
        with self._lock:
            job = self.jobs[job_id]
            if not self.opportunities[job.opportunity_id].deleted:
                self._by_date[job.service_date].pop(job_id, None)
                self._by_date.setdefault(new_date, {})[job_id] = None
            job.service_date = new_date
            self._touch()
            self._announce("opportunity-changed", opportunity=job.opportunity_id)

    def add_opportunity(self, day, branch_index=0):
        """A new booked opportunity (new customer, one moving job on day); returns its id."""
        day = as_date(day)
        with self._lock:
            site = self._sites[branch_index]
            customer = self._new_customer(site)
            opp = self._new_opportunity(customer, branch_index, STATUS_BOOKED, 0, 1)
            addresses = (self._full_address(self._address_parts(site)), self._full_address(self._address_parts(site)))
            self._new_job(opp, day, 1, addresses, False, window=0, crew_size=2)
            self._touch()
            self._announce("opportunity-created", opportunity=opp.id)
            return opp.id

    def rename_customer(self, customer_id, name):
        """Rename a customer (e.g. to HTML, to test escaping)."""
        with self._lock:
            self.customers[customer_id].name = name
            self._touch()
            self._announce("customer-updated", customer=customer_id)

    # ----- demo: SmartMoving edits dispatched work (issue 19 §5) -----------------------------------------

    def demo_change_jobs(self, count=None):
        """Tomorrow's job ids the demo's SmartMoving edits touch, in the order they are edited.

        Booked, single-job opportunities (a cancellation then touches one job), by job number:
        the same ids for the same seed and day. The demo dispatches exactly these (demo.py).
        Jobs of the two branches first by name come first: the demo dispatcher and manager
        are given those two locations, so the edits land on the boards they see.
        """
        count = len(DEMO_CHANGE_STEPS) if count is None else count
        tomorrow = self.today + timedelta(days=1)
        by_name = sorted(range(len(self._branches)), key=lambda index: self._branches[index]["name"])
        demo_branches = set(by_name[:2])
        with self._lock:
            jobs = [self.jobs[job_id] for job_id in self._by_date.get(tomorrow, {}) if job_id in self.jobs]
            picked = sorted((job for job in jobs if len(self.opportunities[job.opportunity_id].job_ids) == 1
                             and self.opportunities[job.opportunity_id].status == STATUS_BOOKED
                             and not self.opportunities[job.opportunity_id].deleted),
                            key=lambda job: (self.opportunities[job.opportunity_id].branch_index not in demo_branches,
                                             job.job_number))
        return [job.id for job in picked[:count]]

    def apply_demo_change(self, step, job_ids=None):
        """Make the step-th demo edit (DEMO_CHANGE_STEPS) to its job; a sentence saying what, or None past the end.

        Deterministic: the same step does the same thing to the same job, so replaying
        the steps after a restart rebuilds the world the demo had (nothing new to see).
        """
        job_ids = job_ids if job_ids is not None else self.demo_change_jobs()
        if step >= min(len(DEMO_CHANGE_STEPS), len(job_ids)):
            return None
        kind, job_id = DEMO_CHANGE_STEPS[step], job_ids[step]
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or self.opportunities[job.opportunity_id].deleted:
                return None
            opp_id = job.opportunity_id
            if kind == "window":
                job.window = (job.window + 2) % len(ARRIVAL_WINDOWS)
                self._touch()
                self._announce("opportunity-changed", opportunity=opp_id)
                return f"{job.job_number}: arrival window now {self._window_dict(job.window)['description']}"
            if kind == "address":
                street = f"{100 + 7 * step} {STREETS[step % len(STREETS)]}"
                city = ", ".join(job.addresses[-1].split(", ")[-2:])     # "Toronto, ON M5V 2A1"
                job.addresses = job.addresses[:-1] + (f"{street}, {city}",)
                self._touch()
                self._announce("opportunity-changed", opportunity=opp_id)
                # A one-address job's only address is both ends: the dashboard records it as "Address".
                where = "destination" if len(job.addresses) > 1 else "address"
                return f"{job.job_number}: {where} now {job.addresses[-1]}"
        if kind == "cancel":
            self.set_opportunity_status(opp_id, STATUS_CANCELLED)
            return f"{job.job_number}: cancelled"
        self.delete_opportunity(opp_id)
        return f"{job.job_number}: deleted"


# The demo's SmartMoving edits, one per step: the first four a few minutes after start, then one
# every DEMO_CHANGE_EVERY (dashboard/sandbox/demo_changes.py).
DEMO_CHANGE_STEPS = ("window", "address", "cancel", "delete", "window", "address", "window", "address", "window",
                     "address")
