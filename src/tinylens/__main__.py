"""``python -m tinylens`` runs the command line (same as the ``tinylens`` script)."""

from tinylens.cli.main import main

if __name__ == "__main__":
    main()
