"""Operator commands: `python -m services.api.cli create-org NAME`."""

import argparse
import asyncio
import json
import sys

from services.api.orgs import service
from shared.db.engine import make_database
from shared.settings import get_settings


async def _create_org(name: str) -> dict:
    db = make_database(get_settings())
    try:
        async with db.sessionmaker() as session, session.begin():
            org, key, plaintext = await service.create_org(session, name=name)
        return {"org_id": str(org.id), "name": org.name, "api_key_id": str(key.id), "api_key": plaintext}
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.api.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-org", help="create an organisation and print its first admin key")
    create.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "create-org":
        name = args.name.strip()
        if not name or len(name) > 200:
            parser.error("NAME must be 1 to 200 characters")
        print(json.dumps(asyncio.run(_create_org(name)), indent=2))
        print("Store the api_key now: it is not shown again.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
