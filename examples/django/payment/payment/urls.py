"""Payment-service: POST /charges authorizes a charge."""

import json

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def charges(request):
    if request.method != "POST":
        return JsonResponse({"error": "POST a charge"}, status=405)
    charge = json.loads(request.body or b"{}")
    return JsonResponse({"order_id": charge.get("order_id"), "status": "authorized"}, status=201)


def healthz(_request):
    return HttpResponse("ok")


urlpatterns = [path("charges", charges), path("healthz", healthz)]
