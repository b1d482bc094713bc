"""Before the suite: are PostgreSQL and Redis there? If not, say how to start them and fail."""

from __future__ import annotations

import os
import sys

import psycopg
import redis


def main() -> int:
    problems = []
    database_url = os.environ["DATABASE_URL"]
    try:
        # The test database is created by pytest-django; the server's default one answers here.
        with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3):
            pass
    except psycopg.Error as error:
        problems.append(
            f"PostgreSQL is not reachable at {database_url} ({error}).\n"
            "  Start it:  pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start\n"
            "  or point DATABASE_URL at one (user with CREATEDB rights)."
        )
    redis_url = os.environ["REDIS_URL"]
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        problems.append(
            f"Redis is not reachable at {redis_url} ({error}).\n"
            "  Start it:  redis-server --daemonize yes --bind 127.0.0.1 --port 6379\n"
            "  or point REDIS_URL at one."
        )
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
