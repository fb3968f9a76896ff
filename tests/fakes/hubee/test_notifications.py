"""The notification queue: redelivery until DELETE, eventDetails, filters, batch size, who sees what."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from aiguilleur.fakes.hubee import DEFAULT_SUBSCRIBER, FakeHubee, Subscription
from tests.conftest import Clock
from tests.fakes.hubee.conftest import CANNES, Api


def test_empty_queue_lists_nothing(si: Api) -> None:
    assert si.notifications() == []


def test_a_new_case_is_notified_with_a_null_event(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    [note] = si.notifications()
    assert note["caseId"] == case.id
    assert note["eventId"] is None
    assert note["processCode"] == "EtatCivil"
    assert note["recipient"] == {"type": "SI", "companyRegister": "21060088800015", "branchCode": "06088"}
    assert note["transmitter"]["type"] == "OSL"
    assert "eventStatus" not in note  # only with eventDetails=true


def test_notifications_are_redelivered_until_deleted(hubee: FakeHubee, si: Api) -> None:
    hubee.seed_one()
    first = si.notifications()
    assert si.notifications() == first
    assert si.notifications() == first
    assert si.delete(f"/notifications/{first[0]['id']}").status_code == 204
    assert si.notifications() == []


def test_max_result_bounds_the_batch_and_defaults_to_25(hubee: FakeHubee, si: Api) -> None:
    for _ in range(30):
        hubee.seed_one()
    assert len(si.notifications()) == 25
    assert len(si.notifications(maxResult=10)) == 10
    assert len(si.notifications(maxResult=100)) == 30


def test_batches_come_in_creation_order(hubee: FakeHubee, si: Api) -> None:
    cases = [hubee.seed_one().id for _ in range(5)]
    assert [n["caseId"] for n in si.notifications()] == cases


def test_max_result_must_be_a_number(si: Api) -> None:
    response = si.get("/notifications", params={"maxResult": "dix"})
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert message.startswith(
        "Bad Request : Validation failed.\n[ERROR][REQUEST][GET /teledossiers/v1/notifications"
    )
    assert "@query.maxResult" in message


def test_event_details_embed_the_live_event_status(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    event = hubee.osl_event(case.id, "SENDING_MESSAGE", message="Merci de compléter")
    [_, note] = si.notifications(eventDetails="true")
    assert (note["eventId"], note["eventActionType"], note["eventStatus"]) == (
        event.id,
        "SENDING_MESSAGE",
        "SENT",
    )
    assert si.patch(f"/cases/{case.id}/events/{event.id}", json={"status": "RECEIVED"}).status_code == 204
    [_, again] = si.notifications(eventDetails="true")
    assert again["eventStatus"] == "RECEIVED"  # the same notification, its event has moved on


def test_own_events_come_back_as_received_once_the_sender_acknowledges(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    [new] = si.notifications()
    si.delete(f"/notifications/{new['id']}")
    event_id = si.status_event(case.id, "SI_RECEIVED").json()["id"]
    assert si.notifications() == []  # the event notifies the sender, not us
    assert [e.id for e in hubee.osl_acknowledge(case.id)] == [event_id]
    [echo] = si.notifications(eventDetails="true")
    assert (echo["eventId"], echo["eventStatus"], echo["transmitter"]["type"]) == (
        event_id,
        "RECEIVED",
        "OSL",
    )


def test_an_event_with_notification_false_notifies_nobody(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    assert si.status_event(case.id, "SI_RECEIVED", notification=False).status_code == 201
    hubee.osl_acknowledge(case.id)
    assert [n["eventId"] for n in si.notifications()] == [None]


def test_process_code_filter_and_priority(
    hubee: FakeHubee, si: Api, api_for: Callable[[Subscription], Api]
) -> None:
    hubee.add_subscription("recensementCitoyen")
    rco = hubee.seed_sample("RECENSEMENTCITOYEN")
    aec = hubee.seed_sample("ETATCIVIL")
    assert [n["caseId"] for n in si.notifications()] == [rco.id, aec.id]  # one queue per organisation
    assert [n["caseId"] for n in si.notifications(processCode="EtatCivil")] == [aec.id]
    assert [n["caseId"] for n in si.notifications(processPriority="EtatCivil")] == [aec.id, rco.id]


def test_a_credential_sees_its_organisation_queue_but_not_foreign_cases(
    hubee: FakeHubee, si: Api, api_for: Callable[[Subscription], Api]
) -> None:
    hubee.add_subscription("recensementCitoyen")
    rco = hubee.seed_sample("RECENSEMENTCITOYEN")
    [note] = si.notifications()
    assert note["processCode"] == "recensementCitoyen"
    assert si.get(f"/cases/{rco.id}").status_code == 403  # token of another démarche


def test_queue_per_credential_hides_other_demarches(clock: Clock) -> None:
    world = FakeHubee(now=clock, queue_per_credential=True)
    sub = world.add_subscription("EtatCivil")
    world.add_subscription("recensementCitoyen")
    world.create_teledossier("recensementCitoyen", [], short_code="RCO")
    aec = world.seed_one()
    with httpx.Client(transport=httpx.MockTransport(world), base_url="https://x") as client:
        assert [n["caseId"] for n in Api(client, sub).notifications()] == [aec.id]


def test_other_organisations_never_see_the_notification(
    hubee: FakeHubee, si: Api, api_for: Callable[[Subscription], Api]
) -> None:
    cannes = api_for(hubee.add_subscription("EtatCivil", CANNES))
    case = hubee.seed_one(recipient=DEFAULT_SUBSCRIBER)
    [note] = si.notifications()
    assert cannes.notifications() == []
    assert cannes.delete(f"/notifications/{note['id']}").status_code == 403
    assert cannes.get(f"/cases/{case.id}").status_code == 403
    assert len(si.notifications()) == 1


@pytest.mark.parametrize(
    ("notification_id", "status"),
    [
        pytest.param("dddddd", 400, id="not-a-uuid"),
        pytest.param("00000000-0000-4000-8000-000000000000", 404, id="unknown"),
    ],
)
def test_delete_notification_errors(si: Api, notification_id: str, status: int) -> None:
    response = si.delete(f"/notifications/{notification_id}")
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == status


def test_delete_of_unknown_notification_says_so(si: Api) -> None:
    response = si.delete("/notifications/00000000-0000-4000-8000-000000000000")
    assert response.json() == {"errors": [{"code": 404, "message": "Notification is not found"}]}
