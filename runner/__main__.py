"""``python -m runner``: the same command line as the ``runner`` script.

Imports the CLI.
"""

from runner.cli import main

if __name__ == "__main__":
    main()
