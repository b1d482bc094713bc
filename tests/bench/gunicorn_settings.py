"""Settings for the load bench's gunicorn: production settings, less what a plain-http run on
127.0.0.1 without collectstatic needs off (the same overrides as tests/conftest.py)."""

from config.settings import *  # noqa: F403

# The manifest is built by collectstatic at deploy time; the bench never asks for static files.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False  # the bench speaks plain http to 127.0.0.1
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ALLOWED_HOSTS = ["127.0.0.1"]
