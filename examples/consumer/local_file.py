"""LocalFile: a file on this machine as a Pulumi resource (written on create/update, removed on delete).

A dynamic provider, so `pulumi destroy` removes what `pulumi up` wrote. The content is a secret
input (octavia.conf carries passphrases and the heartbeat key): it stays encrypted in state and
the file is created with mode 0600.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi import dynamic


def _write(path: str, content: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(content)


class LocalFileProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        _write(props["path"], props["content"])
        return dynamic.CreateResult(uuid.uuid4().hex, {"path": props["path"], "content": props["content"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = ["path"] if olds.get("path") != news.get("path") else []
        changes = bool(replaces) or olds.get("content") != news.get("content")
        return dynamic.DiffResult(changes=changes, replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        _write(news["path"], news["content"])
        return dynamic.UpdateResult({"path": news["path"], "content": news["content"]})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        Path(props["path"]).unlink(missing_ok=True)


class LocalFile(dynamic.Resource, module="files", name="LocalFile"):
    path: pulumi.Output[str]

    def __init__(self, name: str, path: pulumi.Input[str], content: pulumi.Input[str],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(
            LocalFileProvider(), name, {"path": path, "content": pulumi.Output.secret(content)},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["content"])),
        )
