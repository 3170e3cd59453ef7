"""Autogenerate a migration from every domain's models, on top of one domain's branch.

    python scripts/new_migration.py "message" REV_ID --head 0003_runbooks [--out DIR]

The database it compares with is a scratch SQLite file upgraded to every head first, so the
new revision holds only what the models add. ``--head`` names the branch the revision extends
(there is one per domain, see `bot/migrations/versions/`); it is required when there are several.
Review the result by hand: replace UTCDateTime with sa.DateTime(timezone=True).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from bot.db import alembic_config, upgrade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message")
    parser.add_argument("rev_id")
    parser.add_argument("--head", help="revision the new one extends (the domain branch's head)")
    parser.add_argument("--out", help="folder to write the revision to (default: bot/migrations/versions)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mlresponder-autogen-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'autogen.db'}"
        cfg = alembic_config(url)
        if args.out:
            versions = Path(cfg.get_main_option("script_location") or "") / "versions"
            cfg.set_main_option("version_locations", f"{versions} {Path(args.out).resolve()}")
        heads = ScriptDirectory.from_config(cfg).get_heads()
        head = args.head
        if head is None:
            if len(heads) != 1:
                print(f"several heads ({', '.join(sorted(heads))}): name the one to extend with --head",
                      file=sys.stderr)
                return 2
            head = heads[0]
        elif head not in heads:
            print(f"--head {head!r} is not a head (heads: {', '.join(sorted(heads))})", file=sys.stderr)
            return 2
        upgrade(url)
        command.revision(cfg, message=args.message, autogenerate=True, rev_id=args.rev_id, head=head,
                         version_path=str(Path(args.out).resolve()) if args.out else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
