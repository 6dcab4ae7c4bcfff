"""``python -m tasks.cli``: the ``accounting`` command."""

from tasks.cli import main

main()
