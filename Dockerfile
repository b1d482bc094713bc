# syntax=docker/dockerfile:1
#
# Timesync production image: one image for every process (web, worker, beat, migrate); the
# command chooses the role (see docker-compose.yml). Configuration comes from the environment
# at run time, never from the image.

# --- Stage 1: the runtime dependencies, in a virtualenv -------------------------------------
FROM python:3.11-slim-bookworm AS deps

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv

WORKDIR /build
# Only the lock file, so this layer is rebuilt only when the locked dependencies change. Every
# package is pinned with its hashes and installed as locked, nothing resolved (--no-deps): the
# image runs exactly what CI tested (README "Dependencies"). The project's own code is not a
# package (`packages = []` in pyproject.toml): it is copied below, not installed.
COPY requirements/lock.txt ./
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r lock.txt

# --- Stage 2: the runtime image -------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# A fixed, non-root uid/gid (also numeric below, so Kubernetes' runAsNonRoot can verify it).
RUN groupadd --system --gid 10001 timesync \
    && useradd --system --uid 10001 --gid timesync --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin timesync

COPY --from=deps /opt/venv /opt/venv

WORKDIR /app
# The source stays owned by root, so the app user can read it but not change it.
# .dockerignore keeps out secrets (.env*), the local venv, var/, .git and the tests.
COPY . .

# chmod: COPY keeps the modes of the checkout; a restrictive umask there must not leave the
# source unreadable for the app user.
# Settings require SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS even for collectstatic. Both
# values below exist only for this command (they are not ENV, so no container ever sees them):
# a throwaway key made on the spot lets collectstatic import the settings and encrypts nothing.
# STATIC_ROOT is var/staticfiles; whitenoise serves it.
RUN chmod -R a+rX,go-w /app \
    && SECRET_KEY=collectstatic-build-only \
       CREDENTIALS_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
       python manage.py collectstatic --noinput

USER 10001:10001

EXPOSE 8000

# The web role by default; docker-compose.yml sets the command of every service explicitly.
# /dev/shm (tmpfs) for gunicorn's worker heartbeat files: /tmp is on the container's
# disk-backed overlay filesystem, where the heartbeat can stall workers.
CMD ["gunicorn", "config.wsgi:application", "--config", "python:config.gunicorn", \
     "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--timeout", "60", "--access-logfile", "-", "--worker-tmp-dir", "/dev/shm"]
