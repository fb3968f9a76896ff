"""The REST API (FastAPI): see ``aiguilleur.api.app.create_app``."""
