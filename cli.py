"""Run the xlform command from a checkout: `python cli.py --help` (same as `xlform --help`)."""

from xlform.cli import app, run

__all__ = ["app", "run"]

if __name__ == "__main__":
    run()
