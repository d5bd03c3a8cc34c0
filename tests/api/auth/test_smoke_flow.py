"""The whole sign-in flow through the app, on each database backend."""

from __future__ import annotations

from typing import Any

from support import AuthActions


def test_register_login_verify_me_logout(client: Any, auth: AuthActions) -> None:
    account, token = auth.sign_in()
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json()["username"] == account.username
    assert me.get_json()["created_at"].endswith("Z")
    assert client.post("/auth/logout", headers=headers).status_code == 204
    again = client.get("/auth/me", headers=headers)
    assert again.status_code == 401
    assert again.headers["WWW-Authenticate"].startswith("Bearer")
