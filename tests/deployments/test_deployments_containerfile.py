"""``deployments/Containerfile`` builds the package into a Debian Python 3.11 image that runs the daemon.

No container engine runs here, so the file is checked statically:
- every stage is FROM the official Python 3.11 slim image on Debian (bookworm), by full name;
- the sources COPY'd are exactly what pip needs to build the package: pyproject.toml, the readme it
  names, and every top-level package ``[tool.setuptools.packages.find]`` includes; nothing from outside
  the repository (no ``..``, no ADD of URLs) and no other network fetch (curl, wget, git);
- the build stage pip-installs the copied repository; the final stage takes the installed files;
- ENTRYPOINT is ``multus-daemon`` (a console script of the package) and CMD its ``--config``, the path
  the DaemonSet mounts the ConfigMap at; it runs as root.
"""

from __future__ import annotations

import json
import re
import shlex

from deployments_support import (
    CONTAINERFILE,
    DAEMON_CONTAINER,
    DAEMONSET,
    ROOT,
    THICK,
    container,
    find,
    pod_spec,
    pyproject,
)


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def args_of(word: str) -> list[str]:
    return [rest for w, rest in instructions() if w == word]


def exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"not exec form: {text}"
    return value


def copied_sources() -> set[str]:
    sources: set[str] = set()
    for rest in args_of("COPY"):
        if rest.startswith("--from="):
            continue
        *srcs, _dest = shlex.split(rest)
        sources.update(s.rstrip("/") for s in srcs)
    return sources


def test_every_stage_is_debian_python_3_11_slim() -> None:
    bases = [shlex.split(rest)[0] for rest in args_of("FROM")]
    assert bases, "no FROM"
    for base in bases:
        assert re.fullmatch(r"(docker\.io/library/)?python:3\.11(\.\d+)?-slim-bookworm", base), base


def test_it_copies_what_pip_builds_the_package_from_and_nothing_else() -> None:
    project = pyproject()
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    expected = {"pyproject.toml", project["project"]["readme"]} | packages
    assert copied_sources() == expected
    for source in copied_sources():
        assert (ROOT / source).exists(), f"{source} is not in the repository"
        assert ".." not in source.split("/") and not source.startswith("/")


def test_nothing_is_fetched_except_from_pypi_and_debian() -> None:
    assert not args_of("ADD"), "ADD can fetch URLs; COPY is enough"
    for rest in args_of("RUN"):
        assert not re.search(r"\b(curl|wget|git)\b", rest), rest
        assert "://" not in rest, rest


def test_the_build_stage_pip_installs_the_repository_and_the_final_stage_takes_it() -> None:
    runs = args_of("RUN")
    installs = [r for r in runs if re.search(r"\bpip install\b", r)]
    assert len(installs) == 1
    assert re.search(r"\bpip install\b.*\s\.$", installs[0]), "pip install of the copied repository ('.')"
    prefix = re.search(r"--prefix=(\S+)", installs[0])
    assert prefix is not None
    assert any(rest.startswith("--from=") and prefix.group(1) in rest for rest in args_of("COPY"))


def test_the_default_command_is_the_daemon_with_the_config_the_daemonset_mounts() -> None:
    [entrypoint], [cmd] = args_of("ENTRYPOINT"), args_of("CMD")
    assert exec_form(entrypoint) == ["multus-daemon"]
    assert "multus-daemon" in pyproject()["project"]["scripts"]
    daemon = container(pod_spec(find(THICK, "DaemonSet", DAEMONSET)), DAEMON_CONTAINER)
    assert exec_form(entrypoint) + exec_form(cmd) == daemon["command"]


def test_the_image_runs_as_root() -> None:
    users = args_of("USER")
    assert users and users[-1] in ("0", "root")
