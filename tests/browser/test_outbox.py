"""The page's outbox module (static/js/outbox.js) driven directly: a fake socket and a
controllable clock, no DOM, no server turn. Each scenario runs in the browser and returns what
the outbox sent and reported."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.pages import assert_no_page_errors

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

# A fake socket (records frames; `up` says whether it can send), a manual clock, and the
# outbox under test. `run(body)` evaluates `body` with `box`, `net`, `clock`, `log` in scope
# (spliced into the source: the page's Content-Security-Policy refuses `new Function`).
HARNESS = """async () => {
  const { Outbox, AUTO_RETRY } = await import('/static/js/outbox.js');
  const net = { up: true, accept: true, frames: [] };
  const clock = {
    now: 0, timers: [],
    set(fn, ms) { const t = { at: this.now + ms, fn }; this.timers.push(t); return t; },
    clear(t) { this.timers = this.timers.filter((x) => x !== t); },
    advance(ms) {
      this.now += ms;
      for (const t of this.timers.filter((x) => x.at <= this.now)) { this.clear(t); t.fn(); }
    },
  };
  const log = [];
  let changeCount = 0;
  const box = new Outbox({
    send: (frame) => {
      if (!net.up || !net.accept) return false;
      net.frames.push(frame);
      return true;
    },
    canSend: () => net.up,
    onStatus: (m, status, detail) => log.push([m.id, status, detail ? detail.code || null : null]),
    onChange: () => { changeCount += 1; },
    setTimer: (fn, ms) => clock.set(fn, ms),
    clearTimer: (t) => clock.clear(t),
    random: () => 0.5,
  });
  const ids = () => net.frames.map((f) => f.id);
  const changes = () => changeCount;
  return await (async () => { __BODY__ })();
}"""


@pytest.fixture
def run(new_page: Any, stack: Any) -> Any:
    page, probe = new_page()
    page.goto(stack.url + "/healthz")  # same origin as the module; the app itself is not loaded

    def evaluate(body: str) -> Any:
        result = page.evaluate(HARNESS.replace("__BODY__", body))
        assert_no_page_errors(probe)  # (the favicon of /healthz is a 404: not an error)
        return result

    return evaluate


def test_one_message_in_flight_in_order(run: Any) -> None:
    out = run("""
      box.add('a', 'Kano'); box.add('b', 'Primary'); box.add('c', 'u5', 'Under 5');
      const first = ids();
      box.ack({ type: 'ack', id: 'a', seq: 5 }, 4);
      const second = ids();
      box.ack({ type: 'ack', id: 'b', seq: 7 }, 4);
      return { first, second, third: ids(), frame: net.frames[2], records: box.records() };
    """)
    assert out["first"] == ["a"]
    assert out["second"] == ["a", "b"]
    assert out["third"] == ["a", "b", "c"]
    assert out["frame"] == {"type": "say", "id": "c", "text": "u5", "label": "Under 5"}
    assert out["records"] == [{"id": "c", "text": "u5", "label": "Under 5"}]


def test_nothing_is_sent_until_it_can_be_and_a_dropped_socket_resends_the_same_id(
    run: Any,
) -> None:
    out = run("""
      net.up = false;
      box.add('a', 'Kano');
      const offline = ids().length;
      const waiting = log.filter(([id, s]) => s === 'waiting').length;
      net.up = true; box.flush();
      box.disconnected();           // the socket died before the ack
      const afterDrop = ids();
      net.up = true; box.flush();   // welcomed on another worker
      return { offline, waiting, afterDrop, resent: ids() };
    """)
    assert out["offline"] == 0 and out["waiting"] >= 1
    assert out["afterDrop"] == ["a"]
    assert out["resent"] == ["a", "a"]  # the same id: the server answers it once


def test_a_refused_send_stays_waiting(run: Any) -> None:
    out = run("""
      net.accept = false;
      box.add('a', 'Kano');
      const none = ids().length;
      net.accept = true; box.flush();
      return { none, after: ids(), last: log[log.length - 1] };
    """)
    assert out["none"] == 0
    assert out["after"] == ["a"]
    assert out["last"] == ["a", "sent", None]


def test_rate_limited_is_retried_on_the_clock_then_given_up(run: Any) -> None:
    out = run("""
      box.add('a', 'hello'); box.add('b', 'again');
      // An error without id lands on the message in flight.
      box.error({ type: 'error', code: 'rate_limited', message: 'slow down' });
      box.flush();                  // anything else happening on the page
      const held = ids().length;
      clock.advance(100);
      const early = ids().length;
      clock.advance(60000);
      const retried = ids();
      for (let k = 0; k < AUTO_RETRY.rate_limited; k += 1) {
        box.error({ type: 'error', code: 'rate_limited', id: 'a' });
        clock.advance(60000);
      }
      const failed = log.filter(([id, s]) => id === 'a' && s === 'failed').length;
      return { held, early, retried, failed, after: ids(), records: box.records() };
    """)
    assert out["held"] == 1 and out["early"] == 1  # nothing resent before its delay
    assert out["retried"] == ["a", "a"]
    assert out["failed"] == 1
    # Given up: the next message goes, and the failed one is not kept across a reload.
    assert out["after"][-1] == "b"
    assert out["records"] == [{"id": "b", "text": "again", "label": None}]


def test_a_failed_message_is_sent_again_on_request_with_its_id(run: Any) -> None:
    out = run("""
      box.add('a', 'hello');
      box.error({ type: 'error', code: 'too_large', id: 'a', message: 'too long' });
      const status = log[log.length - 1];
      box.retry('a');
      return { status, sent: ids() };
    """)
    assert out["status"] == ["a", "failed", "too_large"]
    assert out["sent"] == ["a", "a"]


def test_an_error_about_no_message_is_left_to_the_page(run: Any) -> None:
    assert run("return box.error({ type: 'error', code: 'bad_json', message: 'x' });") is None


def test_ack_and_shown_events_remove_messages_whatever_the_order(run: Any) -> None:
    out = run("""
      box.add('a', 'Kano');
      box.ack({ type: 'ack', id: 'a', seq: 9 }, 8);        // ack before its event is shown
      const acked = box.get('a') && box.get('a').acked;
      box.shown(null, 9);                                 // the turn's events arrive
      const goneAfterShown = box.get('a') === null;
      box.add('b', 'Primary');
      box.shown('b', 10);                                 // event shown before the ack
      box.ack({ type: 'ack', id: 'b', seq: 10, events: [{ seq: 10 }] }, 10);
      box.flush();
      return { acked, goneAfterShown, left: box.messages.length, sent: ids() };
    """)
    assert out["acked"] is True
    assert out["goneAfterShown"] is True
    assert out["left"] == 0
    assert out["sent"] == ["a", "b"]  # b was never resent after it was shown


def test_an_ack_after_its_events_sends_the_next_message(run: Any) -> None:
    # Protocol 2: the ack carries the turn's events, which the page shows before the ack.
    out = run("""
      box.add('a', 'Kano');
      box.add('b', 'Primary');
      box.shown('a', 9);
      box.ack({ type: 'ack', id: 'a', seq: 8, events: [{ seq: 8 }, { seq: 9 }] }, 9);
      return { sent: ids(), left: box.messages.map((m) => m.id) };
    """)
    assert out["sent"] == ["a", "b"]
    assert out["left"] == ["b"]


def test_restored_messages_are_resent_with_their_ids_once(run: Any) -> None:
    out = run("""
      net.up = false;
      box.restore([{ id: 'x', text: 'Kano', label: null }, { id: 'x', text: 'Kano' }, { bad: 1 }]);
      box.shown('y', 3);            // y's user event was already replayed
      box.restore([{ id: 'y', text: 'Primary' }]);
      net.up = true; box.flush();
      return { sent: ids(), count: box.messages.length };
    """)
    assert out == {"sent": ["x"], "count": 1}
