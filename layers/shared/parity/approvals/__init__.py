"""Trust in AI actions (contracts/approvals.md): roles, the approval policy and its held actions,
the approval inbox, the activity log, anomalies and the notifications to people.

Every module here is pure: no AWS, no clock reads (time is a parameter), no randomness (ids are
passed in). Importing the package pulls in nothing: each module is imported where it is used.
"""
