"""Fake "Ma démarche en ligne" (service-public.fr) portal: the peer of the ``mdel`` channel.

It makes realistic demand zips for RCO-LA, AEC-LA and ILE-LA (message.xml, -ent, -doc XML, cerfa and
attachment PDFs) and broken ones, serves them over SFTP, and collects and checks the return zips the
commune sends back. Written from the protocol (seed 002 and the research notes), it imports nothing from
the hub's connectors, store or engine.

    portal = MdelPortal(seed=1)
    portal.write_demands(server.depot_dir, 10, insee="06088")
    ...                                            # the hub imports them and answers
    portal.collect_returns(server.retours_dir)
    assert portal.statuses(numero) == [14, 16, 19, 100] and portal.problems == []
"""

from aiguilleur.fakes.mdel_portal.broken import BROKEN_KINDS
from aiguilleur.fakes.mdel_portal.checker import STATUSES, ReturnRejected, ReturnSeen, check_return
from aiguilleur.fakes.mdel_portal.demand import Demand, DemandHeader
from aiguilleur.fakes.mdel_portal.envelope import METIER_NS, PEC_NS
from aiguilleur.fakes.mdel_portal.faults import SftpFaults
from aiguilleur.fakes.mdel_portal.payloads import FLOWS
from aiguilleur.fakes.mdel_portal.pdf import make_pdf
from aiguilleur.fakes.mdel_portal.server import SftpPortalServer, serve_forever
from aiguilleur.fakes.mdel_portal.world import MdelPortal

__all__ = [
    "BROKEN_KINDS",
    "FLOWS",
    "METIER_NS",
    "PEC_NS",
    "STATUSES",
    "Demand",
    "DemandHeader",
    "MdelPortal",
    "ReturnRejected",
    "ReturnSeen",
    "SftpFaults",
    "SftpPortalServer",
    "check_return",
    "make_pdf",
    "serve_forever",
]
