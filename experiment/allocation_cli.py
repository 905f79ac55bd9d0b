"""``soothe allocation``: create, inspect, export and verify the allocation database.

Subcommands::

    soothe allocation init     --db PATH [--seed S] [--protocol FILE]
    soothe allocation allocate --db PATH|URL --id ID [--stratum sex=female ...]
    soothe allocation mark     --db PATH|URL --id ID --status complete|incomplete
    soothe allocation status   --db PATH [--unblind ...]
    soothe allocation export   --db PATH [--out FILE] [--unblind ...]
    soothe allocation verify   --db PATH
    soothe allocation serve    --db PATH [--host 127.0.0.1] [--port 8765]

``serve`` runs the allocation service for a second lab PC (see
:mod:`experiment.allocation_server`); ``allocate`` and ``mark`` also accept its URL
(``--db http://HOST:PORT`` with ``--token-file`` or ``$SOOTHE_ALLOCATION_TOKEN``). Creating,
status, export and verify are local commands on the PC that holds the database.

Blinded by default. Any unblinded view (``status --unblind``, ``export --unblind``) needs an
explicit confirmation: typing ``UNBLIND`` at an interactive prompt, or
``--yes-i-am-unblinding "reason"``. Each unblinding is logged in the database's audit table.
This module does not import PsychoPy.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from experiment.allocation import AllocationDB, AllocationError, open_allocation_db
from experiment.allocation_server import DEFAULT_PORT, is_allocation_url, serve_allocation

CONFIRM_WORD = "UNBLIND"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soothe allocation",
        description="Concealed permuted-block allocation database (SQLite).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_db(p: argparse.ArgumentParser, remote: bool = False) -> None:
        if not remote:
            p.add_argument("--db", required=True, help="allocation database file")
            return
        p.add_argument("--db", required=True,
                       help="allocation database file, or http://HOST:PORT of "
                            "'soothe allocation serve' on the PC that holds it")
        p.add_argument("--token-file", type=Path, default=None,
                       help="with a server URL: the server's <database>.token (default: "
                            "$SOOTHE_ALLOCATION_TOKEN)")

    p = sub.add_parser("init", help="create a new allocation database")
    add_db(p)
    p.add_argument("--seed", type=int, default=None, help="study seed (default: protocol's)")
    p.add_argument("--protocol", type=Path, default=None, help="protocol TOML (default: shipped)")

    p = sub.add_parser("allocate", help="allocate one participant; prints the session code only")
    add_db(p, remote=True)
    p.add_argument("--id", required=True, help="participant ID")
    p.add_argument(
        "--stratum",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="stratum value, e.g. sex=female (repeat for several fields)",
    )

    for name, help_ in (
        ("status", "counts per arm and stratum (blinded unless --unblind)"),
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
            p.add_argument("--out", type=Path, default=None, help="TSV file (default: stdout)")

    p = sub.add_parser("verify", help="check integrity and block balance")
    add_db(p)

    p = sub.add_parser("mark", help="record a session's outcome (e.g. after the server was "
                                    "unreachable at the end of a session)")
    add_db(p, remote=True)
    p.add_argument("--id", required=True, help="participant ID")
    p.add_argument("--status", required=True, choices=("complete", "incomplete"))

    p = sub.add_parser("serve", help="serve this PC's database to the other lab PCs")
    add_db(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on: 127.0.0.1 (this PC only), this PC's LAN "
                        "address, or 0.0.0.0 (all interfaces)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
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


def main(argv: list[str]) -> int:
    """Entry point of ``soothe allocation``."""
    args = _parser().parse_args(argv)
    if is_allocation_url(args.db) and args.command not in ("allocate", "mark"):
        raise AllocationError(
            f"'soothe allocation {args.command}' is a local command: run it on the PC that "
            f"holds the database (the one running 'soothe allocation serve'), not against "
            f"{args.db}"
        )
    if args.command == "serve":
        return serve_allocation(args.db, host=args.host, port=args.port)
    if args.command == "init":
        from conditions.protocol import load_protocol

        protocol = load_protocol(args.protocol)
        db = AllocationDB.create(args.db, protocol, seed=args.seed)
        print(
            f"created {db.path} (seed {db.seed}, block sizes {list(db.block_sizes)}, "
            f"strata {list(db.strata_fields) or 'none'})"
        )
        return 0

    if args.command in ("allocate", "mark"):
        db = open_allocation_db(args.db, token_file=args.token_file)
    else:
        db = AllocationDB(args.db)
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
        allocation = db.allocate(args.id, strata)
        # concealment: the console shows the neutral code only
        print(allocation.session_code)
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
        else:
            who, reason = (args.by or getpass.getuser()), ""
        table = db.export(unblind=args.unblind, confirmed_by=who, reason=reason)
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
            return 1
        n = int(db.status(blinded=True).query("stratum == '(total)'")["allocated"].sum())
        print(f"ok: {n} allocation(s), integrity and block balance verified")
        return 0
    return 2  # pragma: no cover - argparse enforces the choices
