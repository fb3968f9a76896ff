"""The sample télédossiers of DINUM's "valise générique" (``shared/data/hubee/jdd/``): one folder per
démarche, an XML business file and PDFs.

Folder → processCode and file → attachment ``type`` follow research/hubee.md §10-§11: the type is the
file's stem (``ActeEtatCivil-XML``, ``10870-PDF``, ``flux-pacs``), or for DILA's generated names
``A-1-<ref>-<processCode>-[doc-]<type>-<n>[-<m>].<ext>`` the ``<type>`` part (``jf``, ``an``,
``12819-PDF``…). The two files of JeChangeDeCoordonnees share the type ``flux-siv``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from aiguilleur.fakes.hubee.model import Applicant

ENV_SAMPLES = "AIGUILLEUR_HUBEE_JDD"

_DILA_NAME = re.compile(
    r"^A-\d-(?P<ref>[A-Z0-9]+)-(?P<process>.+?)-(?:doc-)?(?P<type>[^-]+(?:-PDF)?)-\d+(?:-\d+)?$"
)
_MIME_BY_SUFFIX = {
    ".xml": "application/xml",
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".txt": "text/plain",
}


@dataclass(frozen=True, slots=True)
class SampleDemarche:
    """A sample folder's démarche: its processCode, the short code used in externalIds, and the
    applicant named in its XML (HubEE carries the applicant beside the files)."""

    process_code: str
    short_code: str
    applicant: Applicant


SAMPLE_DEMARCHES: dict[str, SampleDemarche] = {
    "ETATCIVIL": SampleDemarche(
        "EtatCivil", "AEC", Applicant("Angela Claire Louise", "L'heritier", "wossewodda-3728@yopmail.com")
    ),
    "RECENSEMENTCITOYEN": SampleDemarche(
        "recensementCitoyen", "RCO", Applicant("ALAIN", "BUREAU", "Test.GT07@yopmail.com")
    ),
    "DEPOTDOSSIERPACS": SampleDemarche(
        "depotDossierPACS", "DDPACS", Applicant("TEST", "TEST", "test123456@yopmail.com")
    ),
    "JECHANGEDECOORDONNEES": SampleDemarche(
        "JeChangeDeCoordonnees",
        "JCC",
        Applicant("Angela Claire Louise", "L'heritier", "wossewodda-3728@yopmail.com"),
    ),
    "certificat-non-pacs": SampleDemarche(
        "certificat-non-pacs",
        "CNPACS",
        Applicant("Francoise", "DJODOM MOTCHEHO", "pacs.scec@diplomatie.gouv.fr"),
    ),
}


@dataclass(frozen=True, slots=True)
class SampleFile:
    path: Path
    file_name: str
    type: str
    mime_type: str


def mime_type_of(name: str) -> str:
    return _MIME_BY_SUFFIX.get(Path(name).suffix.lower(), "application/octet-stream")


def attachment_type_of(name: str) -> str:
    """``A-1-N8F602RR-recensementCitoyen-jf-1.pdf`` → ``jf``; ``10870-XML.xml`` → ``10870-XML``."""
    stem = Path(name).stem
    match = _DILA_NAME.match(stem)
    if match:
        return match["type"]
    if stem.startswith("flux-siv"):
        return "flux-siv"
    return stem


def demarche_of(folder_name: str) -> SampleDemarche | None:
    """The démarche of a sample folder, by folder name or processCode (case-insensitive)."""
    wanted = folder_name.casefold()
    for name, demarche in SAMPLE_DEMARCHES.items():
        if wanted in (name.casefold(), demarche.process_code.casefold()):
            return demarche
    return None


def sample_files(folder: Path) -> list[SampleFile]:
    """The files of one démarche folder, XML first, then by name (no sub-folders, no hidden files)."""
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    files.sort(key=lambda p: (p.suffix.lower() != ".xml", p.name))
    return [SampleFile(p, p.name, attachment_type_of(p.name), mime_type_of(p.name)) for p in files]


def find_samples_dir() -> Path | None:
    """``$AIGUILLEUR_HUBEE_JDD``, else ``shared/data/hubee/jdd`` beside a checkout of the project."""
    configured = os.environ.get(ENV_SAMPLES)
    if configured:
        return Path(configured)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "hubee" / "jdd"
        if candidate.is_dir():
            return candidate
    return None


def sample_folders(jdd_dir: Path) -> list[tuple[Path, SampleDemarche]]:
    """Every known démarche folder under `jdd_dir`, sorted by folder name."""
    found = []
    for folder in sorted(p for p in jdd_dir.iterdir() if p.is_dir()):
        demarche = demarche_of(folder.name)
        if demarche is not None:
            found.append((folder, demarche))
    return found
