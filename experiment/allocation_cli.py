"""``soothe allocation``: create, inspect, export and verify the allocation database.

Subcommands::

    soothe allocation init     --db DB [--protocol FILE] [--seed S] [--demo]
    soothe allocation allocate --db DB --id ID [--stratum sex=female ...]
    soothe allocation mark     --db DB --id ID --status complete|incomplete
    soothe allocation status   --db DB [--unblind ...]
    soothe allocation export   --db DB [--out FILE] [--unblind [--raw RAW] ...]
    soothe allocation verify   --db DB

``DB`` is a SQLite file on this PC's local disk (one lab PC), or
``postgresql://USER@HOST[:PORT]/DATABASE`` (two or more PCs, several sites). ``init`` draws
a secret seed and keeps it only in the database; ``--seed`` sets one by hand, and the
protocol's published example seed is refused unless ``--demo``.

Blinded by default: ``status`` shows totals and block completeness, ``export`` no arm. Any
unblinded view (``status --unblind``, ``export --unblind``) needs an explicit confirmation:
typing ``UNBLIND`` at an interactive prompt, or ``--yes-i-am-unblinding "reason"``. Each
unblinding is logged in the database's audit table. ``export --unblind`` writes
``RAW/sourcedata/allocation_unblinded.tsv`` (``participant_id``, ``condition``), what the
analysis reads. This module does not import PsychoPy.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from conditions.allocation import (
    AllocationError,
    create_allocation_db,
    is_database_url,
    open_allocation_db,
)
from conditions.protocol import load_protocol

CONFIRM_WORD = "UNBLIND"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soothe allocation",
        description="Concealed permuted-block allocation database (SQLite or PostgreSQL).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_db(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", required=True,
                       help="SQLite file on this PC's local disk, or "
                            "postgresql://USER@HOST[:PORT]/DATABASE")

    p = sub.add_parser("init", help="create a new allocation database")
    add_db(p)
    p.add_argument("--seed", type=int, default=None,
                   help="study seed (default: a secret seed drawn at random and kept only in "
                        "the database; leave it out for a real study)")
    p.add_argument("--demo", action="store_true",
                   help="a demonstration database: allows (and defaults to) the protocol's "
                        "published example seed, so its allocations are predictable")
    p.add_argument("--protocol", type=Path, default=None, help="protocol TOML (default: shipped)")

    p = sub.add_parser("allocate", help="allocate one participant; prints the session code only")
    add_db(p)
    p.add_argument("--id", required=True, help="participant ID")
    p.add_argument(
        "--stratum",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="stratum value, e.g. sex=female (repeat for several fields)",
    )

    for name, help_ in (
        ("status", "totals and block completeness per stratum (per arm with --unblind)"),
        ("export", "write every allocation as TSV (blinded unless --unblind)"),
    ):
        p = sub.add_parser(name, help=help_)
        add_db(p)
        p.add_argument("--unblind", action="store_true", help="show condition names")
        p.add_argument(
            "--yes-i-am-unblinding",
            metavar="REASON",
            default=None,
            help="confirm unblinding without a prompt; the reason is logged",
        )
        p.add_argument("--by", default=None, help="who is unblinding (default: OS user name)")
        if name == "export":
            p.add_argument("--out", type=Path, default=None,
                           help="TSV file of every allocation with every column (default: "
                                "stdout; with --unblind the default is the analysis copy "
                                "RAW/sourcedata/allocation_unblinded.tsv)")
            p.add_argument("--raw", type=Path, default=None,
                           help="with --unblind: the raw BIDS dataset; writes "
                                "RAW/sourcedata/allocation_unblinded.tsv (default RAW: the "
                                "dataset holding a SQLite DB at RAW/sourcedata/allocation.sqlite)")

    p = sub.add_parser("verify", help="check integrity and block balance")
    add_db(p)

    p = sub.add_parser("mark", help="record a session's outcome (e.g. after the database "
                                    "server was unreachable at the end of a session)")
    add_db(p)
    p.add_argument("--id", required=True, help="participant ID")
    p.add_argument("--status", required=True, choices=("complete", "incomplete"))

    return parser


def _confirm_unblinding(args: argparse.Namespace) -> tuple[str, str]:
    """Return (who, reason) after an explicit confirmation, or raise AllocationError."""
    who = args.by or getpass.getuser()
    if args.yes_i_am_unblinding is not None:
        reason = args.yes_i_am_unblinding.strip()
        if not reason:
            raise AllocationError("--yes-i-am-unblinding needs a reason, e.g. 'final analysis'")
        return who, reason
    if not sys.stdin.isatty():
        raise AllocationError(
            "unblinding needs an explicit confirmation: run interactively and type "
            f"{CONFIRM_WORD}, or pass --yes-i-am-unblinding 'reason'"
        )
    print(
        "You are about to see which condition each participant received. This is logged.",
        file=sys.stderr,
    )
    reason = input("Reason for unblinding: ").strip()
    typed = input(f"Type {CONFIRM_WORD} to confirm: ").strip()
    if typed != CONFIRM_WORD or not reason:
        raise AllocationError("unblinding not confirmed; nothing was shown")
    return who, reason


def _raw_of(db: str) -> Path:
    """The raw dataset of a SQLite database at ``RAW/sourcedata/allocation.sqlite``."""
    path = Path(db)
    if not is_database_url(db) and path.parent.name == "sourcedata":
        return path.parent.parent
    raise AllocationError(
        f"export --unblind: where is the raw dataset? {db} is not RAW/sourcedata/"
        "allocation.sqlite; pass --raw RAW (writes RAW/sourcedata/allocation_unblinded.tsv) "
        "or --out FILE"
    )


def main(argv: list[str]) -> int:
    """Entry point of ``soothe allocation``."""
    args = _parser().parse_args(argv)
    if args.command == "init":
        protocol = load_protocol(args.protocol)
        db = create_allocation_db(args.db, protocol, seed=args.seed, demo=args.demo)
        # concealment: a drawn seed is never printed; it lives in the database only
        print(f"created {db.where} (seed {db.seed_description()}; block sizes "
              f"{list(db.block_sizes)}, strata {list(db.strata_fields) or 'none'})")
        return 0

    db = open_allocation_db(args.db)
    if args.command == "mark":
        db.mark_session(args.id, args.status)
        print(f"session of {args.id} marked {args.status}")
        return 0
    if args.command == "allocate":
        strata = {}
        for entry in args.stratum:
            if "=" not in entry:
                raise AllocationError(f"--stratum expects FIELD=VALUE, got {entry!r}")
            key, value = entry.split("=", 1)
            strata[key.strip()] = value.strip()
        print(db.allocate(args.id, strata).session_code)
        return 0

    if args.command == "status":
        if args.unblind:
            who, reason = _confirm_unblinding(args)
            db.log_unblinding(who, "status_unblinded", reason)
        table = db.status(blinded=not args.unblind)
        print(table.to_string(index=False))
        return 0

    if args.command == "export":
        if args.unblind:
            who, reason = _confirm_unblinding(args)
            if args.out is None:  # the analysis copy: participant_id, condition
                path = db.write_unblinded(args.raw or _raw_of(args.db), confirmed_by=who,
                                          reason=reason)
                print(f"wrote the unblinded allocation to {path} (logged)", file=sys.stderr)
                return 0
            table = db.export(unblind=True, confirmed_by=who, reason=reason)  # every column
        else:
            table = db.export(unblind=False, confirmed_by=args.by or getpass.getuser())
        text = table.to_csv(sep="\t", index=False, na_rep="n/a")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
            print(f"wrote {len(table)} allocation(s) to {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0

    if args.command == "verify":
        problems = db.verify()
        if problems:
            for problem in problems:
                print(f"PROBLEM: {problem}")
            print(f"seed: {db.seed_description()}")
            return 1
        n = int(db.status(blinded=True).query("stratum == '(total)'")["allocated"].sum())
        print(f"ok: {n} allocation(s), integrity and block balance verified")
        print(f"seed: {db.seed_description()}")
        if db.predictable:
            print("WARNING: this allocation is not concealed; do not use it for a real study")
        return 0
    return 2  # pragma: no cover - argparse enforces the choices
