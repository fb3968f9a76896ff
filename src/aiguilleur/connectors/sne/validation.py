"""Checks of a demande file before it is sent (research/sne.md §1.2), each message with its element path.

`check_demande` applies the structural rules of the interface (required skeleton, lengths, code lists,
libsne's extra checks done properly: one message per problem, all problems at once). `partial=True`
(getDoublons takes a partial demande) keeps only the root, the version and the codes present. When the
operator configured `xsd_dir` with the official XSDs, `check_xsd` validates strictly against
``InterfaceNuu_v<version>.xsd``; the official files are never shipped (research §4).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from lxml import etree

from aiguilleur.connectors.sne.errors import Problem
from aiguilleur.connectors.sne.soap import NUU
from aiguilleur.errors import ConfigError

_N = f"{{{NUU}}}"
VERSIONS = ("02.00", "02.01")
TYPES_FICHIER = ("CRE", "CRS", "MOD", "RAD", "REN", "SUP", "DIS", "RET", "COP")
TYPES_LOGEMENT = ("C", "T1", "T2", "T3", "T4", "T5", "T6P")
CIVILITES = ("1", "2", "3")
NATIONALITES = ("1", "2", "3")
SITUATIONS_FAMILIALES = ("C", "M", "D", "S", "P", "U", "V")
BOOLEANS = ("true", "false", "1", "0")
_VERSION = re.compile(r"^[0-9]{2}\.[0-9]{2}$")


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def child(self, parent: etree._Element, path: str, name: str) -> tuple[etree._Element | None, str]:
        """The required child `name`, or None after recording that it is missing."""
        found = parent.find(_N + name)
        if found is None:
            self.add(f"{path}/{name}", "élément obligatoire absent")
        return found, f"{path}/{name}"

    def text(
        self,
        parent: etree._Element,
        path: str,
        name: str,
        *,
        required: bool = True,
        max_len: int | None = None,
    ) -> str | None:
        found = parent.find(_N + name)
        where = f"{path}/{name}"
        if found is None:
            if required:
                self.add(where, "élément obligatoire absent")
            return None
        value = (found.text or "").strip()
        if max_len is not None and len(value) > max_len:
            self.add(where, f"{len(value)} caractères, {max_len} au plus")
        return value

    def code(self, element: etree._Element, path: str, allowed: tuple[str, ...] | None = None) -> None:
        value = element.get("code")
        if value is None:
            self.add(path, "attribut code obligatoire absent")
        elif allowed is not None and value not in allowed:
            self.add(path, f"code {value!r} inconnu (attendu : {', '.join(allowed)})")


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return len(value) == 10 or value[10] in "Z+-"


def parse_demande(data: bytes) -> tuple[etree._Element | None, list[Problem]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser=parser), []
    except etree.XMLSyntaxError as exc:
        return None, [Problem("/", f"XML mal formé : {exc}")]


def check_demande(data: bytes, *, partial: bool = False) -> list[Problem]:
    """Every structural problem of a demande file (empty list: it may be sent)."""
    root, problems = parse_demande(data)
    if root is None:
        return problems
    c = _Checker()
    path = "/interfaceNuu"
    if root.tag != f"{_N}interfaceNuu":
        c.add("/", f"élément racine {root.tag} au lieu de {{{NUU}}}interfaceNuu")
        return c.problems
    version = root.get("versionInterface")
    if version is None:
        c.add(f"{path}/@versionInterface", "attribut obligatoire absent")
    elif not _VERSION.match(version) or version not in VERSIONS:
        c.add(f"{path}/@versionInterface", f"version {version!r} non prise en charge ({', '.join(VERSIONS)})")
    for element in root.iter(f"{_N}typeLogement"):
        c.code(element, _path(element), TYPES_LOGEMENT)
    for element in root.iter(f"{_N}commune"):
        if (
            element.getparent() is not None
            and etree.QName(element.getparent()).localname == "localisationSouhaite"
        ):
            value = element.get("code", "")
            if not value.isdigit():
                c.add(_path(element) + "/@code", f"code commune {value!r} : chiffres attendus (code INSEE)")
    if partial:
        return c.problems
    entete, where = c.child(root, path, "entete")
    if entete is not None:
        type_fichier = c.text(entete, where, "typeFichier")
        if type_fichier is not None and type_fichier not in TYPES_FICHIER:
            c.add(f"{where}/typeFichier", f"{type_fichier!r} inconnu (attendu : {', '.join(TYPES_FICHIER)})")
        date_fichier = c.text(entete, where, "dateFichier")
        if date_fichier is not None and not _is_datetime(date_fichier):
            c.add(f"{where}/dateFichier", f"{date_fichier!r} n'est pas une date et heure (xs:dateTime)")
    demande, where = c.child(root, path, "demande")
    if demande is None:
        return c.problems
    logement, where = c.child(demande, where, "demandeLogement")
    if logement is None:
        return c.problems
    _check_logement(c, logement, where)
    return c.problems


def _check_logement(c: _Checker, logement: etree._Element, where: str) -> None:
    guichet = c.text(logement, where, "numGuichet", max_len=5)
    if guichet == "":
        c.add(f"{where}/numGuichet", "vide")
    c.text(logement, where, "numUnique", required=False, max_len=18)
    c.text(logement, where, "refInterne", required=False, max_len=18)
    created = c.text(logement, where, "dateCreationDemande")
    if created is not None and not _is_date(created):
        c.add(f"{where}/dateCreationDemande", f"{created!r} n'est pas une date (xs:date)")
    c.text(logement, where, "precision", max_len=255)
    for flag in ("forcerDoublon", "renouvellementElec"):
        value = c.text(logement, where, flag, required=False)
        if value is not None and value not in BOOLEANS:
            c.add(f"{where}/{flag}", f"{value!r} n'est pas un booléen (true/false)")
    recherche, rwhere = c.child(logement, where, "logementRecherche")
    if recherche is not None:
        c.text(recherche, rwhere, "demandeElargie")
        types, _ = c.child(recherche, rwhere, "listeTypeLogement")
        if types is not None and types.find(f"{_N}typeLogement") is None:
            c.add(f"{rwhere}/listeTypeLogement", "au moins un typeLogement attendu")
        places, _ = c.child(recherche, rwhere, "listeLocalisationSouhaite")
        if places is not None and places.find(f"{_N}localisationSouhaite") is None:
            c.add(f"{rwhere}/listeLocalisationSouhaite", "au moins une localisationSouhaite attendue")
    association = logement.find(f"{_N}association")
    personne = logement.find(f"{_N}personnePhysique")
    if association is None and personne is None:
        c.add(f"{where}/personnePhysique", "personnePhysique ou association obligatoire")
    elif association is not None and personne is not None:
        c.add(f"{where}/association", "association et personnePhysique s'excluent")
    elif association is not None:
        c.text(association, f"{where}/association", "nom")
    elif personne is not None:
        _check_personne(c, personne, f"{where}/personnePhysique")


def _check_personne(c: _Checker, personne: etree._Element, where: str) -> None:
    demandeur, dwhere = c.child(personne, where, "demandeur")
    if demandeur is not None:
        for name, allowed in (
            ("civilite", CIVILITES),
            ("nationalite", NATIONALITES),
            ("situationFamiliale", SITUATIONS_FAMILIALES),
        ):
            element, ewhere = c.child(demandeur, dwhere, name)
            if element is not None:
                c.code(element, ewhere, allowed)
        for name in ("nom", "prenom"):
            if c.text(demandeur, dwhere, name) == "":
                c.add(f"{dwhere}/{name}", "vide")
        born = c.text(demandeur, dwhere, "dateNaissance")
        if born is not None and not _is_date(born):
            c.add(f"{dwhere}/dateNaissance", f"{born!r} n'est pas une date (xs:date)")
        adresse, awhere = c.child(demandeur, dwhere, "adressePostale")
        if adresse is not None:
            c.text(adresse, awhere, "etranger")
            c.text(adresse, awhere, "voie")
    c.child(personne, where, "logementActuel")


def _path(element: etree._Element) -> str:
    names = []
    node: etree._Element | None = element
    while node is not None:
        names.append(etree.QName(node).localname)
        node = node.getparent()
    return "/" + "/".join(reversed(names))


def check_xsd(data: bytes, xsd_dir: Path) -> list[Problem]:
    """Strict validation against the operator's official XSD for the file's ``versionInterface``."""
    root, problems = parse_demande(data)
    if root is None:
        return problems
    version = (root.get("versionInterface") or "02.01").replace(".", "")
    candidates = sorted(xsd_dir.glob(f"InterfaceNuu_v{version}.xsd")) or sorted(
        xsd_dir.glob("InterfaceNuu_v*.xsd")
    )
    if not candidates:
        return [Problem("/", f"aucun schéma InterfaceNuu_v*.xsd dans {xsd_dir}")]
    schema = _schema(candidates[-1])
    if schema.validate(root):
        return []
    errors: list[etree._LogEntry] = list(schema.error_log)  # type: ignore[call-overload]
    return [Problem(e.path or "/", e.message) for e in errors]


_schemas: dict[Path, etree.XMLSchema] = {}


def _schema(path: Path) -> etree.XMLSchema:
    if path not in _schemas:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            _schemas[path] = etree.XMLSchema(etree.parse(str(path), parser=parser))
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError, OSError) as exc:
            raise ConfigError([("xsd_dir", f"schéma {path.name} inutilisable : {exc}")]) from exc
    return _schemas[path]
