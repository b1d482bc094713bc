"""Integration credentials are encrypted at rest and keys can be rotated."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from timesync import crypto


@pytest.fixture
def keys(settings):
    def use(*keys: bytes) -> None:
        settings.CREDENTIALS_ENCRYPTION_KEYS = [key.decode() for key in keys]
        crypto._fernet.cache_clear()

    yield use
    crypto._fernet.cache_clear()


def test_credentials_round_trip_and_are_not_stored_in_clear(keys):
    keys(Fernet.generate_key())
    token = crypto.encrypt_json({"api_key": "s3cret-value"})
    assert "s3cret-value" not in token
    assert crypto.decrypt_json(token) == {"api_key": "s3cret-value"}


def test_credentials_written_with_an_old_key_read_after_a_new_key_is_prepended(keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    keys(old)
    token = crypto.encrypt_json({"api_key": "abc"})
    keys(new, old)
    assert crypto.decrypt_json(token) == {"api_key": "abc"}


def test_removing_the_key_that_encrypted_credentials_is_a_clear_error(keys):
    keys(Fernet.generate_key())
    token = crypto.encrypt_json({"api_key": "abc"})
    keys(Fernet.generate_key())
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        crypto.decrypt_json(token)


def test_a_malformed_key_is_a_clear_configuration_error(keys):
    keys(b"not-a-fernet-key")
    with pytest.raises(ImproperlyConfigured, match="Fernet keys"):
        crypto.encrypt_json({})
