"""The conversation host: runs the pure workflow actor inside one registry turn.

It turns client inputs into workflow events, feeds the actor, carries out the effects that need
data (TPR calculation, the sample file) off the event loop, and returns the turn's log events.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from tpr_ws.actors.driver import drive
from tpr_ws.actors.events import (
    ComputeResults,
    Effect,
    Event,
    FileUploaded,
    LoadSample,
    MessageReceived,
    Reply,
    ResultsComputed,
    SessionStarted,
    UploadFailed,
)
from tpr_ws.actors.state import dump_state, load_state
from tpr_ws.actors.workflow import step
from tpr_ws.analyses import AnalysisStore
from tpr_ws.datasets import DatasetStore
from tpr_ws.domain.blob import dataset_key
from tpr_ws.domain.markdown import md_escape
from tpr_ws.domain.pipeline import ProcessedUpload
from tpr_ws.domain.versions import PARSE_VERSION
from tpr_ws.errors import UploadRejected
from tpr_ws.pool import ParsePool, SpooledFile, parse_spooled
from tpr_ws.registry.storage import Storage
from tpr_ws.registry.turns import Lease, Registry, TurnOutput, TurnResult, retry_later
from tpr_ws.samples import SampleFile

START_MESSAGE_ID = "session-start"


def result_url(sid: str, key: str) -> str:
    """Where the page fetches a result object (its ward table and summary) over HTTP."""
    return f"/api/sessions/{sid}/results/{key}"


def log_event(
    role: str,
    stage: str | None,
    text: str,
    reply_to: str | None,
    *,
    options: list[dict[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of a session's log (the registry numbers it): a user message, a bot reply,
    or upload progress (a bot event with no stage)."""
    return {
        "role": role,
        "stage": stage,
        "text": text,
        "options": options or [],
        "data": data or {},
        "reply_to": reply_to,
        "ts": time.time(),
    }


def reply_event(reply: Reply, reply_to: str, sid: str = "") -> dict[str, Any]:
    """A bot reply as a log event; its options as the protocol's button objects. A results
    reply names its result object (key and URL): the ward table never goes into the log."""
    options = [
        {"label": o.label, "value": o.value, "recommended": o.recommended, "detail": o.detail,
         "available": o.available}
        for o in reply.options
    ]  # fmt: skip
    data = dict(reply.data)
    analysis = data.get("analysis")
    if isinstance(analysis, dict) and sid:
        data["analysis"] = {**analysis, "url": result_url(sid, str(analysis["key"]))}
    return log_event("bot", str(reply.stage), reply.text, reply_to, options=options, data=data)


PARSE_CLAIM_MS = 15_000  # the parsing worker's claim on an upload id, renewed every third
PARSE_WAIT_S = 0.2  # how often a concurrent duplicate looks for the first one's answer


async def _renew_parsing(storage: Storage, sid: str, upload_id: str, token: str) -> None:
    """Keep this worker's parsing claim alive while it parses (until cancelled or lost)."""
    while True:
        await asyncio.sleep(PARSE_CLAIM_MS / 3000)
        if not await storage.claim_parsing(sid, upload_id, token, PARSE_CLAIM_MS, renew=True):
            return


class Conversation:
    """Runs workflow turns for sessions; one per worker."""

    def __init__(
        self,
        registry: Registry,
        datasets: DatasetStore,
        analyses: AnalysisStore,
        parse_pool: ParsePool,
        *,
        max_upload_bytes: int,
        parse_version: int = PARSE_VERSION,
    ) -> None:
        self._registry = registry
        # This release's parse: part of every dataset key it stores or looks up (a test runs
        # two releases side by side by giving two conversations different versions).
        self._parse_version = parse_version
        self._datasets = datasets
        self._analyses = analyses
        self._pool = parse_pool
        self._max_upload_bytes = max_upload_bytes
        self.sample = SampleFile(  # what "sample" loads (and the worker warms at start)
            datasets, parse_pool, self._process, max_upload_bytes=max_upload_bytes
        )

    async def start(self, sid: str) -> TurnResult:
        return await self._run(sid, START_MESSAGE_ID, SessionStarted(), user_text=None)

    async def say(
        self, sid: str, message_id: str, text: str, *, shown: str | None = None
    ) -> TurnResult:
        """A typed reply, or a clicked choice: `text` is matched, `shown` (the choice's label)
        is what the conversation displays."""
        shown_text = shown.strip() if shown and shown.strip() else text
        return await self._run(sid, message_id, MessageReceived(text=text), user_text=shown_text)

    async def upload(self, sid: str, upload_id: str, file: SpooledFile) -> TurnResult:
        """Parse the spooled file (in the process pool) and feed the result to the session's
        actor, telling the session's sockets how far it got on the way. Once per upload id: a
        resent upload is answered from its record, and one resent while the first is still
        being parsed (on any worker) waits for the first's answer instead of parsing and
        logging again."""
        storage = self._registry.storage
        token = f"{self._registry.holder_prefix}{secrets.token_hex(8)}"
        known = await self._claim_parsing(sid, upload_id, token)
        if known is not None:
            return known  # a resent upload: its events, progress included, are in the log
        renewer = asyncio.create_task(_renew_parsing(storage, sid, upload_id, token))
        try:
            return await self._parse_and_run(sid, upload_id, file)
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            try:
                await storage.claim_parsing(sid, upload_id, token, 0, renew=True)
            except (RedisError, OSError):
                # A failover under way: a resend would wait for the claim to expire (15 s);
                # let it go as soon as the promoted replica answers.
                retry_later(
                    lambda: storage.claim_parsing(sid, upload_id, token, 0, renew=True),
                    PARSE_CLAIM_MS / 1000,
                )

    async def _claim_parsing(self, sid: str, upload_id: str, token: str) -> TurnResult | None:
        """Wait until this worker parses the upload (None) or its answer is recorded (the
        answer). A holder that dies stops renewing; its claim expires and one waiter takes
        over. Waiting rereads Redis every `PARSE_WAIT_S`: only concurrent duplicates wait."""
        message_id = f"upload:{upload_id}"
        while True:
            known = await self._registry.recorded(sid, message_id)
            if known is not None:
                return known
            if await self._registry.storage.claim_parsing(sid, upload_id, token, PARSE_CLAIM_MS):
                # Recorded between our read and the claim (its holder just let go)?
                known = await self._registry.recorded(sid, message_id)
                if known is not None:
                    await self._registry.storage.claim_parsing(sid, upload_id, token, 0, renew=True)
                return known
            await asyncio.sleep(PARSE_WAIT_S)

    async def _parse_and_run(self, sid: str, upload_id: str, file: SpooledFile) -> TurnResult:
        message_id = f"upload:{upload_id}"
        file_name = file.file_name
        size_mb = file.size / 1_048_576
        label = f"Uploaded **{md_escape(file_name)}** ({size_mb:.1f} MB)"

        async def progress(phase: str, message: str, fraction: float | None) -> None:
            data = {"progress": {"upload_id": upload_id, "phase": phase, "fraction": fraction,
                                 "message": message}}  # fmt: skip
            event = log_event("bot", None, message, upload_id, data=data)
            await self._registry.append(sid, [event])

        await progress("received", f"Received {file_name} ({size_mb:.1f} MB); reading it…", 0.3)
        ticker = asyncio.create_task(_tick(progress, file.size), name="upload-progress")
        try:
            uploaded = await self._process(
                file.sha256,
                file_name,
                lambda: self._pool.run(
                    parse_spooled, str(file.path), file_name, self._max_upload_bytes
                ),
            )
        except UploadRejected as exc:
            # The chat says what is wrong too; the caller then answers the upload with the error.
            await progress("failed", "The file could not be used.", None)
            event: Event = UploadFailed(file_name=file_name, problems=exc.problems)
            await self._run(sid, message_id, event, user_text=label)
            raise
        finally:
            ticker.cancel()
        await progress("summarising", "File read; summarising…", 0.9)
        return await self._run(sid, message_id, uploaded, user_text=label)

    async def reject_upload(
        self, sid: str, upload_id: str, file_name: str, size: int, problems: list[str]
    ) -> TurnResult:
        """An upload refused before parsing (e.g. damaged on the way): the chat says why, as
        for a file the parser refuses."""
        message_id = f"upload:{upload_id}"
        known = await self._registry.recorded(sid, message_id)
        if known is not None:
            return known
        label = f"Uploaded **{md_escape(file_name)}** ({size / 1_048_576:.1f} MB)"
        message = "The file could not be used."
        data = {"progress": {"upload_id": upload_id, "phase": "failed", "fraction": None,
                             "message": message}}  # fmt: skip
        await self._registry.append(sid, [log_event("bot", None, message, upload_id, data=data)])
        failed = UploadFailed(file_name=file_name, problems=problems)
        return await self._run(sid, message_id, failed, user_text=label)

    async def _process(
        self, sha256: str, file_name: str, parse: Callable[[], Awaitable[ProcessedUpload]]
    ) -> FileUploaded:
        """The upload whose bytes hash to `sha256`, as this release parses it: parsed before
        (by any worker of this parse version), or `parse()`d now and stored. A dataset is the
        file and the parse version (`dataset_key`): bytes parsed by a release with another
        parse version are parsed again, never served from the other parse."""
        key = dataset_key(sha256, self._parse_version)
        meta = await self._datasets.meta(key)
        if meta is None:
            processed = await parse()
            meta = {"report": processed.report, "overview": processed.overview,
                    "sha256": sha256, "parse_version": self._parse_version}  # fmt: skip
            await self._datasets.put(key, processed.blob, processed.sums, meta)
        return FileUploaded(blob_key=key, file_name=file_name, overview=meta["overview"])

    async def _run(
        self, sid: str, message_id: str, event: Event, *, user_text: str | None
    ) -> TurnResult:
        async def turn(state_bytes: bytes | None, lease: Lease) -> TurnOutput:
            state = load_state(state_bytes)
            log: list[dict[str, Any]] = []
            if user_text is not None:
                log.append(log_event("user", str(state.stage), user_text, message_id))

            async def perform(effect: Effect) -> Event | None:
                if isinstance(effect, Reply):
                    log.append(reply_event(effect, message_id, sid))
                    return None
                if isinstance(effect, ComputeResults):
                    return await self._results_computed(effect)
                assert isinstance(effect, LoadSample)
                return await self.sample.uploaded()

            driven = await drive(step, state, event, perform)
            return TurnOutput(state=dump_state(driven.state), events=log)

        return await self._registry.run(sid, message_id, turn)

    async def _results_computed(self, effect: ComputeResults) -> ResultsComputed:
        """The analysis of the effect: stored (an analysis opened again by its key keeps its
        bytes), or computed and stored once; the turn's events carry its key, not its table."""
        stored = await self._analyses.get_or_compute(
            effect.blob_key, effect.state, effect.level, effect.age, key=effect.key
        )
        return ResultsComputed(
            state=effect.state,
            level=effect.level,
            age=effect.age,
            summary=stored.result.summary,
            key=stored.key,
            dataset=stored.dataset_key,
            at=time.time(),
        )


Progress = Callable[[str, str, float | None], Awaitable[None]]


async def _tick(progress: Progress, size: int) -> None:
    """Progress while the pool parses: elapsed time and an estimate that approaches 90%."""
    expected = 2.0 + size / 1_500_000  # seconds; about 20 s for a 30 MB national workbook
    started = time.monotonic()
    while True:
        await asyncio.sleep(2.0)
        elapsed = time.monotonic() - started
        fraction = 0.3 + 0.6 * (1 - math.exp(-elapsed / expected))
        await progress("parsing", f"Reading the workbook… {elapsed:.0f} s", round(fraction, 2))
