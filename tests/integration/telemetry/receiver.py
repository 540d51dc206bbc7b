"""Collectors on loopback for the telemetry tests: an OTLP/HTTP receiver that decodes what it gets
(opentelemetry-proto, which comes with the exporter), one that accepts connections and never
answers, and a port where nothing listens."""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.listeners import close_listener


@dataclass
class Received:
    traces: list[Any] = field(default_factory=list)  # ExportTraceServiceRequest
    metrics: list[Any] = field(default_factory=list)  # ExportMetricsServiceRequest
    paths: list[str] = field(default_factory=list)

    def spans(self) -> list[Any]:
        return [span for request in self.traces for rs in request.resource_spans for ss in rs.scope_spans
                for span in ss.spans]

    def resources(self) -> list[dict[str, Any]]:
        return [attributes(rs.resource.attributes) for request in self.traces for rs in request.resource_spans]

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of every point of metric ``name`` in every request."""
        points = []
        for request in self.metrics:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name != name:
                            continue
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            points.append((attributes(point.attributes), point))
        return points


def value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return None if kind is None else getattr(any_value, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in pairs}


class OtlpReceiver:
    """POST /v1/traces and /v1/metrics, decoded into :class:`Received`."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
            ExportMetricsServiceResponse,
        )
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        self.received = Received()
        received = self.received
        kinds = {"/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse, received.traces),
                 "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse, received.metrics)}

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                received.paths.append(self.path)
                kind = kinds.get(self.path)
                if kind is None or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(404)
                    self.end_headers()
                    return
                request_type, response_type, into = kind
                message = request_type()
                message.ParseFromString(body)
                into.append(message)
                reply = response_type().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """Accepts connections, reads nothing back, never answers (a hung collector)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        close_listener(self.sock, self.thread)  # first: no connection is accepted after this
        for conn in self.accepted:
            conn.close()


def closed_port() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def spans_by_name(received: Received) -> Iterator[tuple[str, Any]]:
    for span in received.spans():
        yield span.name, span
