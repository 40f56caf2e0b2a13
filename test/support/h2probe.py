#!/usr/bin/python3
"""
h2probe: a frame-level HTTP/2 client for tests (python-h2, client side).

It can send requests that node:http2 clients refuse to send: a body shorter or
longer than its content-length, a RST_STREAM after a partial upload, raw header
lists, a new stream after the server's GOAWAY. It prints ONE JSON document on
stdout, {"events": [...], "error": null}, and also each event as one JSON line
on stderr the moment it is seen (so a caller can react, e.g. send a signal).

Usage: /usr/bin/python3 h2probe.py '<json spec>'

Spec (every key but "port" optional):
{
  "host": "127.0.0.1", "port": 8000, "tls": false,   # tls: ALPN h2, no certificate check
  "timeout": 5.0,                                    # overall deadline (s)
  "enablePush": false,                               # client SETTINGS_ENABLE_PUSH (false: 0, true: 1);
                                                     # when true, PUSH_PROMISEs are accepted and the
                                                     # pushed streams are read like any other stream
  "initialWindow": 65535,                            # client SETTINGS_INITIAL_WINDOW_SIZE (stream-level
                                                     # receive window; the connection window stays 65535)
  "requests": [                                      # sent one after another on ONE connection
    {
      "method": "POST", "path": "/", "authority": "127.0.0.1:PORT", "scheme": "http",
      "headers": [["content-length", "10"]],         # regular fields, sent verbatim, in order
      "data": 5,                                     # int: that many b"x"; str: those latin-1 bytes
      "chunk": 16384,                                # max bytes per DATA frame
      "endStream": true,                             # END_STREAM on the last DATA (or on HEADERS if no data)
      "trailers": [["x-sum", "1"]],                  # after the data: a trailing HEADERS frame, always with
                                                     # END_STREAM (then no DATA/HEADERS before carries it,
                                                     # and endStream is ignored); [] sends an empty block
      "headersDelayMs": 0,                           # pause between HEADERS and the first DATA
      "dataDelayMs": 0,                              # pause between DATA frames, and between the last
                                                     # DATA and the trailers (events are processed)
      "rstDelayMs": 0,                               # pause before the RST_STREAM below
      "rst": 8,                                      # after the data: RST_STREAM with this code
      "hold": ["data", "trailers", "rst"],           # before the first DATA / the trailers / the RST_STREAM:
                                                     # wait for a line on stdin (frames keep being processed)
      "force": false,                                # after a GOAWAY: send the HEADERS frame anyway
                                                     # (raw, bypassing python-h2's closed state; data and
                                                     # trailers follow at once, no delays or holds)
      "wait": "close"                                # before the next request: "close" (this stream ended
                                                     # or reset, and so did every stream it promised),
                                                     # "response" (final head received), "data" (first
                                                     # DATA received), "goaway", "all" (every stream closed,
                                                     # pushed ones included), "none", or a number of ms
    }
  ],
  "linger": "all"                                    # after the last request, same meanings as "wait"
}

Events (in order seen), each with "t" = ms since the connection was opened:
  {"type": "Sent", "what": "headers"|"data"|"trailers"|"rst", "stream": n, "length"?, "code"?, "raw"?}
  {"type": "SendFailed", "stream": n|null, "error": "..."}
  {"type": "Informational", "stream": n, "status": 103, "headers": [[k, v], ...], "neverIndexed": [...]}
  {"type": "ResponseReceived", "stream": n, "status": 200, "headers": [[k, v], ...], "neverIndexed": [...]}
  {"type": "PushPromise", "stream": <parent>, "promised": <promised id>, "headers": [[k, v], ...],
   "neverIndexed": [...]}                            (headers include the pseudo-headers; the pushed
                                                     response then comes as ResponseReceived/DataReceived/
                                                     StreamEnded with "stream" = the promised id)
  {"type": "TrailersReceived", "stream": n}          (kept for compatibility; always followed by:)
  {"type": "Trailers", "stream": n, "headers": [[k, v], ...], "neverIndexed": [...]}
  {"type": "DataReceived", "stream": n, "length": n, "data": "<latin-1, first 256 bytes>"}
  {"type": "StreamEnded", "stream": n}
  {"type": "StreamReset", "stream": n, "error_code": n, "remote": bool}
  {"type": "ConnectionTerminated", "error_code": n, "last_stream_id": n}
  {"type": "SocketClosed"}
  {"type": "Timeout", "phase": "...", "stream"?: n}
  {"type": "Held", "point": "data"|"trailers"|"rst", "stream": n}   (waiting for a stdin line)
  {"type": "ProtocolError", "error": "..."}          (python-h2 rejected a frame; raw parsing from then on)
"headers" leave out the pseudo-headers (":status"), except on PushPromise.
"neverIndexed" lists, once each and in order, the names of the fields of that header
block that arrived as HPACK literals "never indexed" (RFC 7541 6.2.3), read from the
decoded block itself (python-h2's NeverIndexedHeaderTuple), before python-h2's own
normalization (which would mark a joined "cookie" never-indexed).
After a GOAWAY python-h2 refuses every further frame, so the probe parses the
rest of the connection itself (hyperframe) and reports the same event types.
"""
import json
import select
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame as hf

events = []


def main():
    spec = json.loads(sys.argv[1])
    host = spec.get("host", "127.0.0.1")
    port = int(spec["port"])
    deadline = time.monotonic() + float(spec.get("timeout", 5.0))
    t0 = time.monotonic()

    def emit(ev):
        ev["t"] = round((time.monotonic() - t0) * 1000, 1)
        events.append(ev)
        sys.stderr.write(json.dumps(ev) + "\n")
        sys.stderr.flush()

    sock = socket.create_connection((host, port), timeout=max(0.1, deadline - time.monotonic()))
    if spec.get("tls"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname=spec.get("sni", "localhost"))
    sock.setblocking(False)

    def text(x):
        return x.decode("latin-1") if isinstance(x, (bytes, bytearray)) else x

    config = h2.config.H2Configuration(
        client_side=True,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    conn = h2.connection.H2Connection(config=config)
    # The client's SETTINGS: python-h2's own values, with ENABLE_PUSH and INITIAL_WINDOW_SIZE from
    # the spec. A fresh Settings object (before initiate_connection) makes them current at once,
    # not pending an ACK, so streams opened before the ACK get that window as well.
    enable_push = bool(spec.get("enablePush", False))
    local = dict(conn.local_settings.items())
    local[h2.settings.SettingCodes.ENABLE_PUSH] = int(enable_push)
    if spec.get("initialWindow") is not None:
        local[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = int(spec["initialWindow"])
    conn.local_settings = h2.settings.Settings(client=True, initial_values=local)

    # Every header block (python-h2's and the raw parser's) is decoded through this, which
    # records the never-indexed field names of the latest block (see the docstring).
    last_never = []
    hpack_decode = conn.decoder.decode

    def decode_recording(data, raw=False):
        hs = hpack_decode(data, raw=raw)
        names = []
        for h in hs:
            if not getattr(h, "indexable", True):
                name = text(h[0])
                if name not in names:
                    names.append(name)
        last_never[:] = names
        return hs

    conn.decoder.decode = decode_recording
    conn.initiate_connection()

    state = {"closed": False, "terminated": False, "raw": False, "next_sid": 1}
    streams = {}  # stream id -> "open" | "ended" | "reset" | "reset-local" (pushed streams too)
    children = {}  # stream id -> the stream ids it promised (PUSH_PROMISE)
    heads = set()  # streams whose final (non-1xx) response head arrived
    got_data = set()
    inbuf = bytearray()
    outraw = bytearray()

    def flush():
        data = bytes(outraw) + conn.data_to_send()
        outraw.clear()
        if not data or state["closed"]:
            return
        view = memoryview(data)
        while len(view) > 0:
            if time.monotonic() > deadline:
                return
            try:
                n = sock.send(view)
                view = view[n:]
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                select.select([], [sock], [], 0.05)
            except OSError:
                state["closed"] = True
                emit({"type": "SocketClosed"})
                return

    def status_of(hs):
        return next((int(v) for k, v in hs if k == ":status"), None)

    def on_head(sid, header_list):
        hs = [[text(k), text(v)] for k, v in header_list]
        status = status_of(hs)
        heads.add(sid)
        emit({"type": "ResponseReceived", "stream": sid, "status": status,
              "headers": [h for h in hs if not h[0].startswith(":")], "neverIndexed": list(last_never)})

    def on_info(sid, header_list):
        hs = [[text(k), text(v)] for k, v in header_list]
        emit({"type": "Informational", "stream": sid, "status": status_of(hs),
              "headers": [h for h in hs if not h[0].startswith(":")], "neverIndexed": list(last_never)})

    def on_trailers(sid, header_list):
        emit({"type": "TrailersReceived", "stream": sid})
        emit({"type": "Trailers", "stream": sid, "headers": [[text(k), text(v)] for k, v in header_list],
              "neverIndexed": list(last_never)})

    def on_push(parent, promised, header_list):
        emit({"type": "PushPromise", "stream": parent, "promised": promised,
              "headers": [[text(k), text(v)] for k, v in header_list], "neverIndexed": list(last_never)})
        if enable_push:
            streams[promised] = "open"
            children.setdefault(parent, []).append(promised)

    def on_data(sid, data):
        got_data.add(sid)
        emit({"type": "DataReceived", "stream": sid, "length": len(data), "data": bytes(data[:256]).decode("latin-1")})

    def on_end(sid):
        emit({"type": "StreamEnded", "stream": sid})
        streams[sid] = "ended"

    def on_reset(sid, code, remote):
        emit({"type": "StreamReset", "stream": sid, "error_code": int(code), "remote": remote})
        streams[sid] = "reset"

    def on_goaway(code, last):
        emit({"type": "ConnectionTerminated", "error_code": int(code), "last_stream_id": last})
        state["terminated"] = True
        state["raw"] = True

    def handle(ev):
        if isinstance(ev, h2.events.ResponseReceived):
            on_head(ev.stream_id, ev.headers)
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            on_info(ev.stream_id, ev.headers)
        elif isinstance(ev, h2.events.PushedStreamReceived):
            on_push(ev.parent_stream_id, ev.pushed_stream_id, ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            on_data(ev.stream_id, ev.data)
            if ev.flow_controlled_length:
                try:
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                except h2.exceptions.StreamClosedError:
                    conn.increment_flow_control_window(ev.flow_controlled_length)
                except h2.exceptions.ProtocolError:
                    pass
        elif isinstance(ev, h2.events.StreamEnded):
            on_end(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            on_reset(ev.stream_id, ev.error_code, bool(ev.remote_reset))
        elif isinstance(ev, h2.events.ConnectionTerminated):
            on_goaway(ev.error_code, ev.last_stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            on_trailers(ev.stream_id, ev.headers)

    raw_block = {}  # raw mode: a HEADERS/PUSH_PROMISE header block awaiting its CONTINUATION frames

    def raw_header_block(frame, block):
        sid = frame.stream_id
        hs = conn.decoder.decode(block, raw=True)  # always decoded: keeps the HPACK table in sync
        if isinstance(frame, hf.PushPromiseFrame):
            on_push(sid, frame.promised_stream_id, hs)
            return
        status = status_of([[text(k), text(v)] for k, v in hs])
        if sid in heads:
            on_trailers(sid, hs)
        elif status is not None and 100 <= status < 200:
            on_info(sid, hs)
        else:
            on_head(sid, hs)
        if "END_STREAM" in frame.flags:
            on_end(sid)

    def handle_raw(frame_bytes):
        """After GOAWAY: parse one frame with hyperframe."""
        frame, length = hf.Frame.parse_frame_header(memoryview(frame_bytes[:9]))
        frame.parse_body(memoryview(frame_bytes[9:9 + length]))
        sid = frame.stream_id
        flags = frame.flags
        if isinstance(frame, (hf.HeadersFrame, hf.PushPromiseFrame)):
            if "END_HEADERS" in flags:
                raw_header_block(frame, bytes(frame.data))
            else:
                raw_block["frame"] = frame
                raw_block["data"] = bytes(frame.data)
        elif isinstance(frame, hf.ContinuationFrame):
            if raw_block.get("frame") is not None and raw_block["frame"].stream_id == sid:
                raw_block["data"] += bytes(frame.data)
                if "END_HEADERS" in flags:
                    first = raw_block.pop("frame")
                    raw_header_block(first, raw_block.pop("data"))
        elif isinstance(frame, hf.DataFrame):
            on_data(sid, frame.data)
            if frame.flow_controlled_length:
                outraw.extend(hf.WindowUpdateFrame(0, window_increment=frame.flow_controlled_length).serialize())
                if "END_STREAM" not in flags:
                    outraw.extend(hf.WindowUpdateFrame(sid, window_increment=frame.flow_controlled_length).serialize())
            if "END_STREAM" in flags:
                on_end(sid)
        elif isinstance(frame, hf.RstStreamFrame):
            on_reset(sid, frame.error_code, True)
        elif isinstance(frame, hf.GoAwayFrame):
            on_goaway(frame.error_code, frame.last_stream_id)
        elif isinstance(frame, hf.PingFrame) and "ACK" not in flags:
            outraw.extend(hf.PingFrame(0, opaque_data=frame.opaque_data, flags=["ACK"]).serialize())
        elif isinstance(frame, hf.SettingsFrame) and "ACK" not in flags:
            outraw.extend(hf.SettingsFrame(0, flags=["ACK"]).serialize())

    def feed(data):
        # Split into whole frames and feed them one by one, so that frames after
        # a GOAWAY can still be parsed in raw mode.
        inbuf.extend(data)
        while len(inbuf) >= 9:
            length = int.from_bytes(inbuf[0:3], "big")
            if len(inbuf) < 9 + length:
                break
            frame_bytes = bytes(inbuf[:9 + length])
            del inbuf[:9 + length]
            if state["raw"]:
                handle_raw(frame_bytes)
                continue
            try:
                last_never.clear()
                for ev in conn.receive_data(frame_bytes):
                    handle(ev)
            except h2.exceptions.ProtocolError as e:
                emit({"type": "ProtocolError", "error": str(e)})
                state["raw"] = True

    def pump(until, limit):
        """Reads and handles frames until until() is true, the socket closes, or `limit` (monotonic)."""
        while not until():
            if state["closed"]:
                return False
            now = time.monotonic()
            if now >= limit or now >= deadline:
                return False
            try:
                pending = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
                if not pending:
                    r, _, _ = select.select([sock], [], [], min(0.05, limit - now, deadline - now))
                    if not r:
                        continue
                data = sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except OSError:
                data = b""
            if not data:
                state["closed"] = True
                emit({"type": "SocketClosed"})
                return until()
            feed(data)
            flush()
        return True

    def hold(point, sid):
        """Waits for one line on stdin (the caller's go-ahead), handling frames meanwhile."""
        emit({"type": "Held", "point": point, "stream": sid})
        while time.monotonic() < deadline:
            fds = [sys.stdin] + ([] if state["closed"] else [sock])
            r, _, _ = select.select(fds, [], [], min(0.05, max(0.0, deadline - time.monotonic())))
            if sys.stdin in r:
                if sys.stdin.readline() == "":
                    pass  # stdin closed: go ahead as well
                return
            if sock in r:
                pump(lambda: False, time.monotonic() + 0.001)
        emit({"type": "Timeout", "phase": "hold " + point, "stream": sid})

    def wait_ms(ms):
        pump(lambda: False, time.monotonic() + ms / 1000.0)

    def condition(mode, sid):
        if mode == "response":
            return lambda: sid in heads or streams.get(sid) != "open"
        if mode == "data":
            return lambda: sid in got_data or streams.get(sid) != "open"
        if mode == "goaway":
            return lambda: state["terminated"]
        if mode == "all":
            return lambda: all(s != "open" for s in streams.values())
        return lambda: streams.get(sid) != "open" and all(streams.get(c) != "open" for c in children.get(sid, ()))

    def wait_for(mode, sid, phase):
        if mode == "none":
            return
        if isinstance(mode, (int, float)):
            wait_ms(mode)
            return
        cond = condition(mode, sid)
        if not pump(cond, deadline) and not cond() and not state["closed"]:
            emit({"type": "Timeout", "phase": phase, "stream": sid})

    flush()

    last_sid = None
    last_wait = "close"
    requests = spec.get("requests", [])
    for i, req in enumerate(requests):
        if state["closed"] or time.monotonic() >= deadline:
            emit({"type": "SendFailed", "stream": None, "error": "connection closed before request %d" % i})
            break
        pump(lambda: False, time.monotonic())  # handle whatever already arrived (e.g. a GOAWAY)
        sid = state["next_sid"]
        state["next_sid"] += 2
        body = req.get("data", 0)
        body = b"x" * body if isinstance(body, int) else body.encode("latin-1")
        end_stream = req.get("endStream", True)
        trailers = req.get("trailers")
        if trailers is not None:
            trailers = [(k, v) for k, v in trailers]
            end_stream = False  # END_STREAM goes on the trailers
        headers = [
            (":method", req.get("method", "POST" if body else "GET")),
            (":scheme", req.get("scheme", "https" if spec.get("tls") else "http")),
            (":authority", req.get("authority", "%s:%d" % (host, port))),
            (":path", req.get("path", "/")),
        ] + [(k, v) for k, v in req.get("headers", [])]
        if state["raw"]:
            if not req.get("force"):
                emit({"type": "SendFailed", "stream": sid, "error": "GOAWAY received"})
                break
            flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream and not body else [])
            outraw.extend(hf.HeadersFrame(sid, data=conn.encoder.encode(headers), flags=flags).serialize())
            streams[sid] = "open"
            emit({"type": "Sent", "what": "headers", "stream": sid, "raw": True})
            flush()
            if body:
                outraw.extend(hf.DataFrame(sid, data=body, flags=["END_STREAM"] if end_stream else []).serialize())
                emit({"type": "Sent", "what": "data", "stream": sid, "length": len(body), "raw": True})
                flush()
            if trailers is not None:
                outraw.extend(hf.HeadersFrame(sid, data=conn.encoder.encode(trailers),
                                              flags=["END_HEADERS", "END_STREAM"]).serialize())
                emit({"type": "Sent", "what": "trailers", "stream": sid, "raw": True})
                flush()
        else:
            try:
                conn.send_headers(sid, headers, end_stream=end_stream and not body)
            except Exception as e:
                emit({"type": "SendFailed", "stream": sid, "error": "%s: %s" % (type(e).__name__, e)})
                break
            streams[sid] = "open"
            emit({"type": "Sent", "what": "headers", "stream": sid})
            flush()
            if (body or trailers is not None) and req.get("headersDelayMs", 0):
                wait_ms(req["headersDelayMs"])
            if body and "data" in req.get("hold", []):
                hold("data", sid)
            chunk = int(req.get("chunk", 16384))
            delay = req.get("dataDelayMs", 0)
            offset = 0
            failed = False
            while offset < len(body):
                if streams.get(sid) != "open" or state["closed"] or state["raw"]:
                    emit({"type": "SendFailed", "stream": sid, "error": "stream or connection closed after %d bytes" % offset})
                    failed = True
                    break
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, chunk)
                if window <= 0:
                    if not pump(lambda: conn.local_flow_control_window(sid) > 0 or streams.get(sid) != "open"
                                or state["raw"], deadline):
                        emit({"type": "Timeout", "phase": "flow-control", "stream": sid})
                        failed = True
                        break
                    continue
                piece = body[offset:offset + window]
                offset += len(piece)
                last = offset >= len(body)
                try:
                    conn.send_data(sid, piece, end_stream=end_stream and last)
                except Exception as e:
                    emit({"type": "SendFailed", "stream": sid, "error": "%s: %s" % (type(e).__name__, e)})
                    failed = True
                    break
                emit({"type": "Sent", "what": "data", "stream": sid, "length": len(piece)})
                flush()
                if delay and (not last or trailers is not None):
                    wait_ms(delay)
            if not failed and trailers is not None:
                if "trailers" in req.get("hold", []):
                    hold("trailers", sid)
                if state["closed"] or streams.get(sid) in ("reset", "reset-local"):
                    emit({"type": "SendFailed", "stream": sid, "error": "stream or connection closed before the trailers"})
                    failed = True
                elif state["raw"]:  # a GOAWAY arrived meanwhile: python-h2 refuses to send, so raw
                    outraw.extend(hf.HeadersFrame(sid, data=conn.encoder.encode(trailers),
                                                  flags=["END_HEADERS", "END_STREAM"]).serialize())
                    emit({"type": "Sent", "what": "trailers", "stream": sid, "raw": True})
                    flush()
                else:
                    try:
                        conn.send_headers(sid, trailers, end_stream=True)
                        emit({"type": "Sent", "what": "trailers", "stream": sid})
                        flush()
                    except Exception as e:
                        emit({"type": "SendFailed", "stream": sid, "error": "%s: %s" % (type(e).__name__, e)})
                        failed = True
            if not failed and "rst" in req:
                if req.get("rstDelayMs", 0):
                    wait_ms(req["rstDelayMs"])
                if "rst" in req.get("hold", []):
                    hold("rst", sid)
                if streams.get(sid) == "open" and not state["raw"]:
                    try:
                        conn.reset_stream(sid, int(req["rst"]))
                        streams[sid] = "reset-local"
                        emit({"type": "Sent", "what": "rst", "stream": sid, "code": int(req["rst"])})
                        flush()
                    except Exception as e:
                        emit({"type": "SendFailed", "stream": sid, "error": "%s: %s" % (type(e).__name__, e)})
        last_sid = sid
        last_wait = req.get("wait", "close")
        if i < len(requests) - 1:
            wait_for(last_wait, sid, "request %d" % i)

    if last_sid is not None:
        wait_for(spec.get("linger", "all"), last_sid, "linger")

    try:
        if not state["closed"] and not state["raw"]:
            conn.close_connection()
            flush()
        sock.close()
    except Exception:
        pass


if __name__ == "__main__":
    try:
        main()
        out = {"events": events, "error": None}
    except Exception as e:  # report, do not crash: the caller parses stdout
        out = {"events": events, "error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
