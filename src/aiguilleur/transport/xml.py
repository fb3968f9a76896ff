"""Hardened XML parsing (no DTD, no entity, bounded size) and a generic XML to JSON-able conversion."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import etree

from aiguilleur.errors import RejectedItemError

# A DOCTYPE (and the <!ENTITY declarations it holds) can only come in the prolog, before the root element
# (XML 1.0 §2.8): look there only, so that "<!DOCTYPE html>" inside a CDATA section stays acceptable.
_PROLOG_DOCTYPE = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*+<!DOCTYPE", re.DOTALL)


def parse_xml(data: bytes | Path, *, max_bytes: int = 50 * 1024**2, source: str = "") -> etree._Element:
    """Parse untrusted XML and return its root element.

    `source` names the item in messages (default: the file name for a Path). Raises RejectedItemError
    when the input exceeds `max_bytes` (a file is measured before it is read), is not well-formed XML
    (the message gives the line and lxml's reason), or has a DOCTYPE at all: DTDs and entities are
    refused, so nothing is ever expanded (billion laughs) nor fetched (external entities).
    """
    if isinstance(data, Path):
        source = source or data.name
        if data.stat().st_size > max_bytes:
            raise RejectedItemError(f"{source} : XML trop volumineux (plus de {max_bytes} octets)")
        with data.open("rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since stat()
    source = source or "XML"
    if len(data) > max_bytes:
        raise RejectedItemError(f"{source} : XML trop volumineux (plus de {max_bytes} octets)")
    refused = RejectedItemError(f"{source} : les DTD et entités XML sont refusées")
    if _PROLOG_DOCTYPE.match(data):  # ASCII-compatible encodings; UTF-16 is caught after parsing
        raise refused
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise RejectedItemError(f"{source} : XML invalide, ligne {exc.lineno} : {exc.msg}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:  # any DOCTYPE creates one
        raise refused
    return root


def localname(element: etree._Element) -> str:
    """The tag without its namespace (``{urn:x}Acte`` -> ``Acte``); ``""`` for comments and PIs."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def find_text(element: etree._Element, *path: str) -> str | None:
    """Text of the first descendant reached through children with these local names, any namespace.

    Searches like the XPath ``*[local-name()=a]/*[local-name()=b]`` in document order; with no path,
    the element itself. Returns the stripped text, or None when there is no such element or its text
    is empty.
    """
    if not path:
        text = (element.text or "").strip()
        return text or None
    for child in element:
        if localname(child) == path[0]:
            found = find_text(child, *path[1:])
            if found is not None:
                return found
    return None


def xml_to_dict(element: etree._Element) -> dict[str, Any]:
    """Convert an element to JSON-able data keyed by its local name: ``{"Root": {...}}``.

    Namespaces are dropped from tags and attribute names. Attributes become ``"@name"`` keys; children
    become keys by local name, a list when the name repeats (document order); the text goes under
    ``"#text"`` when there are attributes or children too. A leaf with only text becomes the stripped
    string, an empty leaf None. Comments and processing instructions are ignored.
    """
    return {localname(element): _convert(element)}


def _convert(element: etree._Element) -> Any:
    result: dict[str, Any] = {f"@{_local(name)}": value for name, value in element.attrib.items()}
    texts = [element.text or ""]
    for child in element:
        texts.append(child.tail or "")
        if not isinstance(child.tag, str):  # comment or processing instruction
            continue
        key, value = localname(child), _convert(child)
        if key not in result:
            result[key] = value
        elif isinstance(result[key], list):  # a converted child is never a list: this one is ours
            result[key].append(value)
        else:
            result[key] = [result[key], value]
    text = "".join(texts).strip()
    if not result:
        return text or None
    if text:
        result["#text"] = text
    return result


def _local(name: str | bytes) -> str:
    text = name.decode() if isinstance(name, bytes) else name
    return text.rpartition("}")[2]
