"""The ``redstar`` group: errors a user can act on become one clean line."""

from __future__ import annotations

import errno
from typing import Any

import click

from redstar.errors import RedStarError

#: Errors of the machine rather than of RedStar: a full disk, a folder the user may not write.
#: They become one line naming the file; any other OSError is a bug and keeps its traceback.
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG,
                      errno.EISDIR, errno.ENOTDIR, errno.EMFILE}


def environment_message(exc: OSError) -> str:
    # A write to an open file (a full disk) carries no file name; opening or creating one does.
    message = f"cannot write {exc.filename}: {exc.strerror or exc}" if exc.filename else f"a write failed: {exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        message += " (free some space and run the same command again: a run resumes where it stopped)"
    return message


class DebugAwareGroup(click.Group):
    """Turns RedStar's user errors, and a full disk or a folder that cannot be written, into clean
    messages (exit 1); ``--debug`` shows tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RedStarError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            if exc.errno not in ENVIRONMENT_ERRNOS or (ctx.obj and ctx.obj.get("debug")):
                raise
            raise click.ClickException(environment_message(exc)) from None
