"""Triage: a report's suggested ``type`` and ``priority`` (contracts/feedback.md). Pure.

Suggestions only: they fill ``suggested_type`` and ``suggested_priority``; the confirmed
``category`` and ``priority`` are a person's (``parity.feedback.ticket``).

The rules are the table ``triage_rules.json`` beside this module (``RULES``, one row an object) and nowhere else. A row is a ``Rule``: its language, what it
suggests (a type, or ``URGENT``), a weight, and what it matches: ``keywords`` (words or phrases,
written naturally: they are folded like the report, so ``caída`` also matches ``CAIDA``) or, for
what keywords cannot say, a ``pattern`` (a regular expression over folded text). Every row carries
an ``example`` it must fire on and a ``counterexample`` it must not: the tests run every row on
both, so adding a language or a rule is adding rows, and a row cannot be added untested.

How a report is read (``parity.feedback.text.fold``): NFKC, casefolded, accents stripped, curly
apostrophes as ``'``. Keywords match whole words only (``error`` fires on "an error", not on
"terrorism"; ``saran`` not on "sarana"). A keyword directly after a negation of its row's language
(``NEGATIONS``: "not urgent", "no es urgente", "tidak mendesak", "no error") does not fire.

How a suggestion is made from the rows that fired (each row counts once, however often it matches):

* ``type``: the type whose fired rows weigh most; ties go to the earlier of ``TYPES`` (an incident
  outranks a bug, a bug a feature request, a feature request a question). No type row fired →
  ``DEFAULT_TYPE`` (``bug``: a feedback channel is where problems are reported).
* ``priority``: the type's ``BASE_PRIORITY`` raised one level per weight of the ``URGENT`` rows
  that fired, by at most ``MAX_RAISE`` levels, never above ``P0``. So only an urgent incident
  reaches ``P0``; an urgent bug is ``P2``.

Known limits, kept on purpose: words are matched, not meaning ("the price went down" reads as an
incident); English tech words (error, crash, bug) are used in Spanish and Indonesian reports too, so
they sit in the English rows only and are not repeated per language (a repeated row would count
twice).

An optional model-backed triage may sit behind the same port (``TriageModel``): off unless a caller
passes one, given the report with emails and phone numbers masked, and the rules answer whenever it
fails or answers nothing valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from parity.feedback.text import fold

TYPES: tuple[str, ...] = ("incident", "bug", "feature_request", "question")
PRIORITIES: tuple[str, ...] = ("P0", "P1", "P2", "P3", "P4", "P5")
#: What a rule may suggest besides a type: the report is urgent (raises the priority).
URGENT = "urgent"
DEFAULT_TYPE = "bug"
#: Where each type starts, as an index into ``PRIORITIES``.
BASE_PRIORITY = {"incident": 1, "bug": 3, "question": 4, "feature_request": 5}
MAX_RAISE = 2
#: Reports are bounded (``parity.feedback.ticket.MAX_TEXT_CHARS``); triage reads no more than this.
MAX_READ_CHARS = 10_000

#: Words that, right before a keyword of their language, stop it from firing. ``*`` rows use all.
#: Written folded (no accents).
NEGATIONS: dict[str, tuple[str, ...]] = {
    "en": ("not", "no", "never", "without"),
    "es": ("no", "nunca", "sin", "no es", "no esta", "no son"),
    "id": ("tidak", "tak", "gak", "nggak", "ga", "bukan", "tanpa"),
}


@dataclass(frozen=True)
class Rule:
    """One row of the table: when ``keywords`` or ``pattern`` match, suggest ``suggests`` with
    ``weight``. ``example`` must fire it, ``counterexample`` must not (the tests check both)."""

    name: str
    language: str
    suggests: str
    weight: int
    keywords: tuple[str, ...] = ()
    pattern: str | None = None
    example: str = ""
    counterexample: str = ""
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    negation: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _reach: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.suggests not in (*TYPES, URGENT):
            raise ValueError(f"{self.name}: suggests {self.suggests!r}, not a type or {URGENT!r}")
        if self.language != "*" and self.language not in NEGATIONS:
            raise ValueError(f"{self.name}: language {self.language!r} has no NEGATIONS entry")
        if self.weight < 1 or not (self.keywords or self.pattern) or not (self.example and self.counterexample):
            raise ValueError(f"{self.name}: needs a positive weight, keywords or a pattern, an example and a counterexample")
        parts = [_keyword(k) for k in self.keywords]
        if self.pattern:
            parts.append(f"(?:{self.pattern})")
        object.__setattr__(self, "regex", re.compile("|".join(parts)))
        negations = NEGATIONS.get(self.language) or tuple({w for words in NEGATIONS.values() for w in words})
        negation = r"(?:^|\W)(?:" + "|".join(map(re.escape, sorted(negations))) + r")\s$"
        object.__setattr__(self, "negation", re.compile(negation))
        object.__setattr__(self, "_reach", max(map(len, negations)) + 2)

    def fires(self, folded: str) -> bool:
        """Whether the rule matches ``folded`` (text already ``fold``ed) somewhere not negated."""
        return any(not self.negation.search(folded[max(0, m.start() - self._reach) : m.start()]) for m in self.regex.finditer(folded))


def _keyword(keyword: str) -> str:
    """A keyword as a regular expression: folded, its spaces any whitespace, whole words only
    (a boundary where the keyword starts or ends with a letter or digit)."""
    folded = fold(keyword)
    body = r"\s+".join(map(re.escape, folded.split(" ")))
    before = r"(?<!\w)" if re.match(r"\w", folded) else ""
    after = r"(?!\w)" if re.search(r"\w$", folded) else ""
    return f"(?:{before}{body}{after})"


# ---- the table -------------------------------------------------------------------------------
def load_rules(path: Path = Path(__file__).with_name("triage_rules.json")) -> tuple[Rule, ...]:
    """The rows of ``path``, every one checked as it is built. JSON, not TOML: ``json`` is already
    loaded on every cold start, a TOML parser would add ≈ 3 ms to the feedback functions' first response.

    Weights: 3 an incident (many people or everything is hit), 2 a clear sign of a type, 1 a weak
    sign or an urgency. Keep each language's rows together, in the order incident, bug,
    feature_request, question, urgent."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Rule(**{**row, "keywords": tuple(row.get("keywords", ()))}) for row in rows)


RULES: tuple[Rule, ...] = load_rules()


# ---- suggestions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Triage:
    """A suggestion: ``type`` and ``priority``, who made it (``rules`` or ``model``), and, from the
    rules, which rows fired and their languages (for an explanation in the console)."""

    type: str
    priority: str
    source: Literal["rules", "model"] = "rules"
    fired: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


def by_rules(text: str, rules: Iterable[Rule] = RULES) -> Triage:
    """The rules' suggestion for a report (how it is made: the module docstring)."""
    folded = fold(text[:MAX_READ_CHARS])
    fired = [rule for rule in rules if rule.fires(folded)]
    scores = {t: sum(r.weight for r in fired if r.suggests == t) for t in TYPES}
    best = max(scores.values())
    report_type = next(t for t in TYPES if scores[t] == best) if best else DEFAULT_TYPE
    raise_by = min(MAX_RAISE, sum(r.weight for r in fired if r.suggests == URGENT))
    priority = PRIORITIES[max(0, BASE_PRIORITY[report_type] - raise_by)]
    languages = tuple(sorted({r.language for r in fired if r.language != "*"}))
    return Triage(report_type, priority, "rules", tuple(r.name for r in fired), languages)


# ---- the port for a model ---------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    """What a model answers: one of ``TYPES`` and one of ``PRIORITIES``."""

    type: str
    priority: str


class TriageModel(Protocol):
    """An optional model-backed triage (an adapter around an LLM, say). Off by default: nothing
    calls one unless a caller passes it to ``suggest``.

    ``suggest`` gets the report's text with emails and phone numbers already masked (as the
    timeline note masks them): personal data never reaches a model. It answers a ``Suggestion``,
    or None when it has none; it may raise. Its own timeouts are the adapter's business.
    """

    def suggest(self, text: str) -> Suggestion | None: ...


def suggest(text: str, *, model: TriageModel | None = None) -> Triage:
    """The suggestion for a report: the model's when one is given and answers a valid
    ``Suggestion``, else the rules' (a failing, silent or confused model is no worse than none)."""
    rules = by_rules(text)
    if model is None:
        return rules
    from parity.timeline.masking import mask  # only a model needs the masked text

    try:
        answer = model.suggest(mask(text[:MAX_READ_CHARS]))
    except Exception:  # noqa: BLE001 - any failure of an optional model falls back to the rules
        return rules
    if not isinstance(answer, Suggestion) or answer.type not in TYPES or answer.priority not in PRIORITIES:
        return rules
    return Triage(answer.type, answer.priority, "model", rules.fired, rules.languages)
