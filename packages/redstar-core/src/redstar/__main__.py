"""``python -m redstar``: the ``redstar`` command, for launchers that start a module rather than a
script (``accelerate launch -m redstar train --run DIR``; see docs/training.md)."""

from redstar.cli import main

if __name__ == "__main__":
    main()
