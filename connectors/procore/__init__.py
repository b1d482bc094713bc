"""Procore: the client and connector, its payload mapping, its settings and a local emulator.

The wire facts (hosts, OAuth, headers, pagination, rate limits, timecard fields) are in
`CONTRACT.md`; everything Procore-specific on the wire lives in this package, which never
imports the Django side (tokens, storage and the budget are injected).
"""
