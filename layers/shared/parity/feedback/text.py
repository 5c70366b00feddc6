"""How the feedback rules read text: one folding shared by triage (keyword matching) and grouping
(word shingles), so a rule and a report, or two reports, are compared the same way. Pure.

``fold`` is Unicode NFKC (full-width letters and digits, ligatures, odd spaces become their plain
selves), then ``casefold`` (``Straße`` → ``strasse``), then accents stripped (every combining mark
dropped after canonical decomposition: ``caída`` → ``caida``, ``añadir`` → ``anadir``), curly
apostrophes read as ``'`` (``doesn’t`` → ``doesn't``) and whitespace runs as one space.

Stripping combining marks is right for Latin-script languages (English, Spanish, Indonesian) and
harmless elsewhere: both sides of a comparison are folded alike. ``words`` then keeps the runs of
letters and digits (``_`` and every punctuation mark separate words), which is what makes grouping
language-independent for any script written with spaces. Scripts written without spaces (Chinese,
Japanese, Thai) read as one long word per run: such reports group only when near-identical as a
whole.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = dict.fromkeys(map(ord, "\u2018\u2019\u02bc\u2032\uff07"), "'")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """``text`` as the feedback rules read it: NFKC, casefolded, accents stripped, curly
    apostrophes as ``'``, whitespace runs as one space, trimmed. Idempotent."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    decomposed = unicodedata.normalize("NFD", folded.translate(_APOSTROPHES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", bare)).strip()


def words(text: str) -> list[str]:
    """The words of ``fold(text)``: runs of letters and digits, in order (punctuation and ``_``
    dropped)."""
    return _WORD.findall(fold(text))
