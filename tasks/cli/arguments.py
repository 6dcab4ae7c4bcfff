"""The command line's first check: no argument Postgres cannot store (a NUL, bytes that are not
UTF-8), refused by the name of the argument before any command runs."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from accounting_impact_client.values import storable

#: Where the root group leaves the command line's arguments for its callback.
RAW_ARGUMENTS = "accounting.arguments"


class CheckedArguments(TyperGroup):
    """The root group of ``accounting``: refuses an unstorable argument, naming it."""

    def invoke(self, ctx: Any) -> Any:
        raw = [*getattr(ctx, "_protected_args", []), *ctx.args]
        for index, value in enumerate(raw):
            if not storable(value):
                raise typer.BadParameter(
                    "must not contain NUL characters or bytes that are not UTF-8",
                    param_hint=_name_of(self, ctx, raw, index),
                )
        # Click hands the group's callback no arguments: it reads them here (see sandbox).
        ctx.meta[RAW_ARGUMENTS] = tuple(raw)
        return super().invoke(ctx)


def _name_of(group: Any, ctx: Any, raw: list[str], index: int) -> str:
    """The option or argument ``raw[index]`` is the value of, as --help shows it."""
    command, position = group, 0
    while hasattr(command, "commands") and position < len(raw):
        found = command.get_command(ctx, raw[position])
        if found is None:
            return f"argument {index + 1}"
        command, position = found, position + 1
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if raw[index].startswith("--") and "=" in raw[index]:
        return f"'{raw[index].split('=', 1)[0]}'"
    taken = 0
    while position < index:
        token = raw[position]
        option = next((p for p in command.params if token in getattr(p, "opts", ())), None)
        if option is not None and not getattr(option, "is_flag", False):
            if position + 1 == index:
                return f"'{token}'"
            position += 1  # the option's value
        elif not token.startswith("-"):
            taken += 1
        position += 1
    if taken < len(arguments):
        return f"'{str(arguments[taken].name).upper()}'"
    return f"argument {index + 1}"
