"""Parity runtime library: shared by every Lambda through the SharedLayer.

Kept import-light on purpose: importing ``parity`` pulls in nothing; each module is
imported where it is used so a function's cold start pays only for what it needs.
"""
