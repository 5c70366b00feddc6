"""The load run's bookkeeping (``parity_dev.bench.ledger``): lost and doubled are counted per kind of
effect, percentiles are nearest-rank. Pure: no stack, no clock (the load run itself is `parity bench --load`)."""

from parity_dev.bench import ledger
from parity_dev.bench.ledger import Create, Message, Reply


def record(tag, rid, *, room="room_a", company="co", kind="deal", created="2026-11-29T10:00:00.000Z", version=1):
    return {"company_id": company, "id": rid, "type": kind, "name": f"{tag} new", "channel_integration_room_id": room, "creator_flag": "bot", "created_at": created, "version": version}


def test_nearest_rank_percentiles():
    values = list(range(1, 101))  # 1..100
    assert ledger.percentile(values, 0.50) == 50
    assert ledger.percentile(values, 0.95) == 95
    assert ledger.percentile(values, 0.99) == 99
    assert ledger.percentile([7.0], 0.99) == 7.0
    assert ledger.percentile([], 0.5) is None
    assert ledger.summary([3, 1, 2]) == {"n": 3, "p50": 2, "p95": 3, "p99": 3, "max": 3}


def test_everything_present_once_is_neither_lost_nor_doubled():
    creates = [Create("T1", "co", "deal", "room_a", answered=True, record_id="r1"), Create("T2", "co", "ticket", "room_a", answered=True, record_id="r2")]
    records = [record("T1", "r1"), record("T2", "r2", kind="ticket")]
    previews = {("co", "room_a"): {"deal": ("r1", 1), "ticket": ("r2", 1)}}
    messages = [Message("co", "ch1", "u1", "m1", answered=True), Message("co", "ch1", "u1", "m2", answered=True)]
    stored = [{"id": "m1", "room_id": "room_a"}, {"id": "m2", "room_id": "room_a"}]
    replies = [Reply("R1", "co", "room_a", answered=True)]
    sends = [{"text": "reply R1 thanks", "status": 429}, {"text": "reply R1 thanks", "status": 200}]
    verdict = ledger.account(creates, records, [{"record_id": "r1"}, {"record_id": "r2"}], previews, messages, stored, replies, sends)
    assert (sum(verdict.lost.values()), sum(verdict.doubled.values())) == (0, 0), verdict.examples
    assert verdict.checked == {"record": 2, "note": 2, "preview": 1, "message": 2, "reply": 1}


def test_a_missing_record_note_message_and_reply_are_lost():
    creates = [Create("T1", "co", "deal", "room_a", answered=True, record_id="r1"), Create("T2", "co", "deal", "room_a", answered=True, record_id="r2")]
    records = [record("T2", "r2")]  # T1's record is gone although its delete was never acknowledged
    messages = [Message("co", "ch1", "u1", "m1", answered=True)]
    replies = [Reply("R1", "co", "room_a", answered=True)]
    verdict = ledger.account(creates, records, [{"record_id": "r2"}], {("co", "room_a"): {"deal": ("r2", 1), "ticket": None}}, messages, [], replies, [{"text": "reply R1", "status": 429}])
    assert verdict.lost == {"record": 1, "note": 1, "message": 1, "reply": 1}
    assert not verdict.doubled


def test_two_records_for_one_create_two_notes_and_a_reply_sent_twice_are_doubled():
    creates = [Create("T1", "co", "deal", "room_a", answered=True, record_id="r1")]
    records = [record("T1", "r1"), record("T1", "r9", created="2026-11-29T10:00:01.000Z")]
    notes = [{"record_id": "r1"}, {"record_id": "r1"}, {"record_id": "r9"}]
    sends = [{"text": "reply R1 x", "status": 200}, {"text": "reply R1 x", "status": 200}]
    verdict = ledger.account(creates, records, notes, {("co", "room_a"): {"deal": ("r9", 1), "ticket": None}}, [], [], [Reply("R1", "co", "room_a", answered=True)], sends)
    assert verdict.doubled == {"record": 1, "note": 1, "reply": 1}


def test_a_deleted_record_must_be_gone_and_may_lack_its_note():
    creates = [Create("T1", "co", "deal", "room_a", answered=True, record_id="r1", deleted=True)]
    verdict = ledger.account(creates, [], [], {("co", "room_a"): {"deal": None, "ticket": None}}, [], [], [], [])
    assert not verdict.lost and not verdict.doubled
    survived = ledger.account(creates, [record("T1", "r1")], [], {("co", "room_a"): {"deal": ("r1", 1), "ticket": None}}, [], [], [], [])
    assert survived.doubled == {"record": 1}


def test_the_preview_must_show_the_newest_live_record_at_its_version():
    records = [record("T1", "r1", created="2026-11-29T10:00:00.000Z", version=3), record("T2", "r2", created="2026-11-29T10:00:05.000Z")]
    assert ledger.expected_previews(records) == {("co", "room_a"): {"deal": ("r2", 1), "ticket": None}}
    creates = [Create("T1", "co", "deal", "room_a", answered=True, record_id="r1"), Create("T2", "co", "deal", "room_a", answered=True, record_id="r2")]
    notes = [{"record_id": "r1"}, {"record_id": "r2"}]
    stale = ledger.account(creates, records, notes, {("co", "room_a"): {"deal": ("r1", 3), "ticket": None}}, [], [], [], [])
    assert stale.lost == {"preview": 1}
    ghost = ledger.account(creates[:1], records[:1], notes[:1], {("co", "room_a"): {"deal": ("r1", 3), "ticket": ("t9", 1)}}, [], [], [], [])
    assert ghost.doubled == {"preview": 1}


def test_a_message_stored_twice_or_a_thread_split_over_two_rooms_is_doubled():
    messages = [Message("co", "ch1", "u1", "m1", answered=True), Message("co", "ch1", "u1", "m2", answered=True)]
    twice = ledger.account([], [], [], {}, messages[:1], [{"id": "m1", "room_id": "room_a"}, {"id": "m1", "room_id": "room_b"}], [], [])
    assert twice.doubled["message"] == 1
    split = ledger.account([], [], [], {}, messages, [{"id": "m1", "room_id": "room_a"}, {"id": "m2", "room_id": "room_b"}], [], [])
    assert split.doubled == {"conversation": 1}


def test_unacknowledged_operations_are_not_lost_but_still_may_not_double():
    creates = [Create("T1", "co", "deal", "room_a", answered=False)]
    assert not ledger.account(creates, [], [], {("co", "room_a"): {"deal": None, "ticket": None}}, [Message("co", "c", "g", "m", answered=False)], [], [Reply("R", "co", "r")], []).lost
    doubled = ledger.account(creates, [record("T1", "a"), record("T1", "b")], [{"record_id": "a"}, {"record_id": "b"}], {("co", "room_a"): {"deal": ("b", 1), "ticket": None}}, [], [], [], [])
    assert doubled.doubled == {"record": 1}


def test_the_key_distribution_simulation_finds_the_company_keyed_activity_index_hot():
    from parity_dev.bench import scale

    result = scale.simulate(scale.Workload(samples=50_000))
    assert "conversation ByActivity activity_pk (1 shard)" in result["over_limit"]
    assert result["keys"]["conversation ROOM#<cid>#<room> (messages)"]["of_limit"] < 1
    sharded = scale.simulate(scale.Workload(samples=50_000, activity_shards=16))
    assert not any(k.startswith("conversation ByActivity") for k in sharded["over_limit"])
