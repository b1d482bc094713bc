"""The attacker's tools: a DNS they control."""

from __future__ import annotations

import socket

import pytest

REMOTE_NAME = "plexxis.example.com"


@pytest.fixture
def resolver(monkeypatch) -> dict[str, str | list[str]]:
    """DNS for the names a test puts in the dict, answering what the dict says at the moment
    it is asked: an address, or a list of addresses given one per lookup (the last one ever
    after), as a DNS with a zero TTL can. Every other name resolves as usual."""
    answers: dict[str, str | list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        answer = answers.get(name, host)
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return real_getaddrinfo(answer, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers
