"""``python -m cislearn`` runs the command-line interface."""

from cislearn.cli.main import run

if __name__ == "__main__":
    run()
