"""The timeline note, pure: the preview's bounds and masking, the deeplink, the expiry, and the
validation of the hub's answer (RFC CDTC-S04, CDTC-S05, ERR-2). Over 400 lines: masking is tested
both sides (what must be masked, what must stay readable), case by case."""

import unicodedata
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from parity.core.settings import Settings
from parity.timeline import excerpt, masking
from parity.timeline import note as notes
from parity.timeline.excerpt import ChatMessage
from pydantic import ValidationError

NOW = datetime(2026, 11, 23, 3, 22, 22, 123456, tzinfo=timezone.utc)
TEMPLATE = "https://chat.example.com/inbox/{room_id}"
RECORD = {"id": "r1", "type": "deal", "name": "Budi - 2 units", "channel_integration_room_id": "room-123", "creator_flag": "bot", "creator_label": "Bot"}


def msg(n, text="hello", *, minutes=0, sender_type="customer", sender_name="Budi", room="room-123"):
    return ChatMessage(f"m{n}", room, sender_type, sender_name, text, NOW - timedelta(minutes=minutes))


def wire(n, **overrides):
    item = {"id": f"m{n}", "room_id": "room-123", "sender_type": "customer", "sender_name": "Budi", "text": "hi", "created_at": "2026-11-23T03:00:00.000Z"}
    item.update(overrides)
    return item


# ---- masking -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("email budi.santoso@example.com ya", "email b***@example.com ya"),
        ("BUDI@Example.co.id.", "B***@Example.co.id."),
        ("081234567890@gmail.com", "0***@gmail.com"),
        ("HP +62 812-3456-7890 ya", "HP +** ***-****-*890 ya"),
        ("kantor (021) 555-0101", "kantor (***) ***-*101"),
        ("(+62) 812 3456 7890", "(+**) *** **** *890"),
        ("WA 0812 3456 7890, HP:081234567890", "WA **** **** *890, HP:*********890"),
        ("6281234567890", "**********890"),
        ("0812.3456.7890", "****.****.*890"),
        ("+1 (555) 123-4567", "+* (***) ***-*567"),
        ("+44 20 7946 0958", "+** ** **** *958"),
        ("my number is 081234567890: call me", "my number is *********890: call me"),
        ("kartu 4111 1111 1111 1111", "kartu **** **** **** *111"),
        ("０８１２３４５６７８９０", "*********890"),  # NFKC: full-width digits are read (and kept) as ASCII
        ("a@b.co or 0812-3456-7890", "a***@b.co or ****-****-*890"),
    ],
)
def test_emails_and_phone_numbers_are_masked(text, masked):
    # GIVEN a chat text holding contact details / WHEN masked / THEN only the bounded hints remain
    assert masking.mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "harga Rp 15.000.000 atau Rp150000000 atau Rp 150000000",
        "25000000 rupiah, IDR 12500000, $ 12345678, 15000000 juta",
        "total 1,500,000 dan 2.500.000,50",
        "tanggal 2026-11-23 10:30, 23/11/2026, 23-11-2026, 23.11.2026",
        "periode 2024-2026",
        "2026-11-23T10:30:00Z",
        "order #12345678, INV20261123001",
        "nomor 555-0101 pendek, 3 unit, jam 17:30",
        "https://shop.example.com/item/123456789",
        "not an email: budi@localhost, @budi",
    ],
)
def test_ordinary_numbers_and_text_are_left_alone(text):
    assert masking.mask(text) == text


# ---- masking: the gaps of issue 12 (defect 6) ---------------------------------------------------
#: Every dash a number may be written with: hyphen, non-breaking hyphen, figure dash, en dash,
#: em dash, horizontal bar, minus sign, small em dash, small and full-width hyphen-minus.
DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe58", "\ufe63", "\uff0d"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("WA 0812/3456/7890 ya", "WA ****/****/*890 ya"),
        ("WA 0812\u20133456\u20137890 ya", "WA ****-****-*890 ya"),  # en dash
        ("WA 0812_3456_7890 ya", "WA ****_****_*890 ya"),
        ("WA 0812,3456,7890 ya", "WA ****,****,*890 ya"),
        ("email budi\uff20example.com", "email b***@example.com"),  # full-width @
        ("email budi\ufe6bexample.com", "email b***@example.com"),  # small commercial at
        ("+62\u2009812\u20143456\u20147890", "+** ***-****-*890"),  # thin space, em dash
        ("\uff10\uff18\uff11\uff12\uff0d\uff13\uff14\uff15\uff16\uff0d\uff17\uff18\uff19\uff10", "****-****-*890"),
        ("\uff0b\uff16\uff12 \uff18\uff11\uff12\uff0f\uff13\uff14\uff15\uff16\uff0f\uff17\uff18\uff19\uff10", "+** ***/****/*890"),
        ("_081234567890_ dan _budi@example.com_", "_*********890_ dan _***@example.com_"),  # WhatsApp italics
        ("0812-3456-7890,081298765432", "****-****-****,*********432"),
        ("pesan 23/11/2026 WA 0812 3456 7890 ya", "pesan 23/11/2026 WA **** **** *890 ya"),
        ("23/11/2026 081234567890", "23/11/2026 *********890"),  # a date beside a number: the number goes
        ("0812 3456 7890 10.30", "**** **** *890 10.30"),
        ("012.345.678", "***.***.678"),  # a leading zero is no amount
        ("+62 812.345.678", "+** ***.***.678"),  # nor is anything after a "+"
        ("0812-12-12", "****-*2-12"),  # no year 0812: not a date
        ("2026-13-45", "****-*3-45"),  # no month 13, no day 45: not a date
        ("23/11/2026 0812 3456 7890", "23/11/2026 **** **** *890"),  # the module docstring's example
        ("+62 812 3456 7890 10.30", "+** *** **** **** *0.30"),  # after "+", the whole run is the number
    ],
)
def test_separators_dash_variants_and_full_width_forms_cannot_hide_a_number(text, masked):
    # GIVEN a number or address written with "/", "_", ",", any dash, full-width forms
    # WHEN masked / THEN it is masked as its plain ASCII spelling would be
    assert masking.mask(text) == masked


@pytest.mark.parametrize("dash", DASHES)
def test_every_dash_variant_is_read_as_a_hyphen(dash):
    assert masking.mask(f"HP 0812{dash}3456{dash}7890") == "HP ****-****-*890"
    assert masking.mask(f"periode 2024{dash}2026, tanggal 2026{dash}11{dash}23") == "periode 2024-2026, tanggal 2026-11-23"


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        ("tanggal 23/11/2026, 2026/11/23, 11/23/2026, 1/2/2026", None),
        ("tanggal 23\u201311\u20132026 dan 2026\u201411\u201423", "tanggal 23-11-2026 dan 2026-11-23"),
        ("\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff13", "2026-11-23"),  # full-width date
        ("menginap 23/11/2026-25/11/2026", None),
        ("pesan 23/11/2026 3 unit, kirim 23/11/2026 10.30", None),
        ("23/11/2026,24/11/2026", None),
        ("total 1,500,000 / 15,000,000 / Rp 1,500,000,000 / USD 1,500,000.50 / 2.500.000,50", None),
        ("\uff11,\uff15\uff10\uff10,\uff10\uff10\uff10 dan Rp \uff11\uff15\uff10\uff10\uff10\uff10\uff10\uff10\uff10", "1,500,000 dan Rp 150000000"),
        ("periode 2024/2026 dan 2024\u20132026", "periode 2024/2026 dan 2024-2026"),
        ("jam 10.30-12.00, 08.00\u201317.00", "jam 10.30-12.00, 08.00-17.00"),
        ("order #12345678, INV20261123001, ref/12345678", None),
    ],
)
def test_dates_amounts_years_times_and_references_stay_readable(text, readable):
    # GIVEN ordinary numbers, some written with new separators, dash variants or full-width digits
    # WHEN masked / THEN they read as before, only normalised (NFKC, "-" for every dash)
    assert masking.mask(text) == (readable if readable is not None else text)


# ---- masking: properties ---------------------------------------------------------------------
FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
#: How a number's groups may be joined: ASCII, every dash, their full-width forms, odd spaces.
SEPARATORS = [" ", ".", "/", "_", ",", *DASHES, "\u3000", "\u2009", "\u00a0", "\uff0e", "\uff0f", "\uff3f", "\uff0c"]


def widen(text: str, which: list[bool]) -> str:
    """``text`` with the digits at the flagged positions written full-width."""
    return "".join(FULL_WIDTH[ch] if ch in FULL_WIDTH and wide else ch for ch, wide in zip(text, which + [False] * len(text)))


@st.composite
def phone_numbers(draw) -> tuple[str, str]:
    """A phone-like number (its written form, its ASCII digits): 8+ digits in groups, one separator
    between groups, the digits ASCII or full-width; local ("0812…") or international ("+62 812…")."""
    international = draw(st.booleans())
    first = draw(st.from_regex(r"[1-9][0-9]{0,2}" if international else r"0[0-9]{2,4}", fullmatch=True))
    rest = draw(st.lists(st.from_regex(r"[0-9]{2,5}", fullmatch=True), min_size=1, max_size=5))
    groups = [first, *rest]
    digits = "".join(groups)
    if len(digits) < masking.PHONE_MIN_DIGITS:
        groups.append(draw(st.from_regex(rf"[0-9]{{{masking.PHONE_MIN_DIGITS - len(digits)}}}", fullmatch=True)))
        digits = "".join(groups)
    separator = draw(st.sampled_from(SEPARATORS))
    written = ("+" + draw(st.sampled_from(["", " "])) if international else "") + separator.join(groups)
    return widen(written, draw(st.lists(st.booleans(), max_size=len(written)))), digits


@given(phone_numbers(), st.sampled_from(["hubungi {} ya", "{}", "WA: {}.", "({})", "_{}_", "*{}*", "nomor {}, terima kasih"]))
@example(("0812/3456/7890", "081234567890"), "{}")
@example(("0812\u20133456\u20137890", "081234567890"), "{}")
@example(("0812_3456_7890", "081234567890"), "{}")
@example(("0812,3456,7890", "081234567890"), "{}")
def test_any_phone_like_number_keeps_only_its_last_three_digits(phone, context):
    # GIVEN a number of 8+ digits, its groups joined by any separator, ASCII or full-width, in a sentence
    written, digits = phone
    # WHEN masked
    masked = masking.mask(context.format(written))
    # THEN the only digits left are its last three
    assert [ch for ch in masked if ch.isdigit()] == list(digits[-masking.PHONE_KEEP_DIGITS :])


#: Text that reaches the masking's corners: digits (ASCII and full-width), every separator, signs
#: that glue or unglue a number, currency words, "@", letters, and anything else.
_MASKABLE = st.text(
    st.sampled_from([*"0123456789", *FULL_WIDTH.values(), *SEPARATORS, *"+()#$:@*aRpk", "\u200d", "\u00ad"]) | st.characters(),
    max_size=80,
)


@given(_MASKABLE)
@example("０８１２－３４５６－７８９０ budi＠example.com")
@example("23/11/2026 0812 3456 7890 10.30")
def test_masking_is_idempotent(text):
    once = masking.mask(text)
    assert masking.mask(once) == once


@given(_MASKABLE.filter(lambda text: "@" not in unicodedata.normalize("NFKC", text)))
@example("WA ０８１２–３４５６–７８９０ ya")
def test_outside_emails_masking_only_turns_digits_into_stars(text):
    # GIVEN any text without an email address / WHEN masked
    masked, normalised = masking.mask(text), masking.normalise(text)
    # THEN it is the normalised text, the same length, with some digits replaced by "*"
    assert len(masked) == len(normalised)
    assert all(m == n or (m == "*" and n.isdigit()) for m, n in zip(masked, normalised))


def written_date(day: date, style: str, separator: str) -> str:
    y, m, d = f"{day.year:04d}", day.month, day.day
    return {
        "dmy": f"{d:02d}{separator}{m:02d}{separator}{y}",
        "dmy-short": f"{d}{separator}{m}{separator}{y}",
        "mdy": f"{m:02d}{separator}{d:02d}{separator}{y}",
        "ymd": f"{y}{separator}{m:02d}{separator}{d:02d}",
        "ymd-short": f"{y}{separator}{m}{separator}{d}",
    }[style]


@given(
    st.dates(min_value=date(1000, 1, 1), max_value=date(2999, 12, 31)),
    st.sampled_from(["dmy", "dmy-short", "mdy", "ymd", "ymd-short"]),
    st.sampled_from(["/", ".", *DASHES, "\uff0f", "\uff0e"]),
    st.sampled_from(["tanggal {} ya", "{}", "{} 10.30", "{} 3 unit", "{}, {}", "{}-{}", "dari {} sampai {}"]),
    st.lists(st.booleans(), max_size=24),
)
def test_masking_never_changes_a_date(day, style, separator, context, wide):
    # GIVEN a valid day, written in any usual order, separator and width, in a sentence
    text = context.format(*[widen(written_date(day, style, separator), wide)] * context.count("{}"))
    # WHEN masked / THEN the text reads the same (only normalised)
    assert masking.mask(text) == masking.normalise(text)


#: Inputs built to make a backtracking matcher work hard: long runs of digits and separators that
#: fail at their very end, parentheses, signs, almost-emails.
_ADVERSARIAL = st.sampled_from(
    ["1", "0812", "1-", "1_", "1,", "1/", "1.", "1 ", "(1)", "(+1)", "+1 ", "12:", "1:1", "0812-3456-7890,", "a@", "a.", "a-", "@a.", "1\u2013", "\uff11\uff0d", "Rp 12345678 ", "23/11/2026 "]
)


@settings(max_examples=25, deadline=timedelta(seconds=2))
@example(["0812"], 10_000, "a")  # one 40,000-digit run glued to a word at its very end
@example(["1_"], 10_000, "a")
@example(["0812-3456-7890,"], 10_000, "@")
@example(["a."], 10_000, "@")
@given(st.lists(_ADVERSARIAL, min_size=1, max_size=3), st.integers(1, 10_000), st.sampled_from(["", "a", "@", ":1", "_x", "@a.b"]))
def test_masking_stays_linear_on_adversarial_input(pieces, times, tail):
    # GIVEN up to ~450,000 characters of digits and separators built to make a matcher backtrack
    # WHEN masked / THEN it completes within the deadline (catastrophic or quadratic backtracking
    # would take minutes), changing no more than masking may (an email grows by "***" at most)
    text = "".join(pieces) * times + tail
    masked = masking.mask(text)
    assert len(masked) <= len(masking.normalise(text)) + 3 * text.count("@")


def test_invisible_characters_cannot_hide_a_number():
    # GIVEN a phone number split by zero-width spaces and a newline
    text = "call 0812\u200b3456\u200b7890\nthanks"
    # WHEN cleaned and masked / THEN it is seen, and masked, whole
    assert masking.mask(excerpt.clean(text)) == "call *********890 thanks"
    assert masking.mask(excerpt.clean("0812\u200d3456\u200d7890")) == "*********890"


def test_emoji_sequences_survive_cleaning():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert excerpt.clean(f"thanks {family}\x00\u202e!") == f"thanks {family}!"


# ---- the preview -------------------------------------------------------------------------------
def test_preview_holds_the_last_messages_oldest_first():
    # GIVEN eight messages, delivered newest first as a hub page does
    messages = [msg(n, f"text {n}", minutes=10 - n) for n in range(8)][::-1]
    # WHEN previewed / THEN the last five, oldest → newest, in the documented shape
    shown = excerpt.excerpt(messages)
    assert [m["text"] for m in shown] == ["text 3", "text 4", "text 5", "text 6", "text 7"]
    assert set(shown[0]) == {"sender_type", "sender_name", "text", "created_at"}
    assert shown[-1]["created_at"] == "2026-11-23T03:19:22.123Z"


def test_messages_without_text_are_left_out():
    messages = [msg(1, "first", minutes=3), msg(2, None, minutes=2), msg(3, "   ", minutes=1)]
    assert [m["text"] for m in excerpt.excerpt(messages)] == ["first"]


def test_long_texts_and_names_are_cut_to_their_bounds():
    shown = excerpt.excerpt([msg(1, "x" * 1000, sender_name="N" * 500, sender_type="t" * 100)])[0]
    assert len(shown["text"]) == excerpt.MAX_TEXT_CHARS and shown["text"].endswith("…")
    assert len(shown["sender_name"]) == excerpt.MAX_SENDER_NAME_CHARS
    assert len(shown["sender_type"]) == excerpt.MAX_SENDER_TYPE_CHARS


def test_a_number_straddling_the_cut_is_masked_before_the_cut():
    # GIVEN a phone number that starts just before the text bound
    text = "x" * (excerpt.MAX_TEXT_CHARS - 8) + " 081234567890 " + "y" * 50
    shown = excerpt.excerpt([msg(1, text)])[0]["text"]
    # THEN none of its leading digits show
    assert "0812" not in shown and "*" in shown


def test_sender_names_are_masked_too():
    # A WhatsApp customer without a saved name shows as their number.
    shown = excerpt.excerpt([msg(1, "hi", sender_name="+62 812-3456-7890")])[0]
    assert shown["sender_name"] == "+** ***-****-*890"


# ---- the note ----------------------------------------------------------------------------------
def test_note_with_history():
    # GIVEN a bot deal in room-123 and its room's history
    note = notes.build_note(RECORD, messages=[msg(1, "budi@example.com")], deeplink_template=TEMPLATE, now=NOW)
    # THEN the note holds the masked preview, the label, the link back and a 365-day expiry
    assert note["type"] == "chat_history" and note["preview_status"] == "ok"
    assert (note["record_id"], note["record_type"], note["room_id"], note["creator_label"]) == ("r1", "deal", "room-123", "Bot")
    assert note["preview"][0]["text"] == "b***@example.com"
    assert note["deeplink"] == "https://chat.example.com/inbox/room-123"
    assert note["created_at"] == "2026-11-23T03:22:22.123Z"
    assert note["ttl"] == int((NOW + timedelta(days=365)).timestamp())
    assert note["expires_at"] == "2027-11-23T03:22:22.123Z"


def test_note_without_history_is_still_made_without_preview():
    # GIVEN the history could not be had (ERR-2) / THEN the note keeps its link and label, preview null
    note = notes.build_note(RECORD, messages=None, deeplink_template=TEMPLATE, now=NOW)
    assert note["preview"] is None and note["preview_status"] == "unavailable"
    assert note["deeplink"].endswith("/room-123") and note["creator_label"] == "Bot"


def test_an_empty_room_is_an_empty_preview_not_an_unavailable_one():
    note = notes.build_note(RECORD, messages=[], deeplink_template=TEMPLATE, now=NOW)
    assert note["preview"] == [] and note["preview_status"] == "ok"


def test_the_label_comes_from_the_flag_when_the_event_has_none():
    record = {**RECORD, "creator_flag": "agentic_ai", "creator_label": None}
    assert notes.build_note(record, messages=None, deeplink_template=TEMPLATE, now=NOW)["creator_label"] == "AI"


@pytest.mark.parametrize(
    ("room", "link"),
    [
        ("room-123", "https://chat.example.com/inbox/room-123"),
        ("room 1/../admin?x=1#y", "https://chat.example.com/inbox/room%201%2F..%2Fadmin%3Fx%3D1%23y"),
        ("ruang-ä", "https://chat.example.com/inbox/ruang-%C3%A4"),
    ],
)
def test_the_deeplink_quotes_the_room_id_into_one_segment(room, link):
    assert notes.deeplink(TEMPLATE, room) == link


def test_the_note_id_is_stable_per_record_and_room():
    a = notes.note_id("deal", "r1", "room-1")
    assert a == notes.note_id("deal", "r1", "room-1")
    assert a != notes.note_id("deal", "r1", "room-2") and a != notes.note_id("ticket", "r1", "room-1")


def test_timeline_lists_newest_first():
    listed = [{"id": "a", "created_at": "2026-11-23T03:00:00.000Z"}, {"id": "b", "created_at": "2026-11-24T03:00:00.000Z"}]
    assert [n["id"] for n in notes.newest_first(listed)] == ["b", "a"]


# ---- the hub's answer --------------------------------------------------------------------------
def test_a_documented_answer_parses():
    messages = excerpt.parse_history({"data": [wire(1), wire(2, sender_name=None, text=None, created_at="2026-11-23T10:00:00+07:00")]}, "room-123")
    assert [m.id for m in messages] == ["m1", "m2"]
    assert messages[1].created_at == datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "data",
        {"messages": []},
        {"data": {"id": 1}},
        {"data": ["hi"]},
        {"data": [wire(1, id=None)]},
        {"data": [wire(1, id=True)]},
        {"data": [wire(1, sender_type="")]},
        {"data": [wire(1, text=42)]},
        {"data": [wire(1, sender_name=["x"])]},
        {"data": [wire(1, created_at="yesterday")]},
        {"data": [wire(1, created_at=1700000000)]},
        {"data": [wire(1, room_id="another-room")]},
        {"data": [wire(1), {k: v for k, v in wire(2).items() if k != "room_id"}]},
    ],
)
def test_anything_else_is_malformed(payload):
    # GIVEN an answer that is not the documented shape / THEN it counts as no history (ERR-2)
    assert excerpt.parse_history(payload, "room-123") is None


# ---- settings ----------------------------------------------------------------------------------
def test_hub_settings_are_read_and_the_token_stays_out_of_repr():
    settings = Settings.model_validate({"HUB_API_BASE_URL": "https://hub.example.com", "HUB_API_TOKEN": "s3cret-hub", "ROOM_DEEPLINK_TEMPLATE": "https://inbox.example.com/r/{room_id}?tab=chat"})
    assert settings.hub_api_base_url == "https://hub.example.com" and settings.hub_api_token == "s3cret-hub"
    assert settings.room_deeplink_template.endswith("{room_id}?tab=chat")
    assert "s3cret-hub" not in repr(settings) and "s3cret-hub" not in str(settings)
    assert Settings.model_validate({}).room_deeplink_template == TEMPLATE


@pytest.mark.parametrize(
    "env",
    [{"ROOM_DEEPLINK_TEMPLATE": "https://chat.example.com/inbox/"}, {"ROOM_DEEPLINK_TEMPLATE": "https://x/{room_id}/{oops}"}, {"HUB_API_BASE_URL": "ftp://hub.example.com"}],
)
def test_bad_hub_settings_are_refused(env):
    with pytest.raises(ValidationError):
        Settings.model_validate(env)
