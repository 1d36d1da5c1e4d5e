"""Run the xlform command from a checkout: `python cli.py --help` (same as `xlform --help`)."""

from xlform.cli import main, run

__all__ = ["main", "run"]

if __name__ == "__main__":
    run()
