"""Each fault switch of the fake HubEE, and that the platform is well-behaved again afterwards."""

from __future__ import annotations

import base64
import gzip
import hashlib

import httpx
import pytest

from aiguilleur.fakes.hubee import FakeHubee
from tests.fakes.hubee.conftest import Api, Sleeps

NOTIFICATIONS = "/teledossiers/v1/notifications"


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_fail_next_answers_server_errors_then_recovers(hubee: FakeHubee, si: Api, status: int) -> None:
    si.login()
    hubee.fail_next(NOTIFICATIONS, status, times=2)
    assert [si.get("/notifications").status_code for _ in range(3)] == [status, status, 200]
    assert hubee.faults.failures_served == 2


def test_fail_next_503_may_carry_retry_after(hubee: FakeHubee, si: Api) -> None:
    si.login()
    hubee.fail_next(NOTIFICATIONS, 503, retry_after_s=30)
    assert si.get("/notifications").headers["Retry-After"] == "30"


def test_fail_next_429_is_throttling_with_retry_after(hubee: FakeHubee, si: Api) -> None:
    si.login()
    hubee.fail_next(NOTIFICATIONS, 429)
    response = si.get("/notifications")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["fault"]["code"] == 900802


def test_fail_next_changes_nothing(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    [note] = si.notifications()
    hubee.faults.fail_next("/teledossiers/v1/notifications/", 500, method="DELETE")
    assert si.delete(f"/notifications/{note['id']}").status_code == 500
    assert [n["caseId"] for n in si.notifications()] == [case.id]  # the GET was not affected


def test_fail_next_on_the_token_endpoint(hubee: FakeHubee, si: Api) -> None:
    hubee.fail_next("/oauth2/token", 503)
    assert si.fetch_token().status_code == 503
    assert si.fetch_token().status_code == 200


def test_slow_answers_go_through_the_sleep_hook(hubee: FakeHubee, si: Api, sleeps: Sleeps) -> None:
    si.login()
    hubee.faults.slow(NOTIFICATIONS, 12.5, times=2)
    for _ in range(3):
        assert si.get("/notifications").status_code == 200
    assert sleeps.delays == [12.5, 12.5]


def test_a_slow_hook_can_model_a_client_timeout(clock: object) -> None:
    def timeout(delay_s: float) -> None:
        raise httpx.ReadTimeout(f"no answer within {delay_s}s")

    world = FakeHubee(sleep=timeout)
    sub = world.add_subscription("EtatCivil")
    world.faults.slow(NOTIFICATIONS, 60.0, times=1)
    with httpx.Client(transport=httpx.MockTransport(world), base_url="https://x") as client:
        api = Api(client, sub).login()
        with pytest.raises(httpx.ReadTimeout):
            api.get("/notifications")
        assert api.get("/notifications").status_code == 200


def test_expire_tokens_now(hubee: FakeHubee, si: Api) -> None:
    si.login()
    assert si.get("/notifications").status_code == 200
    hubee.faults.expire_tokens()
    response = si.get("/notifications")
    assert response.status_code == 401
    assert response.json()["fault"]["code"] == 900901
    assert si.login().get("/notifications").status_code == 200


def test_duplicate_notifications(hubee: FakeHubee, si: Api) -> None:
    first, second = hubee.seed_one(), hubee.seed_one()
    hubee.faults.duplicate_notifications = True
    batch = si.notifications()
    assert [n["caseId"] for n in batch] == [first.id, first.id, second.id, second.id]
    assert si.delete(f"/notifications/{batch[0]['id']}").status_code == 204
    assert si.delete(f"/notifications/{batch[1]['id']}").status_code == 404  # the twin is gone too
    assert len(si.notifications(maxResult=1)) == 1  # still bounded by maxResult


def test_shuffled_notifications(hubee: FakeHubee, si: Api) -> None:
    cases = [hubee.seed_one().id for _ in range(20)]
    hubee.faults.shuffle_notifications = True
    batches = [[n["caseId"] for n in si.notifications(maxResult=100)] for _ in range(3)]
    assert all(sorted(b) == sorted(cases) for b in batches)
    assert any(b != cases for b in batches)
    hubee.faults.clear()
    assert [n["caseId"] for n in si.notifications(maxResult=100)] == cases


@pytest.mark.parametrize("kind", ["flip", "truncate", "digest"])
def test_digest_mismatch_on_a_download(hubee: FakeHubee, si: Api, kind: str) -> None:
    case = hubee.seed_one()
    att = case.attachments[0]
    url = f"/cases/{case.id}/attachments/{att.id}"
    hubee.faults.corrupt_next_download(att.id, kind)  # type: ignore[arg-type]
    bad = si.get(url)
    assert bad.status_code == 200
    assert bad.headers["digest"] != b64sha(bad.content)
    good = si.get(url)
    assert good.headers["digest"] == b64sha(good.content)
    assert len(good.content) == att.size


def test_corruption_of_any_attachment(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    hubee.faults.corrupt_next_download(times=2)
    for att in case.attachments:
        response = si.get(f"/cases/{case.id}/attachments/{att.id}")
        assert response.headers["digest"] != b64sha(response.content)
    assert hubee.faults.corruptions_served == 2


def test_purged_attachment_is_not_found(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    att = case.attachments[0]
    hubee.faults.purge(att.id)
    response = si.get(f"/cases/{case.id}/attachments/{att.id}")
    assert response.json() == {"errors": [{"code": 404, "message": "File is not found"}]}
    statuses = [a["status"] for a in si.get(f"/cases/{case.id}").json()["attachments"]]
    assert statuses == ["DELETED", "RECEIVED"]


def test_binaries_are_purged_once_the_case_reaches_the_status(hubee: FakeHubee, si: Api) -> None:
    hubee.faults.purge_on_status = "IN_PROGRESS"
    case = hubee.seed_one()
    att = case.attachments[0]
    url = f"/cases/{case.id}/attachments/{att.id}"
    si.status_event(case.id, "SI_RECEIVED")
    assert si.get(url).status_code == 200  # still before statusBeforeFileDeletion
    si.status_event(case.id, "IN_PROGRESS")
    assert si.get(url).status_code == 404
    assert {a["status"] for a in si.get(f"/cases/{case.id}").json()["attachments"]} == {"DELETED"}


def test_gzip_responses(hubee: FakeHubee, si: Api) -> None:
    hubee.seed_one()
    hubee.faults.gzip_responses = True
    si.login()
    raw = hubee(httpx.Request("GET", "https://x" + NOTIFICATIONS, headers=si.headers()))
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(b"".join(raw.iter_raw())).startswith(b"[")
    assert len(si.notifications()) == 1  # httpx decodes it


def test_clear_restores_a_well_behaved_platform(hubee: FakeHubee, si: Api, sleeps: Sleeps) -> None:
    si.login()
    hubee.fail_next(NOTIFICATIONS, 500, times=5)
    hubee.faults.slow(NOTIFICATIONS, 3.0)
    hubee.faults.duplicate_notifications = True
    hubee.faults.clear()
    hubee.seed_one()
    assert len(si.notifications()) == 1
    assert sleeps.delays == []
