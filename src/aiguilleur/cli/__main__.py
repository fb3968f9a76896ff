"""``python -m aiguilleur.cli``."""

from aiguilleur.cli.app import main

main()
