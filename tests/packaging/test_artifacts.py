"""Every artifact of ``bash packaging/build.sh``, installed as a user would and used: the
wheel with pipx, the tarball's install.sh into a temporary HOME, the
.deb with apt-get (CI runs as root); each one starts the stack on the built-in runner,
answers a chat and stops it. ``ELITE_REQUIRE_ARTIFACTS=1`` (CI, after the build) makes a
missing artifact a failure instead of a skip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from elite_panel import DESKTOP_ID, __version__
from elite_panel.core.paths import AppPaths
from tests.conftest import REPO, Home, wait_for

# apt and dpkg take one lock: the .deb tests run in one worker
pytestmark = [pytest.mark.packaging, pytest.mark.slow, pytest.mark.xdist_group("packaging")]
DIST = REPO / "dist"
NAME = "elite-coding-assistant"


def artifact(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    if not found:
        if os.environ.get("ELITE_REQUIRE_ARTIFACTS") == "1":
            pytest.fail(f"ELITE_REQUIRE_ARTIFACTS=1 but no dist/{pattern}: run packaging/build.sh")
        pytest.skip(f"no dist/{pattern} (bash packaging/build.sh builds it)")
    return found[-1]


def run(*argv: str | Path, env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(
        [str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def stack_chat_and_down(exe: Path, env: dict[str, str]) -> None:
    """What each installed artifact must do: the stack up on the built-in runner, a chat
    answered by the bundled model, the stack down."""
    status = run(exe, "stack", "up", "--runner", "builtin", env=env)
    assert "runner" in status and "ready" in status
    answer = run(exe, "chat", "Write a Python function that adds two numbers.", env=env)
    assert answer.strip()  # (its figures go to stderr)
    run(exe, "stack", "down", env=env)


@pytest.fixture
def user_env(home: Home, tmp_path: Path) -> dict[str, str]:
    """The test's isolated home, a HOME of its own, and no Qt display."""
    env = {**home.env, "HOME": str(tmp_path / "user"), "QT_QPA_PLATFORM": "offscreen"}
    # The artifact's own code, not this checkout's; the user's folders under that HOME
    # (the test keyring's wrapper points XDG folders elsewhere).
    for name in ("PYTHONPATH", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        env.pop(name, None)
    (tmp_path / "user").mkdir()
    return env


@pytest.mark.timeout(900)  # pip resolves and installs every dependency (from its cache)
def test_pipx_installs_the_wheel_and_it_answers(tmp_path: Path, user_env: dict[str, str]) -> None:
    panel = artifact(f"elite_coding_assistant-{__version__}-py3-none-any.whl")
    artifact(f"elite_assistant_server-{__version__}-py3-none-any.whl")
    # pipx, as the README says, into folders of the test's own; with this machine's pip
    # cache (the test's HOME is new), so that the built-in runner's compiled wheel is found
    # there instead of compiling llama.cpp again (minutes). The server's wheel comes from
    # dist/ (--find-links), the rest from the index.
    pipx_env = {
        **user_env,
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    run(
        sys.executable,
        "-m",
        "pipx",
        "install",
        f"--pip-args=--find-links {DIST}",
        f"{panel}[local]",
        env=pipx_env,
        timeout=900,
    )
    exe = tmp_path / "bin" / "elite-panel"
    assert run(exe, "--version", env=user_env).strip() == f"elite-panel {__version__}"
    server = (
        tmp_path / "pipx" / "venvs" / "elite-coding-assistant" / "bin" / "elite-assistant-server"
    )
    assert __version__ in run(server, "--version", env=user_env)
    stack_chat_and_down(exe, user_env)


def test_the_tarball_installs_for_one_user_and_uninstalls_keeping_the_data(
    tmp_path: Path, user_env: dict[str, str], home: Home
) -> None:
    tarball = artifact(f"{NAME}-{__version__}-linux-x86_64.tar.gz")
    with tarfile.open(tarball) as archive:
        archive.extractall(tmp_path / "unpacked", filter="tar")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    user = Path(user_env["HOME"])
    out = run("bash", unpacked / "install.sh", env=user_env)
    assert f"elite-panel {__version__}" in out
    exe = user / ".local" / "bin" / "elite-panel"
    entry = user / ".local" / "share" / "applications" / f"{DESKTOP_ID}.desktop"
    assert f"Exec={exe}" in entry.read_text()
    run("desktop-file-validate", entry, env=user_env)
    metainfo = user / ".local" / "share" / "metainfo" / f"{DESKTOP_ID}.metainfo.xml"
    run("appstreamcli", "validate", "--no-net", metainfo, env=user_env)
    assert (user / ".local/share/icons/hicolor/256x256/apps" / f"{NAME}.png").is_file()
    stack_chat_and_down(exe, user_env)

    out = run("bash", unpacked / "install.sh", env=user_env)  # again: an upgrade in place
    assert run(exe, "--version", env=user_env).strip() == f"elite-panel {__version__}"

    out = run("bash", unpacked / "uninstall.sh", env=user_env)
    assert not exe.exists() and not entry.exists()
    assert not (user / ".local" / "lib" / NAME).exists()
    assert (home.root / "data" / "server").is_dir()  # the conversations are kept
    assert str(home.root / "config") in out  # and the user is told where


@pytest.fixture
def deb_installed() -> Iterator[Path]:
    deb = artifact(f"{NAME}_{__version__}_amd64.deb")
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("installing the .deb needs root and apt-get (CI has both)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", str(deb)], check=True, env=env)
    yield Path("/usr/bin/elite-panel")
    subprocess.run(["apt-get", "remove", "-y", "-qq", NAME], env=env, check=False)


def test_the_deb_installs_answers_shows_its_window_and_removes_keeping_the_data(
    deb_installed: Path, user_env: dict[str, str], home: Home, tmp_path: Path
) -> None:
    exe = deb_installed
    assert run(exe, "--version", env=user_env).strip() == f"elite-panel {__version__}"
    for path in (
        Path("/usr/share/applications") / f"{DESKTOP_ID}.desktop",
        Path("/usr/share/metainfo") / f"{DESKTOP_ID}.metainfo.xml",
        Path("/usr/share/icons/hicolor/48x48/apps") / f"{NAME}.png",
    ):
        assert path.is_file(), path
    run(
        "desktop-file-validate",
        Path("/usr/share/applications") / f"{DESKTOP_ID}.desktop",
        env=user_env,
    )
    stack_chat_and_down(exe, user_env)
    assert_window_appears(exe, user_env, tmp_path)

    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    removed = run("apt-get", "remove", "-y", NAME, env=env)
    assert "are kept" in removed  # postrm says where the data stays
    assert not exe.exists() and not Path("/opt", NAME).exists()
    assert (home.root / "data" / "server").is_dir()


def assert_window_appears(exe: Path, env: dict[str, str], tmp_path: Path) -> None:
    """The installed panel opens its window on a real X server (Xvfb)."""
    display = f":{os.getpid() % 400 + 100}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
    panel = None
    try:
        x_env = {**env, "DISPLAY": display}
        x_env.pop("QT_QPA_PLATFORM")
        wait_for(
            lambda: subprocess.run(["xdpyinfo"], env=x_env, capture_output=True).returncode == 0,
            30,
            "Xvfb",
        )
        panel = subprocess.Popen(
            [str(exe)], env=x_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def main_window() -> str | None:
            tree = subprocess.run(
                ["xwininfo", "-root", "-tree"], env=x_env, capture_output=True, text=True
            ).stdout
            for line in tree.splitlines():  # the top-level window with a size (not Qt's 1x1)
                if '"Elite Coding Assistant"' in line and "1x1+" not in line:
                    return line.split()[0]
            return None

        window = wait_for(main_window, 60, "the panel's window on the X server")
        props = subprocess.run(
            ["xprop", "-id", str(window), "WM_CLASS", "_KDE_NET_WM_DESKTOP_FILE"],
            env=x_env,
            capture_output=True,
            text=True,
        ).stdout
        # The dock matches the window to our menu entry (StartupWMClass, the desktop file).
        assert f'"{NAME}"' in props.split("WM_CLASS(STRING) =")[1].splitlines()[0]
        assert f'"{DESKTOP_ID}"' in props
        # The window paints before the panel behind it loads (asyncio, the adapters): the
        # panel is up once it has read the profile and kept its scheme for the next start.
        kept = AppPaths.from_env(env).config / "window.ini"
        wait_for(
            lambda: panel.poll() is not None or (kept.exists() and "scheme=" in kept.read_text()),
            60,
            "the panel behind its window",
        )
        assert panel.poll() is None, "the panel quit after painting its window"
    finally:
        if panel is not None:
            panel.terminate()
            panel.wait(30)
        xvfb.terminate()
        xvfb.wait(10)


def old_release(folder: Path) -> Path:
    """A .deb of an earlier release (0.0.1): its program, a file the new release no longer
    ships, the same command's link."""
    root = folder / "old"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {NAME}\nVersion: 0.0.1\nArchitecture: amd64\n"
        "Maintainer: Elite Coding Assistant maintainers <maintainers@example.org>\n"
        "Description: Control panel for a local AI coding assistant\n"
    )
    program = root / "opt" / NAME / NAME
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\necho 'elite-panel 0.0.1'\n")
    program.chmod(0o755)
    (program.parent / "obsolete.dat").write_text("only in 0.0.1\n")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "elite-panel").symlink_to(f"/opt/{NAME}/{NAME}")
    built = folder / f"{NAME}_0.0.1_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", root, built], check=True)
    return built


def test_the_deb_upgrades_an_earlier_release_and_purges_keeping_the_data(
    user_env: dict[str, str], home: Home, tmp_path: Path
) -> None:
    """0.0.1 installed, then this release over it: the new program runs, the old release's
    files are gone, the user's data stays; purged: nothing of the package is left but the
    user's data, and the message says where it is."""
    deb = artifact(f"{NAME}_{__version__}_amd64.deb")
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("installing the .deb needs root and apt-get (CI has both)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    exe = Path("/usr/bin/elite-panel")
    try:
        run("apt-get", "install", "-y", "-qq", old_release(tmp_path), env=env)
        assert run(exe, "--version", env=user_env).strip() == "elite-panel 0.0.1"
        data = home.root / "data" / "server"
        data.mkdir(parents=True)
        (data / "kept.txt").write_text("a conversation")

        run("apt-get", "install", "-y", "-qq", deb, env=env)
        assert run(exe, "--version", env=user_env).strip() == f"elite-panel {__version__}"
        assert not Path("/opt", NAME, "obsolete.dat").exists()
        assert f"Version: {__version__}" in run("dpkg", "-s", NAME, env=env)
        assert (data / "kept.txt").read_text() == "a conversation"

        purged = run("apt-get", "purge", "-y", NAME, env=env)
        assert "are kept" in purged
        state = subprocess.run(["dpkg", "-s", NAME], capture_output=True, text=True)
        assert state.returncode != 0 and "not installed" in state.stderr, state
        assert not exe.exists() and not Path("/opt", NAME).exists()
        assert (data / "kept.txt").read_text() == "a conversation"
    finally:
        subprocess.run(["apt-get", "purge", "-y", "-qq", NAME], env=env, check=False)
