"""What the timeline's route answers, as a JSON schema for the API's document (named by the records
function's route registration, loaded only by whoever builds the document)."""

from __future__ import annotations

#: ``GET /api/v3.1/{deals|tickets}/{id}/timeline``: the record's notes, newest first (``writer.timeline_of``).
TIMELINE = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"type": "object"}}}}
