"""mdel.names: demand zip names are read from the right; return names are built the seed's way."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiguilleur.connectors.mdel.names import FLOW_TYPES, DemandName, parse_demand_name, return_zip_name
from aiguilleur.errors import RejectedItemError

EXPECTED = "nom de fichier non conforme : attendu <Numéro>-<Flux>-<n>.zip"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("A-1-N8F602RR-RCO-LA-1.zip", DemandName("A-1-N8F602RR", "RCO-LA", 1), id="rco"),
        pytest.param("A-9-X3UGO4V7-AEC-LA-2.zip", DemandName("A-9-X3UGO4V7", "AEC-LA", 2), id="aec"),
        pytest.param("A-0-12SVIZTIW-ILE-LA-13.zip", DemandName("A-0-12SVIZTIW", "ILE-LA", 13), id="ile"),
        pytest.param("A-2-IJO924A-RCO-LA-0.ZIP", DemandName("A-2-IJO924A", "RCO-LA", 0), id="upper-suffix"),
        pytest.param("DOSSIER42-AEC-LA-7.zip", DemandName("DOSSIER42", "AEC-LA", 7), id="other-id-shape"),
        # A number that itself ends like a flow type is still split at the last flow type.
        pytest.param("A-1-RCO-LA-AEC-LA-3.zip", DemandName("A-1-RCO-LA", "AEC-LA", 3), id="flow-in-number"),
    ],
)
def test_parse_demand_name(name: str, expected: DemandName) -> None:
    assert parse_demand_name(name) == expected


def test_zip_name_rebuilds_the_canonical_name() -> None:
    assert parse_demand_name("A-1-N8F602RR-RCO-LA-2.zip").zip_name == "A-1-N8F602RR-RCO-LA-2.zip"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("A-1-N8F602RR-RCO-LA.zip", id="no-index"),
        pytest.param("A-1-N8F602RR-RCO-LA-1.tar", id="not-zip"),
        pytest.param("A-1-N8F602RR-RCO-LA-1", id="no-suffix"),
        pytest.param("A-1-N8F602RR-RCO-LA--1.zip", id="double-dash"),
        pytest.param("A-1-N8F602RR-RCO-LA-x.zip", id="index-not-digits"),
        pytest.param("A-1-N8F602RR-RCO-LA-².zip", id="index-superscript"),
        pytest.param("A-1-N8F602RR-RCO-LA-1234567890.zip", id="index-too-long"),
        pytest.param("RCO-LA-1.zip", id="no-number"),
        pytest.param("-RCO-LA-1.zip", id="empty-number"),
        pytest.param("../A-1-N8F602RR-RCO-LA-1.zip", id="path"),
        pytest.param("A 1 N8F602RR-RCO-LA-1.zip", id="space"),
        pytest.param("A-1-N8F602RÉ-RCO-LA-1.zip", id="non-ascii"),
        pytest.param("A--1-RCO-LA-1.zip", id="empty-segment"),
        pytest.param("A-1-N8F602RR-rco-la-1.zip", id="lower-case-flow"),
        pytest.param(
            "RitaGS.2019-04-03T16_26_40.674661355.A-9-X3UGO4V7-AEC-LA-2.ADER.ftp.zip", id="prefixed"
        ),
        pytest.param(f"{'A' * 65}-RCO-LA-1.zip", id="number-too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_demand_name_refuses(name: str) -> None:
    with pytest.raises(RejectedItemError, match="nom de fichier non conforme") as caught:
        parse_demand_name(name)
    assert EXPECTED in str(caught.value)
    assert str(caught.value).startswith(f"{name} : ")


def test_unknown_flow_is_named() -> None:
    with pytest.raises(RejectedItemError) as caught:
        parse_demand_name("A-9-X3UGO4V7-DAUA-LA-2.zip")
    message = str(caught.value)
    assert "flux « DAUA-LA » inconnu" in message
    assert all(flow in message for flow in FLOW_TYPES)


def test_flow_types_have_french_labels() -> None:
    assert dict(FLOW_TYPES) == {
        "RCO-LA": "recensement citoyen",
        "AEC-LA": "actes d'état civil",
        "ILE-LA": "inscription sur les listes électorales",
    }
    with pytest.raises(TypeError):
        FLOW_TYPES["X-LA"] = "x"  # type: ignore[index]


def test_return_zip_name() -> None:
    assert return_zip_name("A-1-N8F602RR", "RCO-LA", 3) == "A-1-N8F602RR-RCO-LA-3.zip"


@pytest.mark.parametrize(
    ("numero", "flow_type", "increment"),
    [
        pytest.param("../x", "RCO-LA", 1, id="unsafe-number"),
        pytest.param("A-1-X", "DAUA", 1, id="unknown-flow"),
        pytest.param("A-1-X", "RCO-LA", -1, id="negative"),
        pytest.param("A-1-X", "RCO-LA", True, id="bool"),
    ],
)
def test_return_zip_name_refuses_bad_values(numero: str, flow_type: str, increment: int) -> None:
    with pytest.raises(ValueError):
        return_zip_name(numero, flow_type, increment)


_SEGMENT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8
)


@given(
    numero=st.lists(_SEGMENT, min_size=1, max_size=5).map("-".join).filter(lambda n: len(n) <= 64),
    flow_type=st.sampled_from(sorted(FLOW_TYPES)),
    increment=st.integers(min_value=0, max_value=999_999_999),
)
def test_return_names_parse_back(numero: str, flow_type: str, increment: int) -> None:
    parsed = parse_demand_name(return_zip_name(numero, flow_type, increment))
    assert parsed == DemandName(numero, flow_type, increment)
