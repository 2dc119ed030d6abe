"""The real Octavia 19.0.0 sdist from PyPI, fetched the way the build does it: it matches the pinned
sha256, carries the elements and diskimage-create.sh, and that script accepts the command the
build assembles (it runs up to its diskimage-builder check, before any build work)."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tools.amphora_image import plan
from tools.amphora_image.cli import BuildError, build_paths, ensure_octavia_source


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    cache = tmp_path_factory.mktemp("amphora-cache")
    paths = build_paths(cache, cache / "out", None)
    ensure_octavia_source(paths, cache)
    return cache, paths


def test_sdist_matches_the_pin_and_carries_the_elements(source):
    cache, paths = source
    src = Path(paths.octavia_src)
    assert (cache / "sdist" / plan.OCTAVIA_SDIST).is_file()
    for element in ("amphora-agent", "haproxy-octavia", "keepalived-octavia", "amphora-fips", "certs-ramfs"):
        assert (src / "elements" / element).is_dir(), element
    # The element the DIB_REPO* variables steer: its source-repository line names amphora-agent.
    assert "amphora-agent git" in (src / "elements" / "amphora-agent" / "source-repository-amphora-agent").read_text()


def test_a_tampered_sdist_is_refused_and_deleted(source, tmp_path):
    cache, _ = source
    (tmp_path / "sdist").mkdir()
    (tmp_path / "sdist" / plan.OCTAVIA_SDIST).write_bytes((cache / "sdist" / plan.OCTAVIA_SDIST).read_bytes() + b"x")
    with pytest.raises(BuildError, match="sha256 .* expected"):
        ensure_octavia_source(build_paths(tmp_path, tmp_path / "out", None), tmp_path)
    assert not (tmp_path / "sdist" / plan.OCTAVIA_SDIST).exists()


def getopts_spec(script: str) -> str:
    return re.search(r'getopts "([^"]+)" opt', script).group(1)


@pytest.mark.parametrize(
    "options",
    [plan.BuildOptions(), plan.BuildOptions(base_os="centos-minimal", fips=True, disable_sshd=True, no_tmpfs=True,
                                            architecture="aarch64", agent_from_packages=True, size_gb=3)],
    ids=["default", "everything"],
)  # fmt: skip
def test_the_script_accepts_the_assembled_command(source, tmp_path, options):
    _, paths = source
    script = Path(paths.octavia_src, "diskimage-create", "diskimage-create.sh").read_text()
    spec = getopts_spec(script)
    out_dir, work = tmp_path / "out", tmp_path / "work"
    out_dir.mkdir()
    run_paths = plan.BuildPaths(paths.octavia_src, str(tmp_path / "no-dib"), str(tmp_path / "dib-cache"), str(work), str(out_dir))
    argv, env = plan.build_command(options, run_paths, "t1", {"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    for i, arg in enumerate(argv[2:]):
        if arg.startswith("-"):
            letter = arg[1]
            assert letter in spec, arg
            takes_value = spec[spec.index(letter) + 1 : spec.index(letter) + 2] == ":"
            assert takes_value == (i + 1 < len(argv) - 2 and not argv[2 + i + 1].startswith("-")), arg
    # No diskimage-builder on PATH here: the script must get past its option checks and stop there.
    result = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "ERROR: diskimage-builder repo directory not found" in output, output
    assert "Unsupported" not in output and "Usage" not in output
