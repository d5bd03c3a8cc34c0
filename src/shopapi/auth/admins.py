"""Nothing may leave the service without an enabled admin.

A change that takes the admin role from an enabled admin (demoting, disabling, deleting)
first locks every enabled admin's row (`lock_enabled_admins`, MariaDB), then applies itself
with one conditional statement that requires another enabled admin to remain
(`another_enabled_admin`; atomic on SQLite, whose writers take turns). Of two admins
demoting each other at once, one waits for the other and then finds no other admin.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, select, true
from sqlalchemy.orm import Session, aliased

from ..caller.roles import ADMIN
from ..errors import ApiError
from ..models import User

LAST_ADMIN = "This is the last enabled admin: make another account admin first."


def is_enabled_admin(user: User) -> bool:
    return user.role == ADMIN and not user.disabled


def another_enabled_admin(user_id: int) -> ColumnElement[bool]:
    other = aliased(User)
    admins = select(other.id).where(
        other.role == ADMIN, other.disabled == false(), other.id != user_id
    )
    # Through a derived table: MySQL refuses a subquery on the table an UPDATE changes.
    return exists(select(true()).select_from(admins.subquery("other_admins")))


def lock_enabled_admins(session: Session) -> None:
    """Hold every enabled admin's row until the unit of work ends (MariaDB; on SQLite the
    conditional statement that follows is atomic on its own)."""
    session.execute(
        select(User.id)
        .where(User.role == ADMIN, User.disabled == false())
        .order_by(User.id)
        .with_for_update()
    ).all()


def last_admin() -> ApiError:
    return ApiError(409, LAST_ADMIN)
