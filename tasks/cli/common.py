"""What every command shares: the consoles and the argument types used everywhere."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

console = Console()
#: Messages of commands whose output may be piped (an export on stdout).
notices = Console(stderr=True)

Org = Annotated[str, typer.Argument(help="The organization")]
OrgOption = Annotated[str | None, typer.Option("--org", help="Only this organization")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON")]
