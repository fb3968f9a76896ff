"""Fault switches of the portal's SFTP server, flipped by tests while the server runs.

The server reads them on every request, so a change takes effect on the next connection or operation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SftpFaults:
    """What the SFTP server does wrong, on purpose.

    - `refuse_auth`: every public key is refused (an account locked or keys rotated on the portal side);
    - `drop_after_ops`: each SFTP session is cut (TCP connection aborted) at its operation number
      ``drop_after_ops + 1`` (open, read, write, stat, listing, rename, remove… each count as one);
    - `read_delay_s`: every read request waits this long before answering (a slow link).

    `drops` counts the connections cut so far.
    """

    refuse_auth: bool = False
    drop_after_ops: int | None = None
    read_delay_s: float = 0.0
    drops: int = 0

    def clear(self) -> None:
        """Back to a well-behaved server (`drops` is kept)."""
        self.refuse_auth = False
        self.drop_after_ops = None
        self.read_delay_s = 0.0
