"""A stand-in for a third-party app in obsdemo's tests, configured the ways real ones are.

Its OpenTelemetry exporter is chosen in code (`--exporter`), as many apps hard-wire
one: it then ignores OTEL_EXPORTER_OTLP_PROTOCOL, while the exporter itself reads
OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_BSP_*.
`--services` makes it name its own services (one tracer provider each, the later ones
called in-process by the first), as a multi-service binary does; otherwise it takes
OTEL_SERVICE_NAME. `--exporter none` is an app with no SDK at all.

Every GET is answered 200 and, with an exporter, is one trace: W3C `traceparent` is
continued when the request carries one.
"""

import argparse
import http.server
import socketserver

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--exporter", choices=["grpc", "http", "none"], required=True)
parser.add_argument("--services", default="")
args = parser.parse_args()

tracers = []
if args.exporter != "none":
    if args.exporter == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    for name in [n for n in args.services.split(",") if n] or [None]:
        provider = TracerProvider(resource=Resource.create({"service.name": name} if name else {}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        tracers.append(provider.get_tracer("obsdemo-test-app"))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        context = propagate.extract(dict(self.headers))
        spans = []
        for i, tracer in enumerate(tracers):
            kind = trace.SpanKind.SERVER if i == 0 else trace.SpanKind.INTERNAL
            span = tracer.start_span(f"GET {self.path}", context=context, kind=kind)
            context = trace.set_span_in_context(span)
            spans.append(span)
        for span in reversed(spans):
            span.end()
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


print(f"serving on 127.0.0.1:{args.port} with exporter {args.exporter}", flush=True)
Server(("127.0.0.1", args.port), Handler).serve_forever()
