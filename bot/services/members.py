"""Members and roles: who is admitted, what they may do, and every change audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import (
    AccessRequest,
    Admission,
    AuditAction,
    Member,
    MemberStatus,
    Role,
)
from bot.services import audit, countries, dialogues, outbox
from bot.services.errors import ServiceError

MAX_NAME = 256
MAX_AGENCY = 200
PAGE_SIZE = 20


@dataclass(frozen=True)
class Profile:
    """What Telegram tells us about a person: kept up to date on every contact."""

    telegram_id: int
    full_name: str
    username: str | None = None


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> Member | None:
    return (await session.exec(select(Member).where(Member.telegram_id == telegram_id))).first()


def has_access(member: Member | None) -> bool:
    return member is not None and member.status != MemberStatus.REMOVED


async def bootstrap_admins(session: AsyncSession, admin_ids: Iterable[int], now: datetime) -> None:
    """ADMIN_IDS are admins from the first start, whatever the database said before."""
    for telegram_id in admin_ids:
        member = await by_telegram_id(session, telegram_id)
        if member is None:
            member = Member(
                telegram_id=telegram_id,
                full_name=f"Admin {telegram_id}",
                role=Role.ADMIN,
                admitted_via=Admission.CONFIG,
                admitted_at=now,
            )
            session.add(member)
            await session.flush()
            await audit.record(
                session, AuditAction.ADMITTED, at=now, subject=member, detail="config"
            )
        elif member.role != Role.ADMIN or member.status == MemberStatus.REMOVED:
            before = member.role
            member.role = Role.ADMIN
            member.status = MemberStatus.ACTIVE
            await audit.record(
                session,
                AuditAction.ROLE_CHANGED,
                at=now,
                subject=member,
                detail=f"{before} -> admin (config)",
            )
    await session.flush()


async def refresh_profile(session: AsyncSession, member: Member, profile: Profile) -> None:
    """Keep name and username current; a member who writes to us has not blocked us."""
    changed = False
    name = profile.full_name[:MAX_NAME]
    if name and member.full_name != name:
        member.full_name = name
        changed = True
    username = profile.username[:64] if profile.username else None
    if member.username != username:
        member.username = username
        changed = True
    if member.status == MemberStatus.INACTIVE:
        member.status = MemberStatus.ACTIVE
        changed = True
    if changed:
        session.add(member)
        await session.flush()


async def admit(
    session: AsyncSession,
    profile: Profile,
    *,
    via: Admission,
    now: datetime,
    actor: Member | None = None,
    language: str | None = None,
    detail: str = "",
) -> Member:
    """Admit a person as a member (or re-admit one who was removed)."""
    member = await by_telegram_id(session, profile.telegram_id)
    if member is not None and member.status != MemberStatus.REMOVED:
        return member
    if member is None:
        member = Member(
            telegram_id=profile.telegram_id,
            full_name=profile.full_name[:MAX_NAME] or str(profile.telegram_id),
            username=profile.username,
            role=Role.MEMBER,
            admitted_via=via,
            admitted_at=now,
            language=language,
        )
    else:
        member.status = MemberStatus.ACTIVE
        member.role = Role.MEMBER
        member.admitted_via = via
        member.admitted_at = now
        member.full_name = profile.full_name[:MAX_NAME] or member.full_name
        member.username = profile.username
    session.add(member)
    await session.flush()
    await audit.record(
        session,
        AuditAction.ADMITTED,
        at=now,
        actor=actor,
        subject=member,
        detail=f"{via.value}{': ' + detail if detail else ''}",
    )
    return member


async def find(session: AsyncSession, reference: str) -> Member:
    """A member by `@username`, `#12` or `12` (the number /members shows)."""
    reference = reference.strip()
    member: Member | None = None
    if reference.startswith("@") and len(reference) > 1:
        member = (
            await session.exec(
                select(Member).where(func.lower(Member.username) == reference[1:].lower())
            )
        ).first()
    elif reference.lstrip("#").isdigit() and len(reference) < 12:
        number = int(reference.lstrip("#"))
        # Ids are 32-bit: PostgreSQL refuses to even compare a larger number with one.
        if 0 < number <= 2**31 - 1:
            member = await session.get(Member, number)
    if member is None or member.status == MemberStatus.REMOVED:
        raise ServiceError("member_not_found", reference=reference[:64])
    return member


def _clean_agency(agency: str) -> str | None:
    agency = " ".join(agency.split())
    if len(agency) > MAX_AGENCY:
        raise ServiceError("agency_too_long", limit=MAX_AGENCY)
    return agency or None


def _ensure_may_manage(actor: Member, target: Member, admin_ids: frozenset[int]) -> None:
    if actor.id == target.id:
        raise ServiceError("not_yourself")
    if target.telegram_id in admin_ids:
        raise ServiceError("configured_admin")
    actor_role, target_role = Role(actor.role), Role(target.role)
    if not actor_role.at_least(Role.MODERATOR):
        raise ServiceError("forbidden")
    # Moderators manage members and focal points; only admins manage moderators and admins.
    if target_role.at_least(Role.MODERATOR) and actor_role is not Role.ADMIN:
        raise ServiceError("only_admin_manages_moderators")


async def set_role(
    session: AsyncSession,
    actor: Member,
    target: Member,
    role: Role,
    *,
    now: datetime,
    admin_ids: frozenset[int],
    country: str | None = None,
    agency: str | None = None,
) -> Member:
    _ensure_may_manage(actor, target, admin_ids)
    if role.at_least(Role.MODERATOR) and Role(actor.role) is not Role.ADMIN:
        raise ServiceError("only_admin_manages_moderators")
    if country is not None:
        code = countries.normalize(country)
        if code is None:
            raise ServiceError("bad_country", country=country[:8])
        target.country = code
    if agency is not None:
        target.agency = _clean_agency(agency)
    if role is Role.FOCAL_POINT and not target.country:
        raise ServiceError("focal_point_needs_country")
    before = Role(target.role)
    if before is role and country is None and agency is None:
        raise ServiceError("role_unchanged", role=role.value)
    target.role = role
    session.add(target)
    await session.flush()
    detail = f"{before.value} -> {role.value}"
    if role is Role.FOCAL_POINT:
        detail += f" ({target.country}{', ' + target.agency if target.agency else ''})"
    await audit.record(
        session, AuditAction.ROLE_CHANGED, at=now, actor=actor, subject=target, detail=detail
    )
    return target


async def set_country(
    session: AsyncSession,
    actor: Member,
    target: Member,
    country: str,
    *,
    now: datetime,
    admin_ids: frozenset[int],
    agency: str | None = None,
) -> Member:
    # A moderator may set their own country; anybody else's goes through the usual rules.
    if actor.id == target.id:
        if not Role(actor.role).at_least(Role.MODERATOR):
            raise ServiceError("forbidden")
    else:
        _ensure_may_manage(actor, target, admin_ids)
    code = countries.normalize(country)
    if code is None:
        raise ServiceError("bad_country", country=country[:8])
    before = target.country or "-"
    target.country = code
    if agency is not None:
        target.agency = _clean_agency(agency)
    session.add(target)
    await session.flush()
    await audit.record(
        session,
        AuditAction.COUNTRY_CHANGED,
        at=now,
        actor=actor,
        subject=target,
        detail=f"{before} -> {code}{', ' + target.agency if target.agency else ''}",
    )
    return target


async def remove(
    session: AsyncSession,
    actor: Member,
    target: Member,
    *,
    now: datetime,
    admin_ids: frozenset[int],
    reason: str = "",
) -> Member:
    """Withdraw access. The name and Telegram id stay, so the group chat cannot readmit them."""
    _ensure_may_manage(actor, target, admin_ids)
    await audit.record(
        session, AuditAction.REMOVED, at=now, actor=actor, subject=target, detail=reason[:300]
    )
    await outbox.cancel_for_person(session, target.id, target.telegram_id)
    target.status = MemberStatus.REMOVED
    target.role = Role.MEMBER
    target.agency = None
    target.language = None
    target.timezone = None
    session.add(target)
    await session.flush()
    return target


async def lose_group_access(session: AsyncSession, telegram_id: int, now: datetime) -> bool:
    """A person admitted because they were in the group chat left it: they lose access."""
    member = await by_telegram_id(session, telegram_id)
    if member is None or member.admitted_via != Admission.GROUP:
        return False
    if member.status == MemberStatus.REMOVED or Role(member.role).at_least(Role.MODERATOR):
        return False
    await audit.record(
        session, AuditAction.LOST_ACCESS, at=now, subject=member, detail="left group"
    )
    await outbox.cancel_for_person(session, member.id, member.telegram_id)
    await dialogues.forget(session, member.telegram_id)
    await session.delete(member)
    await session.flush()
    return True


async def mark_inactive(session: AsyncSession, telegram_id: int) -> bool:
    """The person blocked the bot: keep them, send them nothing until they come back."""
    member = await by_telegram_id(session, telegram_id)
    if member is None or member.status != MemberStatus.ACTIVE:
        return False
    member.status = MemberStatus.INACTIVE
    session.add(member)
    await session.flush()
    return True


async def set_language(session: AsyncSession, member: Member, language: str) -> None:
    member.language = language
    session.add(member)
    await session.flush()


async def set_timezone(session: AsyncSession, member: Member, zone_name: str) -> None:
    member.timezone = zone_name
    session.add(member)
    await session.flush()


async def forget(session: AsyncSession, member: Member, now: datetime) -> None:
    """/forgetme: delete the person's data; the audit log keeps the event, not the name."""
    replacement = f"forgotten member #{member.id}"
    await audit.forget_labels(session, member, replacement)
    # The glossary's history keeps the change, not the name (a local import: glossary uses
    # this module).
    from bot.services import glossary

    await glossary.forget_labels(session, member, replacement)
    await audit.record(session, AuditAction.FORGOTTEN, at=now, subject_label=replacement)
    requests = await session.exec(
        select(AccessRequest).where(AccessRequest.telegram_id == member.telegram_id)
    )
    for request in requests:
        await session.delete(request)
    await outbox.cancel_for_person(session, member.id, member.telegram_id)
    await dialogues.forget(session, member.telegram_id)
    await session.delete(member)
    await session.flush()


_ROLE_ORDER = case(
    {Role.ADMIN.value: 0, Role.MODERATOR.value: 1, Role.FOCAL_POINT.value: 2},
    value=Member.role,
    else_=3,
)


async def page(
    session: AsyncSession,
    page_number: int,
    *,
    country: str | None = None,
    role: Role | None = None,
    page_size: int = PAGE_SIZE,
) -> tuple[list[Member], int, int]:
    """Members by country then role: one page of them, the page count and the total."""
    query = select(Member).where(Member.status != MemberStatus.REMOVED)
    if country:
        query = query.where(Member.country == country)
    if role:
        query = query.where(Member.role == role.value)
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    pages = max(1, -(-total // page_size))
    page_number = min(max(page_number, 0), pages - 1)
    rows = await session.exec(
        query.order_by(
            case((col(Member.country).is_(None), 1), else_=0),
            Member.country,
            _ROLE_ORDER,
            func.lower(Member.full_name),
            Member.id,
        )
        .offset(page_number * page_size)
        .limit(page_size)
    )
    return list(rows), pages, total


async def with_role_at_least(session: AsyncSession, role: Role) -> list[Member]:
    """Active members holding at least this role (e.g. everybody who moderates)."""
    roles = [r.value for r in Role if r.at_least(role)]
    rows = await session.exec(
        select(Member)
        .where(col(Member.role).in_(roles), Member.status == MemberStatus.ACTIVE)
        .order_by(Member.id)
    )
    return list(rows)
