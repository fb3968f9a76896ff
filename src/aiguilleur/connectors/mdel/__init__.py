"""The MDEL channel: service-public.fr "Ma démarche en ligne" demand zips in, return zips out (seed 002).

``names`` parses and builds zip names, ``wire`` reads ``message.xml`` and ``…-ent.xml`` and checks a
demand against its zip, ``flows`` extracts the key fields of each flow's business XML, ``returns``
writes the return ``message.xml`` and zip. These modules are pure: no directory, store or SFTP.
"""

from aiguilleur.connectors.mdel.config import MdelConfig
from aiguilleur.connectors.mdel.connector import MdelChannel

__all__ = ["MdelChannel", "MdelConfig"]
