"""Tests of the MDEL channel: names, message.xml and -ent.xml, business XML, returns."""
