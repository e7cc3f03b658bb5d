"""Sends one trace of N spans (default 1,000) over OTLP/gRPC with the OpenTelemetry
Python SDK: a root, with children nested up to five deep across five services, as a
busy request would be. Prints the trace id. Used by benches/console/render.sh."""
import sys, time
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

endpoint, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
providers = []
tracers = []
for name in ["bench-gateway", "bench-orders", "bench-payments", "bench-stock", "bench-mail"]:
    p = TracerProvider(resource=Resource.create({"service.name": name}))
    p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True), max_export_batch_size=512))
    providers.append(p)
    tracers.append(p.get_tracer("bench"))

made = 0
def grow(depth, parent_ctx):
    global made
    while made < n:
        made += 1
        t = tracers[depth % len(tracers)]
        with t.start_as_current_span(f"step-{made}", context=parent_ctx) as span:
            span.set_attribute("bench.index", made)
            if made % 97 == 0:
                span.set_status(trace.Status(trace.StatusCode.ERROR, "simulated"))
            if depth < 4 and made % 3 == 0:
                grow(depth + 1, trace.set_span_in_context(span))
                return

with tracers[0].start_as_current_span("big-request") as root:
    made = 1
    ctx = trace.set_span_in_context(root)
    while made < n:
        grow(1, ctx)
    print(format(root.get_span_context().trace_id, "032x"))
for p in providers:
    p.shutdown()
