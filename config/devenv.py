"""Development secrets. `python -m config.devenv` prints a .env for `make run` (DEBUG on, fresh
random secrets); `--test` prints shell exports of throwaway secrets for `make test`."""

import secrets
import sys

from cryptography.fernet import Fernet


def main(argv: list[str]) -> None:
    secret_key = secrets.token_urlsafe(50)
    fernet_key = Fernet.generate_key().decode()
    if "--test" in argv:
        print(f"export SECRET_KEY='{secret_key}' CREDENTIALS_ENCRYPTION_KEYS='{fernet_key}'")
        return
    print("# Development settings written by `make run`. Never use them in production.")
    print("DEBUG=true")
    print(f"SECRET_KEY={secret_key}")
    print(f"CREDENTIALS_ENCRYPTION_KEYS={fernet_key}")


if __name__ == "__main__":
    main(sys.argv[1:])
