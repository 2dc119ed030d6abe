"""Upgrading: a stack deployed by the release before structured config, its stack file converted
to the new form, previews with no changes under the current program.

The previous release's program comes from this repository's history (git archive of a pinned
commit), so the test deploys exactly what operators run today.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile

import yaml

from testbed.stacks import PROJECT_FILES, ROOT, engine, stack_config_file

# The last release whose config used the string forms ("host=IP", "VERSION=SOURCE", "start-end"),
# and whose program was all in components/.
PREVIOUS_RELEASE = "b55539a36e1885927e71acce8eeb2a7b5b1283b5"
PREVIOUS_PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components")


def previous_release_file(path: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{PREVIOUS_RELEASE}:{path}"],
                          capture_output=True, check=True).stdout


def use_program(work_dir, release: str | None) -> None:
    """Put the program of `release` (None: the current one) into a stack's project copy."""
    for entry in {*PROJECT_FILES, *PREVIOUS_PROJECT_FILES}:
        target = work_dir / entry
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        if release is None and entry in PROJECT_FILES:
            (shutil.copytree if (ROOT / entry).is_dir() else shutil.copy)(ROOT / entry, target)
    if release is not None:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", release, *PREVIOUS_PROJECT_FILES],
                                 capture_output=True, check=True).stdout
        tarfile.open(fileobj=io.BytesIO(archive)).extractall(work_dir)


def with_config(stack, config: dict) -> None:
    """Replace the stack file's config, keeping the rest (its secrets salt)."""
    settings = yaml.safe_load(stack_config_file(stack).read_text())
    stack_config_file(stack).write_text(yaml.safe_dump({**settings, "config": config}, sort_keys=False))


def test_a_stack_of_the_previous_release_previews_without_changes_after_conversion(stacks):
    stack = stacks.create("local")
    work_dir = stack_config_file(stack).parents[1]
    per_stack = {key: value for key, value in yaml.safe_load(stack_config_file(stack).read_text())["config"].items()
                 if key.endswith((":name_prefix", ":mgmt_physical_network"))}  # unique on the shared devcloud

    # Deploy with the previous release and its own local stack file (the string forms).
    use_program(work_dir, PREVIOUS_RELEASE)
    old_config = yaml.safe_load(previous_release_file("stacks/Pulumi.local.yaml"))["config"]
    assert "octavia-infra:health_manager_hosts" in old_config  # really the old form
    with_config(stack, {**old_config, **per_stack})
    engine(stack.up)

    # Upgrade: the current program, the stack file converted (as stacks/Pulumi.local.yaml is).
    use_program(work_dir, None)
    # Other tests' stacks tag their images alike in the devcloud's one service project.
    shared = {"octavia-infra:amp_image_tag_shared": True}
    with_config(stack, {**yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"], **per_stack,
                        **shared})
    preview = engine(stack.preview, diff=True)
    assert set(preview.change_summary) == {"same"}, preview.stdout
