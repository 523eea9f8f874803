"""The demo working group: the people `wgbot sandbox` starts with, in the database and in the fake.

Everybody is admitted through the services (not by inserting rows), so the audit log of a fresh
sandbox reads like a real group's: the admin came from configuration, everyone else was admitted
and given a role by the admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select

from bot.db import Database
from bot.models import Admission, Member, Role
from bot.sandbox.driver import Sandbox, SandboxUser
from bot.services import knowledge_io, members

_ZONES = {
    "KZ": "Asia/Almaty",
    "KG": "Asia/Bishkek",
    "TJ": "Asia/Dushanbe",
    "TM": "Asia/Ashgabat",
    "UZ": "Asia/Tashkent",
    "AF": "Asia/Kabul",
    "IR": "Asia/Tehran",
    "PK": "Asia/Karachi",
}

# Same ids as tests/conftest.py, so transcripts from tests and the sandbox look alike.
ADMIN_ID = 100_000_001
GROUP_ID = -1_001_234_567_890
GROUP_TITLE = "TIP/SOM expert working group"


@dataclass(frozen=True)
class DemoPerson:
    handle: str  # what `!as <handle>` takes in the terminal sandbox
    telegram_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str
    # None: a stranger, never admitted.
    role: Role | None
    country: str | None = None
    agency: str | None = None

    @property
    def timezone(self) -> str | None:
        """Where they keep their clocks: their country's capital, Vienna for the office."""
        if self.handle in ("mod1", "member2"):
            return "Europe/Vienna"
        return _ZONES.get(self.country or "")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    @property
    def profile(self) -> members.Profile:
        return members.Profile(self.telegram_id, self.full_name, self.username)


PEOPLE: list[DemoPerson] = [
    DemoPerson("admin", ADMIN_ID, "Ayana", "Beketova", "ayana_admin", "en", Role.ADMIN),
    DemoPerson("mod1", 100_000_002, "Marta", "Kowalska", "marta_k", "en", Role.MODERATOR),
    DemoPerson("mod2", 100_000_003, "Тимур", "Рахимов", "timur_rakhimov", "ru", Role.MODERATOR),
    DemoPerson(
        "kz",
        100_000_011,
        "Айгерим",
        "Нурланова",
        "aigerim_n",
        "ru",
        Role.FOCAL_POINT,
        "KZ",
        "Financial Monitoring Agency",
    ),
    DemoPerson(
        "kg",
        100_000_012,
        "Bakyt",
        "Toktogulov",
        "bakyt_t",
        "en",
        Role.FOCAL_POINT,
        "KG",
        "State Financial Intelligence Service",
    ),
    DemoPerson(
        "tj",
        100_000_013,
        "Фарход",
        "Саидов",
        None,
        "ru",
        Role.FOCAL_POINT,
        "TJ",
        "Financial Monitoring Department, National Bank of Tajikistan",
    ),
    DemoPerson(
        "tm",
        100_000_014,
        "Merdan",
        "Annayev",
        "merdan_a",
        "ru",
        Role.FOCAL_POINT,
        "TM",
        "Financial Monitoring Service, Ministry of Finance and Economy",
    ),
    DemoPerson(
        "uz",
        100_000_015,
        "Dilnoza",
        "Karimova",
        "dilnoza_k",
        "en",
        Role.FOCAL_POINT,
        "UZ",
        "Department for Combating Economic Crimes, General Prosecutor's Office",
    ),
    DemoPerson(
        "af",
        100_000_016,
        "Farid",
        "Ahmadzai",
        "farid_ahmadzai",
        "en",
        Role.FOCAL_POINT,
        "AF",
        "Financial Transactions and Reports Analysis Center",
    ),
    DemoPerson(
        "ir",
        100_000_017,
        "Maryam",
        "Hosseini",
        None,
        "en",
        Role.FOCAL_POINT,
        "IR",
        "Financial Intelligence Centre",
    ),
    DemoPerson(
        "pk",
        100_000_018,
        "Imran",
        "Qureshi",
        "imran_q",
        "en",
        Role.FOCAL_POINT,
        "PK",
        "Federal Investigation Agency, Anti-Human Trafficking Circle",
    ),
    DemoPerson(
        "member1", 100_000_021, "Гульнара", "Исмаилова", "gulnara_i", "ru", Role.MEMBER, "UZ"
    ),
    DemoPerson("member2", 100_000_022, "Jonas", "Weber", "jonas_weber", "en", Role.MEMBER),
    DemoPerson("stranger", 100_000_099, "Rustam", "Nazarov", "rustam_n", "en", None),
]

ADMIN = PEOPLE[0]


def person(handle: str) -> DemoPerson:
    return next(p for p in PEOPLE if p.handle == handle)


async def seed(db: Database, now: datetime) -> None:
    """Admit the demo group into an empty database; leave a database with members alone.
    The starter glossary and resources go into whichever of the two is still empty."""
    async with db.session() as session:
        await knowledge_io.seed(session, now=now)
    admin_ids = frozenset({ADMIN.telegram_id})
    async with db.session() as session:
        count = (await session.exec(select(func.count()).select_from(Member))).one()
        if count:
            return
        # The admin comes from configuration, as in production (ADMIN_IDS); then gets a name.
        await members.bootstrap_admins(session, admin_ids, now)
        admin = await members.by_telegram_id(session, ADMIN.telegram_id)
        assert admin is not None
        await members.refresh_profile(session, admin, ADMIN.profile)
        for demo in PEOPLE:
            if demo.role is None or demo.role is Role.ADMIN:
                continue
            # A chosen language only for those who speak Russian; others follow Telegram's.
            member = await members.admit(
                session,
                demo.profile,
                via=Admission.MODERATOR,
                now=now,
                actor=admin,
                language="ru" if demo.language_code == "ru" else None,
                detail="demo group",
            )
            if demo.timezone:
                await members.set_timezone(session, member, demo.timezone)
            if demo.role is not Role.MEMBER:
                await members.set_role(
                    session,
                    admin,
                    member,
                    demo.role,
                    now=now,
                    admin_ids=admin_ids,
                    country=demo.country,
                    agency=demo.agency,
                )
            elif demo.country:
                await members.set_country(
                    session,
                    admin,
                    member,
                    demo.country,
                    now=now,
                    admin_ids=admin_ids,
                    agency=demo.agency,
                )


def add_to_fake(sandbox: Sandbox, group_id: int) -> dict[str, SandboxUser]:
    """Every demo person as a fake Telegram user, and the group chat of the admitted ones."""
    users: dict[str, SandboxUser] = {}
    for demo in PEOPLE:
        users[demo.handle] = sandbox.user(
            demo.telegram_id,
            demo.first_name,
            last_name=demo.last_name,
            username=demo.username,
            language_code=demo.language_code,
        )
    admitted = [users[p.handle] for p in PEOPLE if p.role is not None]
    sandbox.group(group_id, GROUP_TITLE, admitted)
    # Members have talked to the bot before, so it may write to them first (access requests to
    # moderators, reminders); the stranger has not, as Telegram would refuse.
    for user in admitted:
        sandbox.api.started.add(user.id)
    return users
