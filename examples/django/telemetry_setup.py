"""The tracer set-up both services run first thing in manage.py (the original plan).

Kept in one file so the two services cannot drift apart; each manage.py imports it
before Django itself.
"""

import os

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def setup_tracing(default_service_name: str) -> None:
    """Install the tracer provider for this service, exporting over OTLP/gRPC.

    The Collector listens on localhost:4317 (the plan's address). `obsdemo up` and
    `obsdemo run` set OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME for the ports
    actually in use; by hand, the defaults below are the plan's.
    """
    name = os.environ.get("OTEL_SERVICE_NAME", default_service_name)
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    # Export every second, so a request shows in Jaeger almost at once.
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    # Server spans for every request, and `traceparent` on every outgoing call, so one
    # request is one trace across both services.
    DjangoInstrumentor().instrument()
    RequestsInstrumentor().instrument()
