"""Polls end to end: /poll (one line and dialogue), quick polls and Telegram's tallies, secret
ballots (votes, refusals, reminders, closing, quorum, per country), /polls, results, the chart
and the CSV, and the privacy test: no voter next to a choice anywhere."""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from bot.config import Settings
from bot.i18n import gettext
from bot.logging_setup import CHATTY_LIBRARIES, quiet_libraries
from bot.models import OutboxMessage, Poll, PollStatus
from bot.sandbox.driver import Replies, Sandbox, SandboxUser
from bot.sandbox.fake_api import StoredMessage
from bot.services import polls as polls_service
from tests.conftest import GROUP_ID, make_member

# -- people -----------------------------------------------------------------------------------


@dataclass
class Group:
    moderator: SandboxUser
    people: dict[str, SandboxUser] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> SandboxUser:
        return self.people[name]


async def working_group(sandbox: Sandbox) -> Group:
    """A moderator; focal points of KZ (two, one reads Russian), AF and TJ; two members."""
    moderator = sandbox.user(200, "Marat", username="marat_mod")
    group = Group(moderator)
    group.ids["moderator"] = await make_member(sandbox, moderator, "moderator")
    for name, user_id, role, country, language in (
        ("kz", 301, "focal_point", "KZ", None),
        ("kz2", 302, "focal_point", "KZ", "ru"),
        ("af", 303, "focal_point", "AF", None),
        ("tj", 304, "focal_point", "TJ", None),
        ("member", 305, "member", "KZ", None),
        ("plain", 306, "member", None, None),
    ):
        user = sandbox.user(user_id, name.capitalize(), username=f"user_{name}")
        group.ids[name] = await make_member(sandbox, user, role, country=country, language=language)
        group.people[name] = user
    return group


async def polls_in_db(sandbox: Sandbox) -> list[Poll]:
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        return list(await session.exec(select(Poll).order_by(col(Poll.id))))


def ballot_message(user: SandboxUser) -> StoredMessage:
    found = [m for m in user.chat() if m.from_id != user.id and any(
        b.get("callback_data", "").startswith(("pl:b:", "pl:t:")) for row in m.buttons for b in row
    )]  # fmt: skip
    assert found, "no ballot in the chat"
    return found[-1]


async def open_ballot(moderator: SandboxUser, line: str) -> Replies:
    replies = await moderator.send(f"/poll {line}")
    assert "Preview" in replies.last.text, replies.text
    return await moderator.press(replies.last, "Confirm")


# -- creating -----------------------------------------------------------------------------------


async def test_one_line_quick_poll_to_the_group(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    replies = await group.moderator.send("/poll Next meeting? | 3 Dec | 10 Dec | 17 Dec --close 3d")
    assert "Preview" in replies.last.text and "10 Dec" in replies.last.text
    assert "Next meeting?" in replies.last.text
    done = await group.moderator.press(replies.last, "Confirm")
    sent = [m for m in done if m.poll is not None]
    assert len(sent) == 1 and sent[0].chat_id == GROUP_ID
    assert sent[0].poll["question"] == "Next meeting?"
    assert [o["text"] for o in sent[0].poll["options"]] == ["3 Dec", "10 Dec", "17 Dec"]
    assert sent[0].poll["is_anonymous"] is True
    assert "is open" in done.to(group.moderator.id).text
    (poll,) = await polls_in_db(sandbox)
    assert poll.closes_at == sandbox.now() - timedelta(seconds=1) + timedelta(days=3)


async def test_quick_poll_tallies_are_summed_over_chats(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    done = await open_ballot(group.moderator, "Priority? | Cases | Training --audience all")
    sent = [m for m in done if m.poll is not None]
    assert {m.chat_id for m in sent} == {u.id for u in group.people.values()} | {group.moderator.id}
    await sandbox.anonymous_votes(sent[0], [1, 0])
    await sandbox.anonymous_votes(sent[1], [2, 1])
    await sandbox.anonymous_votes(sent[1], [0, 1])  # later counts of the same message
    await sandbox.anonymous_votes(sent[2], [0, 3])
    (poll,) = await polls_in_db(sandbox)
    shown = await group.moderator.send(f"/polls {poll.id}")
    results = await group.moderator.press(shown.last, "Results")
    assert "Results so far" in results.last.text
    # 1+2 = 3 for Cases, 0+2+3 = 5 for Training, 1+3+1+3 = 8 voters
    assert "3 (38 %)" in results.last.text and "5 (62 %)" in results.last.text
    assert "8 people voted" in results.last.text


async def test_quick_poll_stops_at_the_deadline_after_a_restart(
    sandbox: Sandbox, settings: Settings, clock: Any, spec: Any
) -> None:
    group = await working_group(sandbox)
    done = await open_ballot(
        group.moderator, "Venue? | Almaty | Tashkent --audience all --close 2d"
    )
    sent = [m for m in done if m.poll is not None]
    await sandbox.anonymous_votes(sent[0], [1, 2])
    await sandbox.stop()
    clock.advance(timedelta(days=3))  # the deadline passes while the bot is down
    new = Sandbox(settings, clock=clock, spec=spec, api=sandbox.api)
    await new.start()
    try:
        await new.wait(timedelta(minutes=1))
        assert all(m.poll["is_closed"] for m in sent)
        (poll,) = await polls_in_db(new)
        assert poll.status == PollStatus.CLOSED
        assert poll.results is not None and poll.results["counts"] == [1, 2]
        results = [m for m in new.api.messages.values() if m.text and "Results" in m.text]
        assert any(m.chat_id == group.moderator.id for m in results)
        async with new.app.bot_data["app"].db.session() as session:
            stops = list(
                await session.exec(select(OutboxMessage).where(OutboxMessage.action == "stop"))
            )
        assert stops and all(row.state == "sent" for row in stops)
    finally:
        await new.stop()
        assert not new.api.violations


async def test_dialogue_makes_a_secret_ballot(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    mod = group.moderator
    replies = await mod.send("/poll")
    assert "question" in replies.last.text
    replies = await mod.send("x" * 301)
    assert "too long" in replies.last.text and "question" in replies.last.text
    replies = await mod.send("Adopt the <b>joint</b> statement?")
    replies = await mod.send("Yes")
    replies = await mod.send("yes")
    assert "twice" in replies.last.text
    replies = await mod.send("No\nAbstain")
    assert "Done" in [b["text"] for row in replies.last.buttons for b in row]
    replies = await mod.press(replies.last, "Done")
    replies = await mod.press(replies.last, "Secret ballot")
    replies = await mod.press(replies.last, "One answer")
    assert "group chat" not in " ".join(b["text"] for r in replies.last.buttons for b in r)
    audience_message = replies.last
    replies = await mod.press(audience_message, "Next")  # nothing chosen: an alert
    assert not replies and sandbox.api.callback_answers[-1].show_alert
    await mod.press(audience_message, "Focal points")
    assert "4 people" in audience_message.text
    replies = await mod.press(audience_message, "Next")
    assert "When does it close" in replies.last.text
    replies = await mod.send("yesterday")
    assert "could not read" in replies.last.text
    replies = await mod.send("40d")
    assert "at most 30 days" in replies.last.text
    replies = await mod.press(replies.last, "3 days")
    assert "quorum" in replies.last.text.lower()
    replies = await mod.send("9")
    assert "more than the 4" in replies.last.text
    replies = await mod.send("3")
    assert "Preview" in replies.last.text
    assert "<b>joint</b>" in replies.last.text  # shown literally
    assert "4 people" in replies.last.text
    done = await mod.press(replies.last, "Confirm")
    assert {m.chat_id for m in done if m.buttons} == {
        group["kz"].id,
        group["kz2"].id,
        group["af"].id,
        group["tj"].id,
    }
    (poll,) = await polls_in_db(sandbox)
    assert poll.kind == "secret" and poll.eligible == 4 and poll.quorum == 3
    assert poll.question == "Adopt the <b>joint</b> statement?"


# -- secret ballots -----------------------------------------------------------------------------


async def test_secret_ballot_flow(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await open_ballot(group.moderator, "Adopt the statement? | Yes | No --secret --audience focal")
    (poll,) = await polls_in_db(sandbox)
    kz = group["kz"]
    ballot = ballot_message(kz)
    assert "Secret ballot" in ballot.text
    # A member who was not sent it cannot vote, even with the right data.
    outsider = await group["member"].press_data(ballot, f"pl:b:{poll.id}:0")
    assert not outsider
    assert "not among the voters" in sandbox.api.callback_answers[-1].text
    # Results are hidden while it is open.
    await group.moderator.send(f"/polls {poll.id}")
    await group.moderator.press_data(ballot, f"pl:r:{poll.id}")
    assert "when the ballot closes" in sandbox.api.callback_answers[-1].text
    # A forged option, a forged poll.
    await kz.press_data(ballot, f"pl:b:{poll.id}:7")
    assert sandbox.api.callback_answers[-1].text == "This button is no longer valid."
    await kz.press_data(ballot, "pl:b:99999:0")
    assert sandbox.api.callback_answers[-1].show_alert
    # The vote.
    await kz.press(ballot, "Yes")
    answer = sandbox.api.callback_answers[-1]
    assert answer.text == "Your vote has been recorded." and "Yes" not in answer.text
    assert "Your vote has been recorded. Results when the ballot closes." in ballot.text
    assert not ballot.buttons and "Yes" not in ballot.text.split("\n")[-1]
    # A second press (a replay of the same data).
    await kz.press_data(ballot, f"pl:b:{poll.id}:1")
    assert "already voted" in sandbox.api.callback_answers[-1].text
    listing = await kz.send("/polls")
    assert "You have voted" in listing.last.text
    listing = await group["af"].send("/polls")
    assert "You have not voted yet" in listing.last.text
    # Everybody votes: it closes, results go out.
    await group["kz2"].press(ballot_message(group["kz2"]), "No")
    await group["af"].press(ballot_message(group["af"]), "Yes")
    closing = await group["tj"].press(ballot_message(group["tj"]), "Yes")
    (poll,) = await polls_in_db(sandbox)
    assert poll.status == PollStatus.CLOSED
    mine = closing.to(group.moderator.id).text
    assert "3 of 4 voted" not in mine and "4 of 4 voted" in mine
    assert "3 (75 %)" in mine and "1 (25 %)" in mine
    # A vote after close.
    await kz.press_data(ballot, f"pl:b:{poll.id}:0")
    assert sandbox.api.callback_answers[-1].show_alert


async def test_votes_pressed_together_are_written_together(sandbox: Sandbox) -> None:
    """Presses that arrive in one batch of updates are cast in one transaction (the ballot
    box's group commit), and still each voter is answered in their language, and a stranger
    is refused as anywhere else."""
    group = await working_group(sandbox)
    await open_ballot(group.moderator, "Adopt? | Yes | No | Abstain --secret")
    (poll,) = await polls_in_db(sandbox)
    choices = {"kz": "Yes", "kz2": "No", "af": "Yes", "tj": "Abstain", "member": "Yes"}
    ballots = {name: ballot_message(group[name]) for name in choices}
    stranger = sandbox.user(999, "Stranger")
    payloads = [group[name].pressing(ballots[name], label) for name, label in choices.items()] + [
        stranger.pressing_data(ballots["kz"], f"pl:b:{poll.id}:1")
    ]
    answers_before = len(sandbox.api.callback_answers)
    await sandbox.process_together(payloads)

    box = sandbox.app.bot_data["ballot_box"]
    assert box.stats.transactions == 1 and box.stats.largest == 6
    answers = sandbox.api.callback_answers[answers_before:]
    recorded = [a for a in answers if a.text == "Your vote has been recorded."]
    assert len(recorded) == 4
    assert [a.text for a in answers].count(gettext("ru", "Your vote has been recorded.")) == 1
    refused = [a for a in answers if a.show_alert]
    assert len(answers) == 6 and len(refused) == 1
    assert refused[0].text and "only for members" in refused[0].text
    for name in choices:
        assert not ballots[name].buttons
    assert gettext("ru", "Your vote has been recorded. Results when the ballot closes.") in (
        ballots["kz2"].text
    )
    app = sandbox.app.bot_data["app"]
    async with app.db.session() as session:
        stored = await session.get(Poll, poll.id)
        assert stored is not None
        assert (await polls_service.tally(session, stored)).counts == [3, 1, 1]


async def test_a_ballot_button_counts_in_the_middle_of_a_dialogue(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await open_ballot(group.moderator, "Adopt? | Yes | No --secret")
    asked = await group.moderator.send("/poll")
    assert "What is the question?" in asked.last.text
    await group.moderator.press(ballot_message(group.moderator), "Yes")
    assert sandbox.api.callback_answers[-1].text == "Your vote has been recorded."
    # The dialogue goes on where it was.
    replies = await group.moderator.send("Where do we meet next?")
    assert "Send the options" in replies.last.text


async def test_multiple_choice_ballot(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await open_ballot(group.moderator, "Topics? | Cash | Crypto | Hawala --secret --multi")
    ballot = ballot_message(group["member"])
    await group["member"].press(ballot, "Cast my vote")
    assert "at least one" in sandbox.api.callback_answers[-1].text
    await group["member"].press(ballot, "Cash")
    await group["member"].press(ballot, "Hawala")
    assert [b["text"][0] for row in ballot.buttons[:3] for b in row] == ["☑", "☐", "☑"]
    await group["member"].press(ballot, "Cash")
    await group["member"].press(ballot, "Cast my vote")
    assert "recorded" in ballot.text and not ballot.buttons
    (poll,) = await polls_in_db(sandbox)
    await group.moderator.send(f"/polls {poll.id}")
    replies = await group.moderator.send(f"/polls {poll.id}")
    await group.moderator.press(replies.last, "Close now")
    confirm = [m for m in group.moderator.chat() if "Close poll" in (m.text or "")][-1]
    replies = await group.moderator.press(confirm, "Yes, close it")
    result = replies.to(group.moderator.id).text
    assert "0 (0 %)" in result and "1 of 8 voted" in result


async def test_reminder_a_day_before_to_those_who_have_not_voted(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await open_ballot(
        group.moderator, "Chair? | Aliya | Bakyt --secret --audience focal --close 3d"
    )
    await group["kz"].press(ballot_message(group["kz"]), "Aliya")
    sent = await sandbox.wait(timedelta(days=2, hours=1))
    # kz2 reads Russian.
    reminder_words = ("Reminder", gettext("ru", "Reminder: you have not voted yet.")[:10])
    reminded = {m.chat_id for m in sent if any(w in (m.text or "") for w in reminder_words)}
    assert reminded == {group["kz2"].id, group["af"].id, group["tj"].id}
    # The reminder carries the buttons: voting from it works.
    reminder = [m for m in sent if m.chat_id == group["af"].id][-1]
    await group["af"].press(reminder, "Bakyt")
    assert "recorded" in reminder.text


async def test_one_vote_per_country_and_quorum_not_met(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await open_ballot(
        group.moderator, "Host? | Almaty | Dushanbe --secret --per-country --quorum 3"
    )
    (poll,) = await polls_in_db(sandbox)
    assert poll.eligible == 3 and sorted(poll.countries) == ["AF", "KZ", "TJ"]
    await group["kz"].press(ballot_message(group["kz"]), "Almaty")
    await group["kz2"].press(ballot_message(group["kz2"]), "Dushanbe")
    # kz2 reads Russian.
    assert gettext("ru", "Your country has already voted.") in sandbox.api.callback_answers[-1].text
    sent = await sandbox.wait(timedelta(days=3, minutes=1))
    result = sent.to(group.moderator.id).text
    assert "1 of 3 countries voted" in result
    assert "Quorum of 3 not reached: the result is not valid." in result


async def test_cancel_by_a_moderator(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await open_ballot(group.moderator, "Budget? | A | B --secret")
    (poll,) = await polls_in_db(sandbox)
    listing = await group.moderator.send("/polls")
    assert f"#{poll.id}" in listing.last.text
    asked = await group.moderator.press(listing.last, "Cancel")
    await group.moderator.press(asked.last, "No")
    assert "stays open" in [m for m in group.moderator.chat()][-1].text
    asked = await group.moderator.press(listing.last, "Cancel")
    told = await group.moderator.press(asked.last, "Yes, cancel it")
    assert "cancelled" in asked.last.text
    assert group["kz"].id in {m.chat_id for m in told if "Poll cancelled" in (m.text or "")}
    (poll,) = await polls_in_db(sandbox)
    assert poll.status == PollStatus.CANCELLED
    await group["kz"].press_data(ballot_message(group["kz"]), f"pl:b:{poll.id}:0")
    assert "closed" in sandbox.api.callback_answers[-1].text


async def test_chart_and_csv(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    await open_ballot(group.moderator, "Где встретимся? | Алматы | Ташкент --secret --audience KZ")
    for name in ("kz", "kz2", "member"):
        await group[name].press(
            ballot_message(group[name]), "Алматы" if name != "kz2" else "Ташкент"
        )
    results = [m for m in group.moderator.chat() if "Results" in (m.text or "")][-1]
    chart = await group.moderator.press(results, "Chart")
    assert chart.last.photo
    data = (
        sandbox.api.files[chart.last.photo[-1]["file_id"]]
        if hasattr(sandbox.api, "files")
        else None
    )
    if isinstance(data, (bytes, bytearray)):
        assert bytes(data).startswith(b"\x89PNG")
    document = await group.moderator.press(results, "CSV")
    assert document.last.document["file_name"].startswith("poll-")
    # A member's results notice has no CSV; pressing forged CSV data is refused by role.
    mine = [m for m in group["kz"].chat() if "Results" in (m.text or "")][-1]
    assert "CSV" not in " ".join(b["text"] for r in mine.buttons for b in r)
    await group["kz"].press_data(mine, results.buttons[0][-1]["callback_data"])
    assert sandbox.api.callback_answers[-1].show_alert


def test_chart_png_handles_cyrillic() -> None:
    from bot.charts import results_png

    png = results_png("Где встретимся?", ["Алматы", "Ташкент"], [2, 1], "3 из 3")
    assert png.startswith(b"\x89PNG")


def test_results_csv() -> None:
    from bot.services import polls

    poll = Poll(
        kind="secret",
        question="Q",
        options=["=A", "B"],
        quorum=2,
        created_at=datetime.now(),
        closes_at=datetime.now(),
    )  # type: ignore[arg-type]
    table = list(csv.reader(io.StringIO(polls.results_csv(poll, polls.Tally([2, 1], 3, 4, True)))))
    assert table[1] == ["'=A", "2", "66.7"]


# -- refusals -----------------------------------------------------------------------------------


async def test_members_may_not_make_polls(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    replies = await group["member"].send("/poll Q? | A | B")
    assert "Preview" not in replies.text and replies.text
    assert not await polls_in_db(sandbox)
    listing = await group["member"].send("/polls")
    assert "No poll is open" in listing.last.text and not listing.last.buttons
    stranger = sandbox.user(999, "Stranger")
    sandbox.api.started.add(999)
    replies = await stranger.send("/polls")
    assert "Open polls" not in replies.text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Q? | A", "at least 2 options"),
        ("Q? | " + " | ".join(str(i) for i in range(13)), "at most 12 options"),
        ("Q? | A | a", "twice"),
        ("x" * 301 + " | A | B", "too long"),
        ("Q? | " + "y" * 101 + " | B", "Option 1 is too long"),
        ("Q? | A | B --close 2020-01-01 10:00", "already passed"),
        ("Q? | A | B --close 31d", "at most 30 days"),
        ("Q? | A | B --bogus", "do not know the option --bogus"),
        ("Q? | A | B --per-country", "secret ballots"),
        ("Q? | A | B --secret --audience group", "not to the group chat"),
        ("Q? | A | B --secret --quorum 50", "more than the 8"),
        ("Q? | A | B --audience XX", "do not know the audience"),
    ],
)
async def test_bad_input(sandbox: Sandbox, line: str, expected: str) -> None:
    group = await working_group(sandbox)
    replies = await group.moderator.send(f"/poll {line}")
    assert expected in replies.text, replies.text
    assert "Nothing was saved" in replies.text
    assert not await polls_in_db(sandbox)


async def test_html_is_shown_literally(sandbox: Sandbox) -> None:
    group = await working_group(sandbox)
    done = await open_ballot(group.moderator, "<i>Which</i> & why? | <b>A</b> | B --audience all")
    poll_message = next(m for m in done if m.poll is not None)
    assert poll_message.poll["question"] == "<i>Which</i> & why?"
    assert poll_message.poll["options"][0]["text"] == "<b>A</b>"


# -- privacy ------------------------------------------------------------------------------------


@pytest.fixture
def production_logging() -> Any:
    """The library levels `wgbot run` sets (bot/logging_setup.py), with caplog's handler kept."""
    saved = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    quiet_libraries("DEBUG")
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_library_loggers_are_capped() -> None:
    from bot import logging_setup

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    saved = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    try:
        logging_setup.configure("DEBUG", [])
        for name in CHATTY_LIBRARIES:
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved_level in saved.items():
            logging.getLogger(name).setLevel(saved_level)


async def test_privacy_no_voter_next_to_a_choice(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, production_logging: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    group = await working_group(sandbox)
    await open_ballot(
        group.moderator, "Sensitive? | OPTION-ALPHA | OPTION-BRAVO | OPTION-CHARLIE --secret"
    )
    (poll,) = await polls_in_db(sandbox)
    choices = {"kz": 0, "kz2": 1, "af": 2, "tj": 0, "member": 1}
    for name, option in choices.items():
        await group[name].press(
            ballot_message(group[name]), f"OPTION-{['ALPHA', 'BRAVO', 'CHARLIE'][option]}"
        )
    await group["plain"].press(ballot_message(group["plain"]), "OPTION-CHARLIE")
    await group.moderator.press(ballot_message(group.moderator), "OPTION-ALPHA")
    detail = await group.moderator.send(f"/polls {poll.id}")
    asked = await group.moderator.press(detail.last, "Close now")
    await group.moderator.press(asked.last, "Yes, close it")
    results = [m for m in group.moderator.chat() if "Results" in (m.text or "")][-1]
    await group.moderator.press(results, "Chart")
    await group.moderator.press(results, "CSV")
    (poll,) = await polls_in_db(sandbox)
    assert poll.status == PollStatus.CLOSED and poll.results["counts"] == [3, 2, 2]

    voters = {name: group[name] for name in choices} | {"plain": group["plain"]}
    labels = ["OPTION-ALPHA", "OPTION-BRAVO", "OPTION-CHARLIE"]
    identifiers: dict[str, set[str]] = {}
    for name, user in voters.items():
        identifiers[name] = {
            str(user.id),
            user.json["first_name"],
            f"user_{name}",
            f"#{group.ids[name]}",
        }

    def links(haystack: str) -> list[str]:
        """Voter identifiers found within 200 characters of an option's text or index."""
        found = []
        for label in labels:
            for match in re.finditer(re.escape(label), haystack):
                window = haystack[max(0, match.start() - 200) : match.end() + 200]
                for name, ids in identifiers.items():
                    for ident in ids:
                        if re.search(rf"(?<![\w#]){re.escape(ident)}(?!\w)", window):
                            found.append(f"{name}:{ident} near {label}")
        return found

    # 1. Every message the bot sent (texts, captions, buttons) and every callback answer.
    for message in sandbox.api.messages.values():
        if message.from_id == message.chat_id:
            continue  # what the voters typed themselves
        shown = " ".join(
            [message.text or "", message.caption or ""]
            + [b.get("text", "") for row in message.buttons for b in row]
        )
        if message.chat_id in {u.id for u in voters.values()}:
            # A voter's own chat: after voting, nothing says what they chose.
            results = ("Results", gettext("ru", "Results"))
            assert not any(label in shown for label in labels) or any(
                word in shown for word in results
            ), shown
        else:
            assert not links(shown)
    for answer in sandbox.api.callback_answers:
        assert not any(label in (answer.text or "") for label in labels)
        assert "OPTION" not in (answer.text or "")
    # 2. Every log record.
    for record in caplog.records:
        line = record.getMessage()
        assert not links(line), line
        assert not re.search(r"pl:[bc]:\d+:", line), line  # no vote's callback data
    # 3. Every table: no row holds a voter identifier and a choice.
    app = sandbox.app.bot_data["app"]
    async with app.db.engine.connect() as connection:
        names = [
            row[0]
            for row in await connection.execute(
                text("SELECT name FROM sqlite_master WHERE type='table'")
                if app.db.dialect == "sqlite"
                else text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
            )
        ]
        for name in names:
            for row in await connection.execute(text(f'SELECT * FROM "{name}"')):
                cells = " ".join(str(c) for c in row)
                if name in ("outbox", "outbox_messages") and "recorded" not in cells:
                    # Ballots list every option to every voter: the same for all, not a choice.
                    continue
                assert not links(cells) or name == "polls", (name, cells)
        voters_left = (
            await connection.execute(text("SELECT count(*) FROM ballot_voters"))
        ).scalar()
        assert voters_left == 0
