"""Tests of the connectors, one package per peer (STYLE.md "Layout")."""
