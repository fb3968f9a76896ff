"""Signing in and out of the dashboard: sessions, CSRF, lock-out, security headers."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import Clock
from tests.web.conftest import PASSWORD, Seeded, csrf_of, login, post_form

from aiguilleur.engine.hub import Hub
from aiguilleur.store.users import LOCK_S, MAX_FAILURES
from aiguilleur.web.session import COOKIE


def test_auth_anonymous_page_redirects_to_sign_in_with_the_way_back(client: TestClient) -> None:
    response = client.get("/dossiers?status=14", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suivant=/dossiers%3Fstatus%3D14"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert 'value="/dossiers?status=14"' in page.text


def test_auth_sign_in_sets_a_signed_http_only_cookie(client: TestClient) -> None:
    response = login(client, "agent-nice")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert PASSWORD not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Agent de Nice" in page.text


def test_auth_sign_in_goes_back_to_the_page_asked_for_but_never_elsewhere(client: TestClient) -> None:
    for target, expected in (
        ("/erreurs", "/erreurs"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ):
        client.cookies.clear()
        token = csrf_of(client.get("/connexion").text)
        response = client.post(
            "/connexion",
            data={"csrf": token, "login": "admin", "password": PASSWORD, "suivant": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == expected


def test_auth_wrong_password_is_refused_with_one_message(client: TestClient) -> None:
    wrong = login(client, "agent-nice", "not the password")
    unknown = login(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "Identifiant ou mot de passe incorrect" in wrong.text
    assert "Identifiant ou mot de passe incorrect" in unknown.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_auth_sign_in_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/connexion")
    response = client.post(
        "/connexion", data={"login": "admin", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303


def test_auth_lock_out_after_five_failures_is_journaled_and_lifts_after_15_minutes(
    client: TestClient, hub: Hub, clock: Clock
) -> None:
    for _ in range(MAX_FAILURES - 1):
        assert login(client, "agent-nice", "wrong password").status_code == 401
    locked = login(client, "agent-nice", "wrong password")
    assert "compte verrouillé" in locked.text
    assert "compte verrouillé" in login(client, "agent-nice", PASSWORD).text  # right password, still locked
    assert [e.kind for e in hub.store.journal.recent(kinds=("login-locked",))] == ["login-locked"]
    clock.advance(LOCK_S + 1)
    assert login(client, "agent-nice", PASSWORD).status_code == 303


def test_auth_sign_out_ends_the_session(client: TestClient) -> None:
    login(client, "admin")
    response = post_form(client, "/", "/deconnexion")
    assert response.status_code == 303 and response.headers["location"] == "/connexion"
    assert "Vous êtes déconnecté" in client.get("/connexion").text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_auth_sign_out_without_csrf_token_is_refused(client: TestClient) -> None:
    login(client, "admin")
    assert client.post("/deconnexion", data={"csrf": "forged"}).status_code == 403
    assert client.get("/").status_code == 200


def test_auth_forged_or_damaged_cookie_is_no_session(client: TestClient) -> None:
    login(client, "admin")
    value = client.cookies[COOKIE]
    client.cookies.clear()
    client.cookies.set(COOKIE, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_auth_disabled_account_loses_its_session_at_once(client: TestClient, hub: Hub) -> None:
    login(client, "agent-nice")
    assert client.get("/").status_code == 200
    hub.store.users.set_disabled("agent-nice", True)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_auth_state_change_with_a_wrong_csrf_token_is_refused(
    client: TestClient, hub: Hub, seeded: Seeded
) -> None:
    dossier_id = seeded.nice[0]
    login(client, "agent-nice")
    response = client.post(
        f"/dossiers/{dossier_id}/statut", data={"csrf": "forged", "code": "16"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "jeton de formulaire" in response.text
    assert hub.store.dossiers.get(dossier_id, None).status == 14


def test_auth_csrf_token_of_another_session_is_refused(
    client: TestClient, app: FastAPI, seeded: Seeded
) -> None:
    other = TestClient(app, headers={"Accept": "text/html"})
    login(other, "agent-nice")
    foreign = csrf_of(other.get("/").text)
    login(client, "agent-nice")
    response = client.post(
        f"/dossiers/{seeded.nice[0]}/statut", data={"csrf": foreign, "code": "16"}, follow_redirects=False
    )
    assert response.status_code == 403


def test_auth_reader_cannot_change_a_status(client: TestClient, hub: Hub, seeded: Seeded) -> None:
    dossier_id = seeded.nice[0]
    login(client, "lecteur-nice")
    page = client.get(f"/dossiers/{dossier_id}")
    assert "consultation seulement" in page.text and 'action="/dossiers/' not in page.text
    response = client.post(
        f"/dossiers/{dossier_id}/statut",
        data={"csrf": csrf_of(page.text), "code": "16"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert hub.store.dossiers.get(dossier_id, None).status == 14


def test_auth_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/connexion")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_auth_api_keeps_its_problem_details(client: TestClient) -> None:
    response = client.get("/api/v1/dossiers")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert COOKIE not in response.headers.get("set-cookie", "")


def test_auth_secret_key_is_generated_once_with_mode_0600(client: TestClient, hub: Hub) -> None:
    login(client, "admin")
    path = Path(hub.config.data_dir) / "secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    client.get("/")
    assert path.read_text() == first and len(first.strip()) >= 32


@pytest.mark.parametrize("path", ["/", "/dossiers", "/connecteurs", "/erreurs"])
def test_auth_every_page_needs_a_session(client: TestClient, path: str) -> None:
    assert client.get(path, follow_redirects=False).status_code == 303


def test_auth_session_expires_when_idle_or_too_old() -> None:
    from aiguilleur.web.session import SessionMiddleware

    now = [1_000_000.0]
    middleware = SessionMiddleware(
        lambda *_: None, lambda: b"k" * 32, idle_s=60, max_s=3600, now=lambda: now[0]
    )  # type: ignore[arg-type]
    cookie = middleware.serializer().dumps({"uid": 1, "since": int(now[0])})
    assert middleware._load(cookie)["uid"] == 1
    now[0] += 3601  # signed long ago by the sign-in: too old whatever the activity
    assert middleware._load(cookie) == {}
    assert middleware._load(cookie + "x") == {}
