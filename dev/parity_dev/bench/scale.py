"""Figure 9 (docs/scale.md): where DynamoDB's per-partition-key limits bite at 1,000 bot creates/s and
10,000 inbound messages/s, by a key-distribution simulation under a skewed workload. Pure and cheap
(no AWS): a seeded draw of which company, room and channel each operation hits, then the write and
read units each partition key of the tables takes per second, against DynamoDB's limit of 1,000
write units and 3,000 read units per second on one partition (a hot key cannot spread: our sort keys
grow with time, so split-for-heat does not help a company's newest items).

Units per operation are the counted ones (figures 4 and 5): a create's transaction 4 WRU (record +
idempotency entry, 2 per KB per item) and its note 1 WRU in the company's partition; an inbound
message: the message 1 WRU (its room's partition), the conversation's update 1 WRU and the
``ByActivity`` index entry moved (2 WRU: delete + put, index partition = the company), the channel
read 0.5 RRU and the thread + conversation reads 2 × 0.5 RRU in the company's partition.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

WRU_LIMIT = 1000.0  # per partition (and so per partition key), per second
RRU_LIMIT = 3000.0

CREATE_WRU = 4.0  # TransactWriteItems: record + idempotency entry, 2 units per KB per item
NOTE_WRU = 1.0
MESSAGE_WRU = 1.0
CONVERSATION_UPDATE_WRU = 1.0
ACTIVITY_INDEX_WRU = 2.0  # the GSI entry moves: delete + put
CHANNEL_READ_RRU = 0.5
COMPANY_READS_RRU = 1.0  # thread ref + conversation, eventually consistent


@dataclass(frozen=True)
class Workload:
    creates_per_s: float = 1000.0
    messages_per_s: float = 10000.0
    companies: int = 5000
    zipf_s: float = 1.1  # company sizes: a few very large tenants, a long tail
    rooms_per_company: int = 200
    room_zipf_s: float = 1.0
    channels_per_company: int = 3
    activity_shards: int = 1  # ByActivity partition key spread over N shards (COMPANY#cid#n)
    samples: int = 200_000
    seed: int = 17


def _zipf_weights(n: int, s: float) -> list[float]:
    weights = [1.0 / (k ** s) for k in range(1, n + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def simulate(w: Workload = Workload()) -> dict[str, Any]:
    """Per table and key template: the hottest key's units per second and its share of the limit."""
    rnd = random.Random(w.seed)
    company_w = _zipf_weights(w.companies, w.zipf_s)
    room_w = _zipf_weights(w.rooms_per_company, w.room_zipf_s)
    companies = rnd.choices(range(w.companies), weights=company_w, k=w.samples)
    rooms = rnd.choices(range(w.rooms_per_company), weights=room_w, k=w.samples)
    channels = [rnd.randrange(w.channels_per_company) for _ in range(w.samples)]
    share_company = Counter(companies)
    share_room = Counter(zip(companies, rooms))
    share_channel = Counter(zip(companies, channels))
    share_activity = Counter((c, hash((c, r)) % w.activity_shards) for c, r in zip(companies, rooms))
    n = w.samples

    def top(counter: Counter[Any], rate: float, units: float) -> float:
        return counter.most_common(1)[0][1] / n * rate * units

    keys = {
        "crm COMPANY#<cid> (creates + notes)": ("wru", top(share_company, w.creates_per_s, CREATE_WRU + NOTE_WRU)),
        "conversation COMPANY#<cid> (conversation updates)": ("wru", top(share_company, w.messages_per_s, CONVERSATION_UPDATE_WRU)),
        f"conversation ByActivity activity_pk ({w.activity_shards} shard{'s' if w.activity_shards > 1 else ''})": ("wru", top(share_activity, w.messages_per_s, ACTIVITY_INDEX_WRU)),
        "conversation ROOM#<cid>#<room> (messages)": ("wru", top(share_room, w.messages_per_s, MESSAGE_WRU)),
        "conversation CHANNEL#<ch> (webhook reads)": ("rru", top(share_channel, w.messages_per_s, CHANNEL_READ_RRU)),
        "conversation COMPANY#<cid> (ingest reads)": ("rru", top(share_company, w.messages_per_s, COMPANY_READS_RRU)),
        "preview ROOM#<cid>#<room> (receiver)": ("wru", top(share_room, w.creates_per_s, 1.0)),
    }
    out = {name: {"unit": unit, "per_s": round(v, 1), "of_limit": round(v / (WRU_LIMIT if unit == "wru" else RRU_LIMIT), 3)} for name, (unit, v) in keys.items()}
    biggest = share_company.most_common(1)[0][1] / n
    return {"workload": w.__dict__, "top_company_share": round(biggest, 4), "keys": out,
            "over_limit": sorted(k for k, v in out.items() if v["of_limit"] > 1.0)}


def shards_needed(w: Workload = Workload(), *, headroom: float = 0.8) -> int:
    """The fewest ``ByActivity`` shards (a power of two) that keep its hottest key under ``headroom``
    of the limit; 64 at most (past that the hottest *room* alone is the key, which no shard splits)."""
    shards = 1
    while shards < 64:
        result = simulate(Workload(**{**w.__dict__, "activity_shards": shards, "samples": min(w.samples, 100_000)}))
        hot = next(v for k, v in result["keys"].items() if k.startswith("conversation ByActivity"))
        if hot["of_limit"] <= headroom:
            return shards
        shards *= 2
    return shards
