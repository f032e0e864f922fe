"""The console's pages and actions: one function per route, each ``(console, request, match) -> Response``."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import TYPE_CHECKING

from ..deadletter.replay import is_replayable
from .actions import log_action
from .errors import describe_error
from .http import HTTPError, Request, Response
from .jobs import Job
from .queues import probe_queues
from .records import PAGE_SIZE, Filter, choices, masked_email, paginate
from .render import payload_text
from .sampler import WINDOWS_S

if TYPE_CHECKING:
    from .app import ConsoleApp

__all__ = ["cancel_job", "dead_detail", "dead_list", "job", "overview", "purge", "replay"]

#: Overview and running job pages reload themselves this often (a <meta> refresh: no script needed).
REFRESH_S = 10
JOB_REFRESH_S = 2
#: Messages after an action, by code: the redirect carries the code, never free text.
NOTICES = {
    "replayed": "Replayed {n} dead letter(s): their tasks are back on the sendx queue.",
    "purged": "Deleted {n} dead letter(s).",
    "skipped": "{n} dead letter(s) could not be replayed (no sendx task or no payload) and were left in place.",
    "missing": "{n} dead letter(s) were already gone (replayed or deleted elsewhere).",
    "none": "Nothing was selected.",
}
MAX_SELECTED = 500


def overview(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    latest = console.sampler.latest()
    fresh = latest is None
    if latest is None:
        latest = console.sampler.sample_now()
    console.sampler.start()
    if fresh:  # the sample just taken is as fresh as a second look
        depths, depth_error = latest.queues, latest.queue_error
    else:
        try:
            depths, depth_error = probe_queues(console.app), None
        except Exception as exc:
            depths, depth_error = None, describe_error(exc, console.settings)
    workers = latest.workers or []
    now = console.clock()
    return console.render(
        request,
        "overview.html",
        refresh=REFRESH_S,
        interval=console.sampler.interval_s,
        depths=depths,
        depth_error=depth_error,
        sample=latest,
        sample_age=now - latest.at,
        workers=workers,
        holding=sum(worker.active or 0 for worker in workers) + sum(worker.reserved or 0 for worker in workers),
        rejected=[worker for worker in workers if worker.auth_rejected_recently],
        rates=[console.sampler.rates(window) for window in WINDOWS_S],
        history=[s.queues.ready for s in console.sampler.samples() if s.queues is not None],
        breaker=console.breaker(),
        jobs=console.jobs.views()[:5],
        now=now,
    )


def dead_list(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    wanted = Filter.read(request.arg)
    if request.arg("email"):
        # The search box's address leaves the URL at once: the page's URL carries its digest.
        return Response.redirect(request.url("/dead", wanted.items()))
    everything = console.book.all()
    now = console.clock()
    found = [record for record in everything if wanted.matches(record, now)]
    try:
        number = int(request.arg("page", "1"))
    except ValueError:
        number = 1
    page = paginate(found, number)
    notices = []
    for code in request.values("notice"):
        count = request.arg(f"n_{code}", "0")
        if code in NOTICES and count.isdigit():
            notices.append(NOTICES[code].format(n=int(count)))
    return console.render(
        request,
        "dead_list.html",
        wanted=wanted,
        page=page,
        total=len(everything),
        choices=choices(everything),
        masked_email=masked_email,
        is_replayable=is_replayable,
        notices=notices,
        page_size=PAGE_SIZE,
    )


def dead_detail(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    record = console.book.find(match["id"])
    if record is None:
        raise HTTPError(HTTPStatus.NOT_FOUND, "no such dead letter (replayed or deleted?)")
    payload, cut = payload_text(record.payload)
    evidence = dict(record.evidence)
    return console.render(
        request,
        "dead_detail.html",
        record=record,
        email=masked_email(record),
        payload=payload,
        payload_cut=cut,
        evidence=evidence,
        replayable=is_replayable(record),
    )


def _selected(request: Request) -> list[str]:
    ids = [value for value in request.values("id") if value]
    if len(ids) > MAX_SELECTED:
        raise HTTPError(HTTPStatus.BAD_REQUEST, f"at most {MAX_SELECTED} dead letters at once; use 'all matching'")
    return ids


def _back(request: Request, wanted: Filter, counts: dict[str, int]) -> Response:
    query: list[tuple[str, object]] = list(wanted.items())
    for code, count in counts.items():
        if count:
            query += [("notice", code), (f"n_{code}", count)]
    return Response.redirect(request.url("/dead", query))


def replay(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    wanted = Filter.read(request.arg)
    if request.arg("scope") == "matching":
        return _replay_matching(console, request, wanted)
    ids = _selected(request)
    if not ids:
        return _back(request, wanted, {"none": 1})
    outcome = console.actions.replay_ids(set(ids), request.user)
    counts = {"replayed": len(outcome.done), "skipped": len(outcome.skipped), "missing": outcome.missing}
    if not any(counts.values()):
        counts["none"] = 1
    return _back(request, wanted, counts)


def _replay_matching(console: ConsoleApp, request: Request, wanted: Filter) -> Response:
    frozen = wanted.frozen(console.clock())
    if request.arg("confirm") != "yes":
        found = console.book.matching(frozen)
        return console.render(
            request,
            "confirm.html",
            action="replay",
            wanted=frozen,
            ids=[],
            count=sum(is_replayable(record) for record in found),
            unreplayable=sum(not is_replayable(record) for record in found),
            sample=found[:20],
            masked_email=masked_email,
            rate=console.settings.console.replay_rate,
        )
    try:
        rate = float(request.arg("rate"))
    except ValueError:
        rate = 0.0
    if not 0 < rate <= 1000:
        raise HTTPError(HTTPStatus.BAD_REQUEST, "the rate must be a number of dead letters per second from 0 to 1000")
    job = Job(console.actions, frozen, rate, request.user, console.breaker, console.clock)
    running = console.jobs.start(job)
    return Response.redirect(request.url(f"/jobs/{(running or job).id}"))


def purge(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    wanted = Filter.read(request.arg)
    matching = request.arg("scope") == "matching"
    frozen = wanted.frozen(console.clock()) if matching else wanted
    ids = [] if matching else _selected(request)
    if not matching and not ids:
        return _back(request, wanted, {"none": 1})
    if request.arg("confirm") != "yes":
        found = console.book.matching(frozen) if matching else [r for r in console.book.all() if r.id in set(ids)]
        return console.render(
            request,
            "confirm.html",
            action="purge",
            wanted=frozen,
            ids=ids,
            count=len(found),
            unreplayable=0,
            sample=found[:20],
            masked_email=masked_email,
            rate=None,
        )
    outcome = console.actions.purge(request.user, set(ids), frozen if matching else None)
    return _back(request, wanted, {"purged": len(outcome.done), "missing": outcome.missing})


def job(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    found = console.jobs.get(match["id"])
    if found is None:
        raise HTTPError(HTTPStatus.NOT_FOUND, "no such job in this console process")
    view = found.view()
    return console.render(request, "job.html", job=view, refresh=JOB_REFRESH_S if view.running else None)


def cancel_job(console: ConsoleApp, request: Request, match: re.Match[str]) -> Response:
    found = console.jobs.get(match["id"])
    if found is None:
        raise HTTPError(HTTPStatus.NOT_FOUND, "no such job in this console process")
    found.cancel()
    found.join(timeout=10)
    log_action("cancel_replay_job", request.user, [], job=found.id)
    return Response.redirect(request.url(f"/jobs/{found.id}"))
