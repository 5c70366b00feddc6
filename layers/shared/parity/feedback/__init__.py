"""The feedback loop (contracts/feedback.md): customers' reports become triaged tickets, grouped
across conversations and channels, and each reporter hears back on their own channel once a person
approves the changelog.

The modules here are pure (no AWS, no clock: time is a parameter):

* ``text``: how the feedback rules read text (NFKC, casefold, accents stripped).
* ``triage``: the suggested type and priority, from a table of keyword rules (en, es, id), and
  the port for an optional model-backed triage with the rules as its fallback.
* ``summary``: the ticket's masked one-sentence summary and the customer-facing changelog text.
* ``grouping``: word-shingle similarity and the decision where a report goes.
* ``ticket``: the feedback ticket's fields, the ``POST /api/v3.1/feedback`` body, the list
  filters and the summary figures.
* ``notify``: who is told how once a changelog is approved, the attempt limit, the settings.

Importing the package imports none of them (cold start pays only for what a function uses).
"""
