"""One router per resource, included by ``aiguilleur.api.app.create_app``."""
