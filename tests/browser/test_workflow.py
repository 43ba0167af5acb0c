"""The whole workflow by clicks with the sample data, ending with a downloaded CSV."""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_clean_log, choose, expect_no_pending, open_app, wait_stage
from tests.domain.oracle import oracle_tpr
from tpr_ws.domain.sample.generator import sample_upload
from tpr_ws.domain.workbook import parse_workbook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_sample_workflow_by_clicks_ends_with_the_right_csv(
    new_page: Any, stack: Any, screenshot: Any
) -> None:
    page, probe = new_page()
    open_app(page, stack.url)
    wait_stage(page, "awaiting_upload")
    expect(page.locator("#conn")).to_have_text(re.compile("Connected"))
    expect(page.locator("#upload-panel")).to_be_visible()
    screenshot(page, "01_welcome")

    page.get_by_role("button", name="Use the sample data").first.click()
    wait_stage(page, "select_state")
    expect(page.locator("#file-name")).to_have_text(re.compile(r"sample.*\.xlsx"))
    expect(page.locator("#steps li.current")).to_have_attribute("data-stage", "select_state")
    screenshot(page, "02_select_state")

    choose(page, "Adamawa")
    wait_stage(page, "select_facility_level")
    screenshot(page, "03_select_level")
    choose(page, re.compile("^.?Primary"))
    wait_stage(page, "select_age_group")
    screenshot(page, "04_select_age")
    choose(page, "Under 5")
    wait_stage(page, "results")
    card = page.locator(".results").last
    expect(card.locator(".big-value")).to_have_text(re.compile(r"\d+\.\d%"))
    expect(card.locator(".histogram")).to_be_visible()
    expect_no_pending(page)
    screenshot(page, "05_results")

    with page.expect_download() as info:
        card.locator('a[data-download="csv"]').click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    assert download.suggested_filename.startswith("Adamawa_TPR_")
    table = pd.read_csv(io.BytesIO(download_bytes(download)))
    assert_matches_oracle(table, "Adamawa", "Primary", "u5")

    with page.expect_download() as info:
        card.locator('a[data-download="xlsx"]').click()
    book = pd.read_excel(io.BytesIO(download_bytes(info.value)), engine="calamine")
    assert info.value.suggested_filename.endswith(".xlsx")
    assert sorted(zip(book["LGA"], book["Ward"], strict=True)) == sorted(
        zip(table["LGA"], table["Ward"], strict=True)
    )
    with page.expect_download() as info:
        card.locator('a[data-download="html"]').click()
    report = download_bytes(info.value).decode()
    assert info.value.suggested_filename == "Adamawa_TPR_Primary_u5.html" and "<svg" in report
    with page.expect_download() as info:
        card.locator('a[data-download="md"]').click()
    assert info.value.suggested_filename == "Adamawa_TPR_Primary_u5.md"
    assert "# Malaria test positivity rate: Adamawa" in download_bytes(info.value).decode()
    assert_clean_log(page)
    assert not probe.errors, probe.errors
    assert not probe.dialogs


def assert_matches_oracle(table: pd.DataFrame, state: str, level: str, age: str) -> None:
    """The downloaded ward table holds the oracle's wards with the oracle's TPRs."""
    sample = sample_upload()
    frame = parse_workbook(sample.data, sample.file_name).frame
    expected = oracle_tpr(frame, state, level, age)
    got = {(r.LGA, r.Ward): r.TPR for r in table.itertuples(index=False)}
    assert set(got) == set(expected.wards)
    for key, ward in expected.wards.items():
        if ward.tpr is None:
            assert pd.isna(got[key]), key
        else:
            assert abs(float(got[key]) - ward.tpr) <= 0.0051, (key, got[key], ward.tpr)


def download_bytes(download: Any) -> bytes:
    with open(download.path(), "rb") as f:
        return f.read()
