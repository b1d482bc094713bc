"""Plexxis: the connector, its payload mapping and a local emulator of its API.

Plexxis publishes no API, so `CONTRACT.md` defines the wire contract we speak. Every
Plexxis-specific assumption lives in this package, so the real API replaces it here only.
"""
