"""The timeline note, pure: the preview's bounds and masking, the deeplink, the expiry, and the
validation of the hub's answer (RFC CDTC-S04, CDTC-S05, ERR-2)."""

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from parity import timeline
from parity.settings import Settings
from parity.timeline import ChatMessage

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
        ("０８１２３４５６７８９０", "*********８９０"),
        ("a@b.co or 0812-3456-7890", "a***@b.co or ****-****-*890"),
    ],
)
def test_emails_and_phone_numbers_are_masked(text, masked):
    # GIVEN a chat text holding contact details / WHEN masked / THEN only the bounded hints remain
    assert timeline.mask(text) == masked


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
    assert timeline.mask(text) == text


def test_invisible_characters_cannot_hide_a_number():
    # GIVEN a phone number split by zero-width spaces and a newline
    text = "call 0812\u200b3456\u200b7890\nthanks"
    # WHEN cleaned and masked / THEN it is seen, and masked, whole
    assert timeline.mask(timeline.clean(text)) == "call *********890 thanks"
    assert timeline.mask(timeline.clean("0812\u200d3456\u200d7890")) == "*********890"


def test_emoji_sequences_survive_cleaning():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert timeline.clean(f"thanks {family}\x00\u202e!") == f"thanks {family}!"


# ---- the preview -------------------------------------------------------------------------------
def test_preview_holds_the_last_messages_oldest_first():
    # GIVEN eight messages, delivered newest first as a hub page does
    messages = [msg(n, f"text {n}", minutes=10 - n) for n in range(8)][::-1]
    # WHEN previewed / THEN the last five, oldest → newest, in the documented shape
    shown = timeline.preview(messages)
    assert [m["text"] for m in shown] == ["text 3", "text 4", "text 5", "text 6", "text 7"]
    assert set(shown[0]) == {"sender_type", "sender_name", "text", "created_at"}
    assert shown[-1]["created_at"] == "2026-11-23T03:19:22.123Z"


def test_messages_without_text_are_left_out():
    messages = [msg(1, "first", minutes=3), msg(2, None, minutes=2), msg(3, "   ", minutes=1)]
    assert [m["text"] for m in timeline.preview(messages)] == ["first"]


def test_long_texts_and_names_are_cut_to_their_bounds():
    shown = timeline.preview([msg(1, "x" * 1000, sender_name="N" * 500, sender_type="t" * 100)])[0]
    assert len(shown["text"]) == timeline.MAX_TEXT_CHARS and shown["text"].endswith("…")
    assert len(shown["sender_name"]) == timeline.MAX_SENDER_NAME_CHARS
    assert len(shown["sender_type"]) == timeline.MAX_SENDER_TYPE_CHARS


def test_a_number_straddling_the_cut_is_masked_before_the_cut():
    # GIVEN a phone number that starts just before the text bound
    text = "x" * (timeline.MAX_TEXT_CHARS - 8) + " 081234567890 " + "y" * 50
    shown = timeline.preview([msg(1, text)])[0]["text"]
    # THEN none of its leading digits show
    assert "0812" not in shown and "*" in shown


def test_sender_names_are_masked_too():
    # A WhatsApp customer without a saved name shows as their number.
    shown = timeline.preview([msg(1, "hi", sender_name="+62 812-3456-7890")])[0]
    assert shown["sender_name"] == "+** ***-****-*890"


# ---- the note ----------------------------------------------------------------------------------
def test_note_with_history():
    # GIVEN a bot deal in room-123 and its room's history
    note = timeline.build_note(RECORD, messages=[msg(1, "budi@example.com")], deeplink_template=TEMPLATE, now=NOW)
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
    note = timeline.build_note(RECORD, messages=None, deeplink_template=TEMPLATE, now=NOW)
    assert note["preview"] is None and note["preview_status"] == "unavailable"
    assert note["deeplink"].endswith("/room-123") and note["creator_label"] == "Bot"


def test_an_empty_room_is_an_empty_preview_not_an_unavailable_one():
    note = timeline.build_note(RECORD, messages=[], deeplink_template=TEMPLATE, now=NOW)
    assert note["preview"] == [] and note["preview_status"] == "ok"


def test_the_label_comes_from_the_flag_when_the_event_has_none():
    record = {**RECORD, "creator_flag": "agentic_ai", "creator_label": None}
    assert timeline.build_note(record, messages=None, deeplink_template=TEMPLATE, now=NOW)["creator_label"] == "AI"


@pytest.mark.parametrize(
    ("room", "link"),
    [
        ("room-123", "https://chat.example.com/inbox/room-123"),
        ("room 1/../admin?x=1#y", "https://chat.example.com/inbox/room%201%2F..%2Fadmin%3Fx%3D1%23y"),
        ("ruang-ä", "https://chat.example.com/inbox/ruang-%C3%A4"),
    ],
)
def test_the_deeplink_quotes_the_room_id_into_one_segment(room, link):
    assert timeline.deeplink(TEMPLATE, room) == link


def test_the_note_id_is_stable_per_record_and_room():
    a = timeline.note_id("deal", "r1", "room-1")
    assert a == timeline.note_id("deal", "r1", "room-1")
    assert a != timeline.note_id("deal", "r1", "room-2") and a != timeline.note_id("ticket", "r1", "room-1")


def test_timeline_lists_newest_first():
    notes = [{"id": "a", "created_at": "2026-11-23T03:00:00.000Z"}, {"id": "b", "created_at": "2026-11-24T03:00:00.000Z"}]
    assert [n["id"] for n in timeline.newest_first(notes)] == ["b", "a"]


# ---- the hub's answer --------------------------------------------------------------------------
def test_a_documented_answer_parses():
    messages = timeline.parse_history({"data": [wire(1), wire(2, sender_name=None, text=None, created_at="2026-11-23T10:00:00+07:00")]}, "room-123")
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
    assert timeline.parse_history(payload, "room-123") is None


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
