"""Help topics shipped with the world: ``help/<topic>.md``, a ``# Title`` line then the text."""

from __future__ import annotations

import re
from pathlib import Path

from kadath.domain.world import HelpTopic
from kadath.world.consistency import WorldProblem

HELP_DIR = "help"
_TOPIC_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


def read_help(directory: Path, problems: list[WorldProblem]) -> dict[str, HelpTopic]:
    """Every topic under ``directory`` (none when it is missing); bad files go to ``problems``."""
    topics: dict[str, HelpTopic] = {}
    if not directory.is_dir():
        return topics
    for path in sorted(directory.glob("*.md")):
        name = f"{HELP_DIR}/{path.name}"
        if not _TOPIC_NAME.match(path.stem):
            reason = "a topic's file name must be lower case letters, digits, '-' or '_'"
            problems.append(WorldProblem(name, "", reason))
            continue
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(WorldProblem(name, "", f"cannot read file: {exc}"))
            continue
        title, _, body = text.partition("\n")
        if not title.startswith("# ") or not body.strip():
            problems.append(
                WorldProblem(name, "", "a topic starts with a '# Title' line, then text")
            )
            continue
        topics[path.stem] = HelpTopic(path.stem, title[2:].strip(), body.strip())
    return topics
