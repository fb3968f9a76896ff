"""The agents' dashboard: server-rendered French pages on the API's application (``mount_dashboard``)."""

from aiguilleur.web.app import mount_dashboard

__all__ = ["mount_dashboard"]
