"""`flask users ...`: accounts from the command line (the way to the first admin)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from .. import db
from ..auth import invites
from ..config import ROLES
from ..errors import ApiError
from ..models import User
from . import service

users_cli = AppGroup("users", help="Accounts: roles and invites.")


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def set_role(username: str, role: str) -> None:
    """Give USERNAME the ROLE (viewer, editor or admin)."""
    session = db.session()
    try:
        user = service.set_role_by_name(session, username, role)
        session.commit()
    except LookupError:
        raise click.ClickException(f"there is no user named {username!r}") from None
    except ApiError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"{user.username} is now {role}")


@users_cli.command("list")
def list_users() -> None:
    """Every account: id, username, role, and whether it is disabled."""
    rows = db.reader().execute(select(User.id, User.username, User.role, User.disabled)).all()
    for user_id, username, role, disabled in rows:
        click.echo(f"{user_id}\t{username}\t{role}{chr(9) + 'disabled' if disabled else ''}")


@users_cli.command("invite")
@click.argument("role", type=click.Choice(ROLES))
@click.option(
    "--expires-in",
    type=click.IntRange(1, invites.MAX_LIFETIME),
    default=invites.DEFAULT_LIFETIME,
    show_default=True,
    help="Seconds the invite stays valid.",
)
def invite(role: str, expires_in: int) -> None:
    """Print a new single-use invite code for ROLE (the code alone, on its own line)."""
    session = db.session()
    _, code, _ = invites.create(session, role=role, expires_in=expires_in, created_by=None)
    session.commit()
    click.echo(code)
