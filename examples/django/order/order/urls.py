"""Order-service: POST /orders charges the order through Payment-service."""

import itertools
import json
import os

import requests
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

PAYMENT_URL = os.environ.get("PAYMENT_URL", "http://127.0.0.1:8102")
_ids = itertools.count(1)


@csrf_exempt
def orders(request):
    if request.method != "POST":
        return JsonResponse({"error": "POST an order"}, status=405)
    order = json.loads(request.body or b"{}")
    order_id = next(_ids)
    # An outgoing call: the requests instrumentation sends `traceparent`.
    charge = requests.post(
        f"{PAYMENT_URL}/charges",
        json={"order_id": order_id, "amount": order.get("amount", 42)},
        timeout=5,
    )
    status = 201 if charge.ok else 502
    return JsonResponse({"id": order_id, "payment": charge.json()}, status=status)


def healthz(_request):
    return HttpResponse("ok")


urlpatterns = [path("orders", orders), path("healthz", healthz)]
