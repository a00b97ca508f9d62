"""The ``redstar`` group: errors a user can act on become one clean line."""

from __future__ import annotations

import errno
import os
from typing import Any

import click

from redstar.errors import RedStarError
from redstar.faults import DEBUG_ENV, attribute

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


def debugging(ctx: click.Context) -> bool:
    """``--debug`` or ``REDSTAR_DEBUG`` set to anything but empty or 0: full tracebacks."""
    return bool(ctx.obj and ctx.obj.get("debug")) or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


class DebugAwareGroup(click.Group):
    """Turns RedStar's user errors, an exception raised in a plugin's code (named in one line:
    :func:`redstar.faults.attribute`), and a full disk or a folder that cannot be written, into
    clean messages (exit 1); ``--debug`` (or ``REDSTAR_DEBUG=1``) shows tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # a command's own message or exit, a plugin's command's included
        except RedStarError as exc:
            if debugging(ctx):
                raise
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            if exc.errno in ENVIRONMENT_ERRNOS and not debugging(ctx):
                raise click.ClickException(environment_message(exc)) from None
            self._plugin_fault(ctx, exc)
            raise
        except Exception as exc:
            self._plugin_fault(ctx, exc)
            raise

    @staticmethod
    def _plugin_fault(ctx: click.Context, exc: Exception) -> None:
        """Raise the one-line fault of a plugin ``exc`` was raised in, unless debugging; an
        exception of RedStar's own code is a bug and keeps its traceback."""
        found = attribute(exc)
        if found is not None and not debugging(ctx):
            raise click.ClickException(str(found)) from None
