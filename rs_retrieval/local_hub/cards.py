"""YAML front matter of model and dataset cards (README.md): validation and the `cardData` of repo info.

`HfApi.create_commit` posts every README.md it is about to commit to `/api/validate-yaml` and refuses
to commit when the answer is 400, so invalid metadata fails before any upload, as on the Hub.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|\Z)", re.DOTALL)


def front_matter(text: str) -> str | None:
    """The YAML text between the leading `---` lines, or None when the card has none."""
    match = _FRONT_MATTER.match(text)
    return match.group(1) if match else None


def metadata_errors(text: str) -> list[str]:
    """Why the card's metadata is invalid (empty when it is fine or absent): bad YAML, or YAML that is not a mapping."""
    yaml_text = front_matter(text)
    if yaml_text is None:
        return []
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as error:
        return [f"Invalid YAML in the metadata block of README.md: {error}"]
    if data is not None and not isinstance(data, dict):
        return [f"The metadata block of README.md must be a YAML mapping, not a {type(data).__name__}"]
    return []


def card_data(text: str) -> dict[str, Any] | None:
    """The card's metadata as a dict, or None when it has none or it does not parse."""
    yaml_text = front_matter(text)
    if yaml_text is None or metadata_errors(text):
        return None
    data = yaml.safe_load(yaml_text)
    return data if isinstance(data, dict) else None
