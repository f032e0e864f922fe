"""``sendx-worker identify`` and ``sendx-worker track``: enqueue from the shell, validated like the API."""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_OK, UsageError, subcommand

__all__ = ["name_value", "register"]

IDENTIFY_EXAMPLES = """\
examples:
  sendx-worker identify --email john@example.com --first-name John --tag Developer
  sendx-worker identify --email john@example.com --custom-field Designation=Engineer --custom-field Logins=++1
  sendx-worker identify --email john@example.com --new-email john.doe@example.com
  sendx-worker identify --email jo@example.com --team eu      # credentials of team "eu" (SENDX_TEAMS)

Prints the task id. Invalid input exits 2 naming the field (e.g. first_name, custom_fields.Logins);
"++N"/"--N" add to or subtract from a number custom field."""

TRACK_EXAMPLES = """\
examples:
  sendx-worker track --email john@example.com --add "paid user" --remove "trial user"
  sendx-worker track --email john@example.com --add Webinar --add "Q3 campaign"

Prints the task id. A track needs at least one --add or --remove."""


def name_value(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` -> ``(NAME, VALUE)``; the value may be empty or contain "="."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def register(subparsers: Any) -> None:
    """Add ``identify`` and ``track``."""
    parser = subcommand(
        subparsers,
        "identify",
        help="enqueue an identify (create or update a contact)",
        description="Validate and enqueue an identify: create or update the contact with this e-mail.",
        examples=IDENTIFY_EXAMPLES,
    )
    parser.add_argument("--email", required=True, help="the contact's e-mail address")
    parser.add_argument("--new-email", help="change the contact's e-mail address to this one")
    parser.add_argument("--first-name")
    parser.add_argument("--last-name")
    parser.add_argument("--company")
    parser.add_argument("--birthday", metavar="YYYY-MM-DD", help="v1 flavor only")
    parser.add_argument(
        "--custom-field",
        dest="custom_fields",
        action="append",
        type=name_value,
        metavar="NAME=VALUE",
        help="set a custom field; repeatable",
    )
    parser.add_argument("--tag", dest="tags", action="append", metavar="TAG", help="add a tag; repeatable")
    parser.add_argument("--team", help="a team from SENDX_TEAMS (default: SENDX_API_KEY/SENDX_TEAM_ID)")
    parser.set_defaults(handler=run_identify)

    parser = subcommand(
        subparsers,
        "track",
        help="enqueue a track (add and remove a contact's tags)",
        description="Validate and enqueue a track: add and remove tags of the contact with this e-mail.",
        examples=TRACK_EXAMPLES,
    )
    parser.add_argument("--email", required=True, help="the contact's e-mail address")
    parser.add_argument("--add", dest="add_tags", action="append", metavar="TAG", help="add this tag; repeatable")
    parser.add_argument(
        "--remove", dest="remove_tags", action="append", metavar="TAG", help="remove this tag; repeatable"
    )
    parser.add_argument("--team", help="a team from SENDX_TEAMS (default: SENDX_API_KEY/SENDX_TEAM_ID)")
    parser.set_defaults(handler=run_track)


def run_identify(args: argparse.Namespace) -> int:
    """Enqueue one identify and print its task id."""
    from ..producer import identify  # Celery and marshmallow: imported when used (see .common)
    from .broker import producer_app

    custom_fields = _custom_fields(args.custom_fields)
    with producer_app() as app:
        result = identify(
            args.email,
            new_email=args.new_email,
            first_name=args.first_name,
            last_name=args.last_name,
            company=args.company,
            birthday=args.birthday,
            custom_fields=custom_fields,
            tags=args.tags,
            team=args.team,
            app=app,
        )
    print(result.id)
    return EXIT_OK


def run_track(args: argparse.Namespace) -> int:
    """Enqueue one track and print its task id."""
    from ..producer import track
    from .broker import producer_app

    with producer_app() as app:
        result = track(args.email, add_tags=args.add_tags, remove_tags=args.remove_tags, team=args.team, app=app)
    print(result.id)
    return EXIT_OK


def _custom_fields(pairs: list[tuple[str, str]] | None) -> dict[str, str] | None:
    if pairs is None:
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise UsageError(f"argument --custom-field: {name!r} is given twice")
        fields[name] = value
    return fields
