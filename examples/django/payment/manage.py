#!/usr/bin/env python
"""Payment-service: a Django service traced with the OpenTelemetry Python SDK."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# First thing, before Django loads: the tracer provider with this service's name.
# (The settings module is named first: the Django instrumentation reads the settings.)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payment.settings")
from telemetry_setup import setup_tracing  # noqa: E402

setup_tracing("Payment-service")

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
