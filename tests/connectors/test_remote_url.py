"""An admin-typed remote address cannot point our servers at our own network: the check run
when an address is saved. (The same rules hold again when each request is made:
tests/security/test_ssrf.py.)"""

import pytest

from connectors.addresses import RemoteAddressPolicy, check_remote_url

EMULATOR_ALLOWED = RemoteAddressPolicy.of(private_hosts_allowed=["127.0.0.1"])


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


@pytest.mark.parametrize("url", [
    # urlsplit reads the host as 8.8.8.8, requests and urllib3 as 127.0.0.1:8404 (the probe's).
    "https://127.0.0.1:8404\\@8.8.8.8/api/v1",
    "https://8.8.8.8\\@127.0.0.1/api/v1",
    # A user name or password before the host: nothing of ours belongs there.
    "https://admin:secret@8.8.8.8/api/v1",
    "https://8.8.8.8@plexxis.example.com/api/v1",
    # IPv4 written other than as four decimal numbers: 8.8.8.8 is public, but such forms are
    # how a private address hides (0x7f.1 is 127.0.0.1), so none is taken.
    "https://134744072/api/v1",
    "https://0x08080808/api/v1",
    "https://0x8.0x8.0x8.0x8/api/v1",
    "https://010.010.010.010/api/v1",
    "https://8.8.8.08/api/v1",
    # Percent-encoded hosts: urllib3 decodes what urlsplit does not.
    "https://8%2e8%2e8%2e8/api/v1",
    # An IPv6 zone (scope) names one of our interfaces (1: loopback).
    "https://[2606:4700:4700::1111%251]/api/v1",
    # Control characters, which urlsplit drops silently.
    "https://8.8.8.8\t/api/v1",
])
def test_an_address_read_two_ways_is_refused(url):
    with pytest.raises(ValueError):  # noqa: PT011 - one behaviour: refused
        check_remote_url(url)


@pytest.mark.parametrize("url", [
    "https://[64:ff9b::7f00:1]/api/v1",  # NAT64 of 127.0.0.1
    "https://[64:ff9b:1::a00:5]/api/v1",  # local-use NAT64 of 10.0.0.5
    "https://[2002:7f00:1::]/api/v1",  # 6to4 of 127.0.0.1
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/api/v1",  # Teredo of 127.0.0.1
    "https://[::ffff:127.0.0.1]/api/v1",  # IPv4-mapped
    "https://[::7f00:1]/api/v1",  # IPv4-compatible (deprecated)
    "https://[fec0::1]/api/v1",  # site-local (deprecated)
    "https://[fe80::1]/api/v1",  # link-local
    "https://[ff02::1]/api/v1",  # multicast
    "https://224.0.0.1/api/v1",  # multicast
    "https://0.0.0.0/api/v1",  # unspecified: this machine
    "https://[::]/api/v1",
    "https://100.64.0.1/api/v1",  # carrier-grade NAT: cloud-internal networks
    "https://192.88.99.1/api/v1",  # 6to4 relay
    "https://240.0.0.1/api/v1",  # reserved
])
def test_an_address_that_embeds_or_names_a_non_public_network_is_refused(url):
    with pytest.raises(ValueError, match="private address"):
        check_remote_url(url)


def test_a_port_other_than_https_is_refused():
    with pytest.raises(ValueError, match="port 22"):
        check_remote_url("https://8.8.8.8:22/")


def test_a_port_allowed_by_settings_is_accepted():
    check_remote_url("https://8.8.8.8:8443/api/v1",
                     policy=RemoteAddressPolicy.of(ports_allowed=[443, 8443]))


def test_the_refusal_says_why():
    with pytest.raises(ValueError, match="private address"):
        check_remote_url("https://192.168.1.10/api/v1")


def test_the_local_emulator_is_allowed_when_settings_allow_it():
    check_remote_url("http://127.0.0.1:8766/api/v1", policy=EMULATOR_ALLOWED)


def test_an_allowed_local_host_still_cannot_smuggle_another_host():
    with pytest.raises(ValueError, match="backslash"):
        check_remote_url("http://127.0.0.1:8766\\@8.8.8.8/api/v1", policy=EMULATOR_ALLOWED)


def test_a_public_https_address_is_accepted():
    check_remote_url("https://1.1.1.1/api/v1")


def test_the_standard_https_port_written_out_is_accepted():
    check_remote_url("https://1.1.1.1:443/api/v1")
