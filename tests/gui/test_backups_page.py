"""The Backups page offscreen: Back up now with progress, the list, Verify, Restore with
its summary and confirmation, Delete, and the schedule settings saved to the profile."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from elite_panel.app import Panel
from elite_panel.core.paths import AppPaths
from elite_panel.core.profile_store import ProfileStore
from elite_panel.ui.pages.backups_page import BackupsPage
from elite_panel.ui.widgets.lazy_page import LazyPage
from tests.conftest import Home

pytestmark = pytest.mark.gui


@pytest.fixture
def page(panel: Panel) -> BackupsPage:
    panel.show("backups")
    lazy = panel.window.pages["backups"]
    assert isinstance(lazy, LazyPage) and isinstance(lazy.page, BackupsPage)
    return lazy.page


def test_back_up_verify_restore_delete(qtbot: QtBot, page: BackupsPage, home: Home) -> None:
    asked: list[str] = []
    page.confirm = lambda _p, _t, text: asked.append(text) or True
    seen: list[int] = []
    page.backups.progress.connect(lambda _what, done, total: seen.append(done))
    with qtbot.waitSignal(page.backups.finished, timeout=20_000):
        page.back_up_now()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)
    assert seen and page.table.item(0, 3).text().startswith("verified")
    assert page.table.item(0, 2).text() == "0 conversations, 1 profile(s)"
    assert page.create_button.isEnabled() and page.progress.isHidden()

    page.table.selectRow(0)
    with qtbot.waitSignal(page.backups.finished, timeout=20_000):
        page.buttons["Verify"].click()
    assert "intact" in page.message.text()

    store = ProfileStore(AppPaths.from_env(home.env), home.env)
    store.set_value("default", "dashboard.cpu_percent", "60")
    with qtbot.waitSignal(page.backups.finished, timeout=30_000):
        page.buttons["Restore"].click()
    assert "profile default: changed" in asked[0] and "safety backup" in asked[0]
    assert store.load("default").dashboard.cpu_percent == 80  # back as it was
    qtbot.waitUntil(lambda: page.table.rowCount() == 2, timeout=10_000)  # + the safety one
    assert "before restoring" in page.table.item(0, 4).text()

    page.table.selectRow(0)
    page.buttons["Delete"].click()
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)


def test_schedule_settings_are_saved_to_the_profile(
    qtbot: QtBot, page: BackupsPage, home: Home
) -> None:
    qtbot.waitUntil(lambda: page.folder is not None, timeout=10_000)  # loaded off the UI
    page.schedule.setCurrentText("daily")
    page.daily_at.setText("04:30")
    page.keep_last.setValue(3)
    with qtbot.waitSignal(page.backups.finished, timeout=10_000):
        page.save_settings()  # written off the UI thread
    saved = ProfileStore(AppPaths.from_env(home.env), home.env).load("default").backups
    assert (saved.schedule, saved.daily_at, saved.keep_last) == ("daily", "04:30", 3)
    page.daily_at.setText("29:99")
    page.keep_last.setValue(5)
    with qtbot.waitSignal(page.backups.failed, timeout=10_000):
        page.save_settings()
    assert "daily_at" in page.message.text()
    assert ProfileStore(AppPaths.from_env(home.env), home.env).load("default").backups == saved
    page.keep_last.setValue(1)
    page.load_settings()  # read back from the profile
    qtbot.waitUntil(lambda: page.keep_last.value() == 3, timeout=10_000)


def test_no_backups_yet_offers_the_first_one(qtbot: QtBot, page: BackupsPage) -> None:
    qtbot.waitUntil(lambda: not page.empty.isHidden(), timeout=10_000)
    assert page.table.isHidden() and "No backups yet" in page.empty.title.text()
    assert page.empty.button is not None
    page.empty.button.click()  # the next step, from the empty state
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=30_000)
    assert page.empty.isHidden() and not page.table.isHidden()


def test_an_off_site_copy_is_saved_made_and_read_back(
    qtbot: QtBot, page: BackupsPage, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's "Off-site copy" against moto's S3 server (a double)."""
    import boto3

    from tests.fakes.s3_double import CREDENTIALS, s3_double

    with s3_double("panel-backups") as endpoint:
        for name, value in {**CREDENTIALS, "AWS_SECRET_ACCESS_KEY": "x"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        qtbot.waitUntil(lambda: page.folder is not None, timeout=10_000)
        page.offsite.setText("s3://Not_A_Bucket")
        with qtbot.waitSignal(page.backups.failed, timeout=10_000):
            page.save_settings()
        assert "s3://BUCKET/PREFIX" in page.message.text()
        page.offsite.setText("s3://panel-backups/laptop")
        with qtbot.waitSignal(page.backups.finished, timeout=10_000):
            page.save_settings()
        with qtbot.waitSignal(page.backups.finished, timeout=30_000):
            page.back_up_now()
        assert "Copied to s3://panel-backups/laptop and read back" in page.message.text()
        listed = boto3.client("s3").list_objects_v2(Bucket="panel-backups", Prefix="laptop/")
        (stored,) = [item["Key"] for item in listed["Contents"]]
        qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=10_000)
        assert stored == f"laptop/{page.infos[0].name}"
