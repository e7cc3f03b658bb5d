"""Settings of Order-service: the least Django needs to serve JSON."""

import os

# A demo service on loopback: the key only signs nothing that matters.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "obsdemo-example-order-not-secret")
DEBUG = False
# Loopback here; in a cluster (`obsdemo export kubernetes`) its Service name too.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "order-service"]
ROOT_URLCONF = "order.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
