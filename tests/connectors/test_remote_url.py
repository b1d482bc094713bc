"""An admin-typed remote address cannot point our servers at our own network."""

import pytest

from connectors.base import check_remote_url


@pytest.mark.parametrize("url", [
    "http://plexxis.example.com/api/v1",  # clear text
    "ftp://plexxis.example.com/",
    "plexxis.example.com/api",
    "https://127.0.0.1/api/v1",
    "https://10.0.0.5/api/v1",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://[::1]/api",
    "https://localhost/api",
])
def test_addresses_a_remote_cannot_have_are_refused(url):
    with pytest.raises(ValueError):  # noqa: PT011 - the message is checked below
        check_remote_url(url)


def test_the_refusal_says_why():
    with pytest.raises(ValueError, match="private address"):
        check_remote_url("https://192.168.1.10/api/v1")


def test_the_local_emulator_is_allowed_when_settings_allow_it():
    check_remote_url("http://127.0.0.1:8766/api/v1", allowed_private_hosts=["127.0.0.1"])


def test_a_public_https_address_is_accepted():
    check_remote_url("https://1.1.1.1/api/v1")
