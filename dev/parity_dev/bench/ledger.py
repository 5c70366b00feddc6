"""The load run's bookkeeping, pure (no AWS, no clock): what the producers were answered, against what
the tables hold once the stack has drained; and the percentiles. ``parity_dev.bench.load`` fills it in.

Lost: an operation the stack acknowledged (201, 200, 202, 204) whose effect is missing. Doubled: an
effect present more than once. Both are counted per kind of effect, and the run holds when every
count is zero:

* **record** — every acknowledged create has exactly one record (none once its delete was
  acknowledged), found by the tag its name starts with (the producers' updates keep it);
* **preview** — every room shows, per slot, the newest live bot/AI record by (created_at, id) at its
  current version, or nothing (the sidebar's rule, ``parity.inbox.sidebar``), judged from the records
  the CRM table holds at the end;
* **note** — every live record has exactly one timeline note; a deleted one at most one (a delete
  can overtake its note, which then is never written: ``parity.timeline.writer``);
* **message** — every acknowledged inbound message is stored exactly once, in its thread's one
  conversation (a thread split over two rooms counts as doubled);
* **reply** — every acknowledged reply reached its provider exactly once with an accepted answer.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1): the smallest value with at least q of them at or below
    it. None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: Iterable[float]) -> dict[str, Any]:
    """n, p50, p95, p99 and max of ``values`` (as given: the load run passes milliseconds)."""
    data = list(values)
    return {"n": len(data), "p50": percentile(data, 0.50), "p95": percentile(data, 0.95), "p99": percentile(data, 0.99), "max": max(data) if data else None}


@dataclass
class Create:
    tag: str
    company: str
    kind: str  # "deal" | "ticket"
    room: str
    answered: bool = False
    record_id: str | None = None
    deleted: bool = False


@dataclass
class Message:
    company: str
    channel_id: str
    group: str  # the sender's thread as the producer sees it: one conversation per group
    message_id: str  # the id the store gives it (``parity.conversations.store.inbound_message_id``)
    answered: bool = False


@dataclass
class Reply:
    tag: str
    company: str
    room: str
    answered: bool = False


@dataclass
class Verdict:
    lost: Counter[str] = field(default_factory=Counter)
    doubled: Counter[str] = field(default_factory=Counter)
    checked: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def miss(self, kind: str, what: str, detail: str) -> None:
        (self.lost if what == "lost" else self.doubled)[kind] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{what} {kind}: {detail}")

    def as_dict(self) -> dict[str, Any]:
        return {"lost": sum(self.lost.values()), "doubled": sum(self.doubled.values()), "lost_by_kind": dict(self.lost),
                "doubled_by_kind": dict(self.doubled), "checked": dict(self.checked), "examples": self.examples}


def tag_of(name: str) -> str:
    """The producer's tag: the first word of a record's name."""
    return str(name).split(" ", 1)[0]


def expected_previews(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, tuple[str, int] | None]]:
    """Per (company, room): what each slot must show — the newest live record with a creator flag by
    (created_at, id), at its version — from the records that exist."""
    best: dict[tuple[str, str], dict[str, tuple[str, str, int] | None]] = defaultdict(lambda: {"deal": None, "ticket": None})
    for r in records:
        room = r.get("channel_integration_room_id")
        if not room or not r.get("creator_flag"):
            continue
        slot = best[(str(r["company_id"]), str(room))]
        candidate = (str(r["created_at"]), str(r["id"]), int(r["version"]))
        current = slot[r["type"]]
        if current is None or candidate[:2] > current[:2]:
            slot[r["type"]] = candidate
    return {k: {s: (v[1], v[2]) if v else None for s, v in slots.items()} for k, slots in best.items()}


def account(
    creates: Iterable[Create],
    records: Iterable[Mapping[str, Any]],
    notes: Iterable[Mapping[str, Any]],
    previews: Mapping[tuple[str, str], Mapping[str, tuple[str, int] | None]],
    messages: Iterable[Message],
    stored_messages: Iterable[Mapping[str, Any]],
    replies: Iterable[Reply],
    provider_sends: Iterable[Mapping[str, Any]],
) -> Verdict:
    """Everything acknowledged vs everything stored (module docstring). ``records``: the CRM table's
    records at the end (company_id, id, type, name, channel_integration_room_id, creator_flag,
    created_at, version); ``notes``: its notes (record_id); ``previews``: per (company, room) the
    slots as the preview API shows them, (id, version) or None, for every room the producers used;
    ``stored_messages``: the conversation table's inbound messages (id, room_id); ``provider_sends``:
    what the fake providers were sent (text, status)."""
    verdict = Verdict()
    records = list(records)
    by_tag: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        by_tag[tag_of(r.get("name", ""))].append(r)
    note_count = Counter(str(n["record_id"]) for n in notes)
    rooms: set[tuple[str, str]] = set()
    for c in creates:
        rooms.add((c.company, c.room))
        found = by_tag.get(c.tag, [])
        if not c.answered:
            if len(found) > 1:
                verdict.miss("record", "doubled", f"{c.tag} (unanswered create) has {len(found)} records")
            continue
        verdict.checked["record"] += 1
        expected = 0 if c.deleted else 1
        if len(found) < expected:
            verdict.miss("record", "lost", f"{c.tag} → {c.record_id} is missing")
        elif len(found) > expected:
            verdict.miss("record", "doubled", f"{c.tag} has {len(found)} records" + (" after its delete" if c.deleted else ""))
        ids = [str(r["id"]) for r in found] or ([c.record_id] if c.record_id else [])
        for record_id in ids:
            verdict.checked["note"] += 1
            count = note_count.get(record_id, 0)
            if not c.deleted and count == 0:
                verdict.miss("note", "lost", f"{c.kind} {record_id} ({c.tag}) has no note")
            elif count > 1:
                verdict.miss("note", "doubled", f"{c.kind} {record_id} ({c.tag}) has {count} notes")
    wanted = expected_previews(records)
    for key in sorted(rooms):
        verdict.checked["preview"] += 1
        want = wanted.get(key, {"deal": None, "ticket": None})
        shown = previews.get(key)
        if shown is None:
            verdict.miss("preview", "lost", f"room {key[1]} of {key[0]} could not be read")
            continue
        for slot in ("deal", "ticket"):
            if (shown.get(slot) or None) != (want.get(slot) or None):
                what = "doubled" if want.get(slot) is None else "lost"  # shows what should be gone, or misses what should show
                verdict.miss("preview", what, f"room {key[1]} {slot}: shows {shown.get(slot)}, expected {want.get(slot)}")
    stored_rooms: dict[str, list[str]] = defaultdict(list)
    for m in stored_messages:
        stored_rooms[str(m["id"])].append(str(m["room_id"]))
    group_rooms: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in messages:
        found_rooms = stored_rooms.get(m.message_id, [])
        if not m.answered:
            continue
        verdict.checked["message"] += 1
        if not found_rooms:
            verdict.miss("message", "lost", f"{m.message_id} on {m.channel_id} is not stored")
        elif len(found_rooms) > 1:
            verdict.miss("message", "doubled", f"{m.message_id} is stored {len(found_rooms)} times")
        group_rooms[(m.channel_id, m.group)].update(found_rooms)
    for (channel, group), in_rooms in sorted(group_rooms.items()):
        if len(in_rooms) > 1:
            verdict.miss("conversation", "doubled", f"thread {group} on {channel} is split over {len(in_rooms)} rooms")
    accepted = Counter()
    for s in provider_sends:
        if 200 <= int(s.get("status", 0)) < 300:
            accepted[tag_of(str(s.get("text", "")).removeprefix("reply "))] += 1
    for r in replies:
        if not r.answered:
            continue
        verdict.checked["reply"] += 1
        n = accepted.get(r.tag, 0)
        if n == 0:
            verdict.miss("reply", "lost", f"reply {r.tag} never reached its provider")
        elif n > 1:
            verdict.miss("reply", "doubled", f"reply {r.tag} reached its provider {n} times")
    return verdict
