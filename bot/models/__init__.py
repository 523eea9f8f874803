"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from bot.models.announcements import (
    Announcement,
    AnnouncementAck,
    AnnouncementStatus,
    AttachmentKind,
)
from bot.models.audit import AuditAction, AuditEntry
from bot.models.meetings import (
    ActionItem,
    ActionItemStatus,
    Meeting,
    MeetingException,
    MeetingMinutes,
    MeetingReminder,
    MeetingRsvp,
    MeetingStatus,
    ReminderOutcome,
    RsvpAnswer,
)
from bot.models.members import (
    AccessRequest,
    AccessRequestStatus,
    Admission,
    Invite,
    Member,
    MemberStatus,
    Role,
)
from bot.models.outbox import OutboxAction, OutboxMessage, OutboxState

__all__ = [
    "AccessRequest",
    "AccessRequestStatus",
    "ActionItem",
    "ActionItemStatus",
    "Admission",
    "Announcement",
    "AnnouncementAck",
    "AnnouncementStatus",
    "AttachmentKind",
    "AuditAction",
    "AuditEntry",
    "Invite",
    "Meeting",
    "MeetingException",
    "MeetingMinutes",
    "MeetingReminder",
    "MeetingRsvp",
    "MeetingStatus",
    "Member",
    "MemberStatus",
    "OutboxAction",
    "OutboxMessage",
    "OutboxState",
    "ReminderOutcome",
    "Role",
    "RsvpAnswer",
]
