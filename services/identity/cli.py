"""Staff accounts are made here, never through the API:

python -m services.identity.cli create-staff --name "Ana" --email ana@plixa.app < password.txt

The first sign-in enrols the account's TOTP second factor (mandatory for staff). A staff member
who lost both the authenticator and the recovery codes is reset here (every session ends, and
the next sign-in enrols again):

python -m services.identity.cli reset-staff-two-factor --email ana@plixa.app
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from services.identity.__main__ import password_hasher
from services.identity.domain import staff as staff_domain
from services.identity.settings import IdentitySettings
from services.kit.clock import SystemClock
from services.kit.config import load_or_exit
from services.kit.db import Database, create_engine
from services.kit.errors import DomainError


def database(settings: IdentitySettings) -> Database:
    return Database(
        create_engine(settings.database_url, "identity", pool_size=1),
        "identity",
        SystemClock(),
    )


async def create_staff(name: str, email: str, password: str) -> int:
    name, email = staff_domain.check_new_staff(name, email, password)
    settings = load_or_exit(IdentitySettings.load, "identity.cli")
    db = database(settings)
    try:
        password_hash = await password_hasher(settings).hash(password)
        async with db.unit_of_work() as uow:
            staff = await staff_domain.create(
                uow, name=name, email=email, password_hash=password_hash
            )
        return staff.id
    finally:
        await db.dispose()


async def reset_staff_two_factor(email: str) -> int:
    db = database(load_or_exit(IdentitySettings.load, "identity.cli"))
    try:
        async with db.unit_of_work() as uow:
            staff = await staff_domain.reset_two_factor(uow, email)
        return staff.id
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.identity.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-staff", help="create a Plixa staff account")
    create.add_argument("--name", required=True)
    create.add_argument("--email", required=True)
    reset = commands.add_parser(
        "reset-staff-two-factor", help="remove a staff account's second factor and sessions"
    )
    reset.add_argument("--email", required=True)
    args = parser.parse_args(argv)
    if args.command == "reset-staff-two-factor":
        try:
            staff_id = asyncio.run(reset_staff_two_factor(args.email))
        except DomainError as error:
            print(f"refused: {error.message}", file=sys.stderr)
            return 2
        print(f"staff account {staff_id}: two-factor reset; the next sign-in enrols again")
        return 0
    # The password never goes on the command line (it would show in ps and shell history).
    password = (
        getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    )
    try:
        staff_id = asyncio.run(create_staff(args.name, args.email, password))
    except DomainError as error:
        problems = "; ".join(f"{f.field}: {f.message}" for f in error.fields) or error.message
        print(f"refused: {problems}", file=sys.stderr)
        return 2
    print(f"staff account {staff_id} created for {args.email}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
